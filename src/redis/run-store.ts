import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { TERMINAL_STATUSES, type JobStatus } from '../contracts/job.ts';
import type { EpochMetrics } from '../engine/index.ts';
import { addEventTo, publishProgress } from './events.ts';
import type { PersistedMessage, ProgressMessage } from './events-types.ts';
import { setStatusTo } from './job-status.ts';
import type { Keys } from './keys.ts';

/**
 * The worker side of a job record: every write a worker attempt makes. Each write that reports state is one
 * MULTI holding the state *and* its stream events (events.ts), so a crash between two writes never leaves one
 * without the other, and each is guarded by the attempt's `owner` token in the job hash: `WATCH job`, check
 * the token, then MULTI/EXEC (EXEC answers null and we re-read if anything touched the hash meanwhile). A
 * zombie attempt whose BullMQ lock was lost, and whose job a newer attempt took over, therefore never
 * writes an epoch, a checkpoint or a final status again.
 *
 * NOTE: WATCH is per connection, so `conn` must be a connection this attempt alone uses (the processor
 * duplicates one per job); concurrent jobs sharing a connection would clear each other's WATCH.
 */

/** How often a guarded write re-reads after a concurrent change of the job hash before giving up. */
const MAX_WATCH_RETRIES = 20;

const now = () => new Date().toISOString();

/** MULTI answers errors per command instead of rejecting: surface the first one. */
function assertExec(res: [Error | null, unknown][]): void {
  for (const [err] of res) if (err) throw err;
}

type TxPlan<T> = { abort: T } | { tx: ChainableCommander; result: T };

/** WATCH `watchKeys`, let `plan` read and queue a MULTI (or abort), EXEC; start over when EXEC answers null. */
async function guarded<T>(conn: Redis, watchKeys: string[], plan: () => Promise<TxPlan<T>>): Promise<T> {
  for (let i = 0; i < MAX_WATCH_RETRIES; i++) {
    await conn.watch(...watchKeys);
    let p: TxPlan<T>;
    try {
      p = await plan();
    } catch (e) {
      await conn.unwatch();
      throw e;
    }
    if ('abort' in p) {
      await conn.unwatch();
      return p.abort;
    }
    const res = await p.tx.exec();
    if (res === null) continue;
    assertExec(res);
    return p.result;
  }
  throw new Error(`job record kept changing: gave up after ${MAX_WATCH_RETRIES} tries (${watchKeys.join(', ')})`);
}

/** Creation time in ms: the score of the `jobs` index (what `jobsByStatus` sets use), else the hash's `createdAt`. */
async function createdAtMs(conn: Redis, keys: Keys, jobId: string, createdAt: string | null): Promise<number> {
  const score = await conn.zscore(keys.jobs, jobId);
  if (score !== null) return Number(score);
  const t = createdAt ? Date.parse(createdAt) : NaN;
  return Number.isFinite(t) ? t : Date.now();
}

const isTerminal = (s: string | null): s is JobStatus => s !== null && (TERMINAL_STATUSES as readonly string[]).includes(s);

export type StartResult =
  /** This attempt owns the job now; `epoch` is the last committed epoch (0: none). */
  | { kind: 'started'; owner: string; attempt: number; epoch: number }
  /** No record for this id. */
  | { kind: 'missing' }
  /** The job already ended (e.g. cancelled while queued): nothing to run. */
  | { kind: 'terminal'; status: JobStatus }
  /** Cancellation had been requested before this attempt started: it was recorded as `cancelled`. */
  | { kind: 'cancelled' };

/**
 * Begin an attempt: a new `owner` token (which fences off every earlier attempt), `attempts + 1`, status
 * `active` (with its `status` event when it changes), `startedAt` on the first attempt, and a `log` event when
 * the attempt resumes from a checkpoint. A pending cancellation (`jobCancel`) ends the job `cancelled` instead.
 */
export async function markActive(conn: Redis, keys: Keys, jobId: string): Promise<StartResult> {
  const jobKey = keys.job(jobId);
  return guarded<StartResult>(conn, [jobKey, keys.jobCancel(jobId)], async () => {
    const [status, attempts, epoch, startedAt, createdAt] = await conn.hmget(jobKey, 'status', 'attempts', 'epoch', 'startedAt', 'createdAt');
    if (status === null) return { abort: { kind: 'missing' } };
    if (isTerminal(status)) return { abort: { kind: 'terminal', status } };
    const created = await createdAtMs(conn, keys, jobId, createdAt);
    const at = now();
    const tx = conn.multi();
    if ((await conn.exists(keys.jobCancel(jobId))) === 1) {
      queueFinish(tx, keys, jobId, created, { status: 'cancelled', error: { code: 'CANCELLED', message: 'cancelled before it started' } }, at);
      return { tx, result: { kind: 'cancelled' } };
    }
    const owner = randomUUID();
    const attempt = Number(attempts ?? 0) + 1;
    const lastEpoch = Number(epoch ?? 0);
    setStatusTo(tx, keys, jobId, 'active', created, { owner, attempts: String(attempt), ...(startedAt ? {} : { startedAt: at }) });
    if (status !== 'active') addEventTo(tx, keys, { type: 'status', jobId, status: 'active', at });
    if (lastEpoch > 0) {
      addEventTo(tx, keys, { type: 'log', jobId, level: 'info', message: `attempt ${attempt} resumes from the checkpoint of epoch ${lastEpoch}`, at });
    } else if (status === 'active') {
      addEventTo(tx, keys, { type: 'log', jobId, level: 'warn', message: `attempt ${attempt} restarts the job: the previous attempt stopped before its first epoch`, at });
    }
    return { tx, result: { kind: 'started', owner, attempt, epoch: lastEpoch } };
  });
}

/**
 * Commit one finished epoch, atomically: its `epoch` event on the job's stream (the entry id is the cursor) and
 * the global one, the checkpoint taken right after it, and `epoch`/`latest` in the hash.
 * - `duplicate`: that epoch is already committed (nothing written), so the stream holds each epoch once;
 * - `lost`: another attempt owns the job (nothing written): this attempt must stop.
 */
export async function commitEpoch(conn: Redis, keys: Keys, jobId: string, owner: string, metrics: EpochMetrics, checkpoint: Uint8Array): Promise<'committed' | 'duplicate' | 'lost'> {
  const jobKey = keys.job(jobId);
  const bytes = Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.byteLength);
  return guarded<'committed' | 'duplicate' | 'lost'>(conn, [jobKey], async () => {
    const [current, epoch] = await conn.hmget(jobKey, 'owner', 'epoch');
    if (current !== owner) return { abort: 'lost' };
    const last = Number(epoch ?? 0);
    if (metrics.epoch <= last) return { abort: 'duplicate' };
    if (metrics.epoch !== last + 1) throw new Error(`job ${jobId}: epoch ${metrics.epoch} does not follow the committed epoch ${last}`);
    const tx = conn.multi();
    addEventTo(tx, keys, { type: 'epoch', jobId, ...metrics });
    tx.set(keys.jobCheckpoint(jobId), bytes);
    tx.hset(jobKey, { epoch: String(metrics.epoch), latest: JSON.stringify(metrics) });
    return { tx, result: 'committed' };
  });
}

/**
 * The checkpoint to resume from and the epoch the job hash records, read together. Fresh, aligned bytes (a
 * Buffer from ioredis may sit at any offset of a shared pool: STACK.md), safe to transfer to a thread.
 */
export async function loadCheckpoint(conn: Redis, keys: Keys, jobId: string): Promise<{ epoch: number; bytes: Uint8Array } | null> {
  const res = await conn.multi().getBuffer(keys.jobCheckpoint(jobId)).hget(keys.job(jobId), 'epoch').exec();
  if (!res) throw new Error('Redis transaction aborted');
  assertExec(res);
  const buf = res[0]?.[1] as Buffer | null;
  const epoch = Number((res[1]?.[1] as string | null) ?? 0);
  if (!buf) return null;
  return { epoch, bytes: new Uint8Array(buf) };
}

export type FinalOutcome =
  | { status: 'completed'; modelId: string }
  | { status: 'failed'; error: { code: string; message: string } }
  | { status: 'cancelled'; error?: { code: string; message: string } };

function queueFinish(tx: ChainableCommander, keys: Keys, jobId: string, created: number, outcome: FinalOutcome, at: string): void {
  const fields: Record<string, string> = { finishedAt: at };
  if (outcome.status === 'completed') fields.modelId = outcome.modelId;
  const err = outcome.status === 'completed' ? undefined : outcome.error;
  if (err) fields.error = JSON.stringify(err);
  setStatusTo(tx, keys, jobId, outcome.status, created, fields);
  tx.hdel(keys.job(jobId), 'owner');
  const error = err ? { error: err } : {};
  addEventTo(tx, keys, { type: 'status', jobId, status: outcome.status, at, ...error });
  addEventTo(tx, keys, { type: 'done', jobId, status: outcome.status, ...(outcome.status === 'completed' ? { modelId: outcome.modelId } : {}), ...error });
  tx.del(keys.jobCheckpoint(jobId), keys.jobCancel(jobId));
}

/**
 * End the job: status, `finishedAt`, `modelId` or `error`, the `status` and `done` events, and the checkpoint
 * and cancel flag deleted. With `owner` the write is fenced like {@link commitEpoch} (`lost` when another attempt
 * owns the job); with `null` (a payload too broken to start an attempt) it applies to any job not yet ended.
 */
export async function finish(conn: Redis, keys: Keys, jobId: string, owner: string | null, outcome: FinalOutcome): Promise<'done' | 'lost' | 'already' | 'missing'> {
  const jobKey = keys.job(jobId);
  return guarded<'done' | 'lost' | 'already' | 'missing'>(conn, [jobKey], async () => {
    const [status, current, createdAt] = await conn.hmget(jobKey, 'status', 'owner', 'createdAt');
    if (status === null) return { abort: 'missing' };
    if (owner !== null && current !== owner) return { abort: 'lost' };
    if (isTerminal(status)) return { abort: 'already' };
    const tx = conn.multi();
    queueFinish(tx, keys, jobId, await createdAtMs(conn, keys, jobId, createdAt), outcome, now());
    return { tx, result: 'done' };
  });
}

/**
 * Give the job back to the queue (worker shutdown, or a failed attempt BullMQ will retry): status `queued`, the
 * owner cleared, its `status` event and a `log` event saying why. The checkpoint stays for the next attempt.
 */
export async function requeue(conn: Redis, keys: Keys, jobId: string, owner: string, reason: string, level: 'info' | 'warn' = 'info'): Promise<'done' | 'lost'> {
  const jobKey = keys.job(jobId);
  return guarded<'done' | 'lost'>(conn, [jobKey], async () => {
    const [current, createdAt] = await conn.hmget(jobKey, 'owner', 'createdAt');
    if (current !== owner) return { abort: 'lost' };
    const at = now();
    const tx = conn.multi();
    setStatusTo(tx, keys, jobId, 'queued', await createdAtMs(conn, keys, jobId, createdAt));
    tx.hdel(jobKey, 'owner');
    addEventTo(tx, keys, { type: 'log', jobId, level, message: reason, at });
    addEventTo(tx, keys, { type: 'status', jobId, status: 'queued', at });
    return { tx, result: 'done' };
  });
}

/** Append a `log` event, fenced by the owner token (a zombie's log lines are dropped too). */
export async function appendLog(conn: Redis, keys: Keys, jobId: string, owner: string, level: 'info' | 'warn' | 'error', message: string): Promise<'done' | 'lost'> {
  const jobKey = keys.job(jobId);
  return guarded<'done' | 'lost'>(conn, [jobKey], async () => {
    if ((await conn.hget(jobKey, 'owner')) !== owner) return { abort: 'lost' };
    const msg: PersistedMessage = { type: 'log', jobId, level, message, at: now() };
    return { tx: addEventTo(conn.multi(), keys, msg), result: 'done' };
  });
}

/** True when cancellation of the job was requested (the API sets `jobCancel(id)` and publishes on `cancel`). */
export async function isCancelRequested(redis: Redis, keys: Keys, jobId: string): Promise<boolean> {
  return (await redis.exists(keys.jobCancel(jobId))) === 1;
}

/** Publish a live batch-progress message (not persisted, not fenced: a stale one is harmless). */
export async function publishJobProgress(redis: Redis, keys: Keys, msg: Omit<ProgressMessage, 'type'>): Promise<void> {
  await publishProgress(redis, keys, { type: 'progress', ...msg });
}
