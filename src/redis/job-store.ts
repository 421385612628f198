import type { Redis } from 'ioredis';
import type { JobSpec } from '../contracts/job-spec.ts';
import { JobSchema, TERMINAL_STATUSES, type Job, type JobStatus, type PersistedMessage, StreamMessageSchema } from '../contracts/job.ts';
import type { EpochMetrics } from '../engine/index.ts';
import { addEventTo } from './events.ts';
import { setStatusTo } from './job-status.ts';
import { IDEMPOTENCY_TTL_SECONDS, type Keys } from './keys.ts';
import { pageNewestFirst, type Page } from './model-store.ts';

/**
 * Job records as the API writes and reads them (layout in keys.ts). Creation writes the hash, the indexes and
 * the `queued` status event in ONE MULTI, so a reader never sees a job without its first event or the reverse.
 * Everything after `queued` (active, epochs, completed…) is written by the worker (run-store.ts), except the
 * cancellation of a job that never started.
 */

/** MULTI answers errors per command instead of rejecting: surface the first one. */
function assertExec(res: [Error | null, unknown][] | null): [Error | null, unknown][] {
  if (!res) throw new Error('Redis transaction aborted');
  for (const [err] of res) if (err) throw err;
  return res;
}

export interface NewJob {
  id: string;
  spec: JobSpec;
  idempotencyKey?: string;
  now?: Date;
}

/** Write a new job as `queued` (hash + `jobs` + per-status index + status event on both streams). */
export async function createJob(redis: Redis, keys: Keys, input: NewJob): Promise<Job> {
  const now = input.now ?? new Date();
  const createdAt = now.toISOString();
  const fields: Record<string, string> = {
    id: input.id,
    spec: JSON.stringify(input.spec),
    createdAt,
    epoch: '0',
    epochs: String(input.spec.training.epochs),
    attempts: '0',
  };
  if (input.spec.name !== undefined) fields.name = input.spec.name;
  if (input.idempotencyKey !== undefined) fields.idempotencyKey = input.idempotencyKey;
  const tx = redis.multi();
  tx.hset(keys.job(input.id), fields);
  tx.zadd(keys.jobs, now.getTime(), input.id);
  setStatusTo(tx, keys, input.id, 'queued', now.getTime());
  addEventTo(tx, keys, { type: 'status', jobId: input.id, status: 'queued', at: createdAt });
  assertExec(await tx.exec());
  return {
    id: input.id,
    ...(input.spec.name !== undefined ? { name: input.spec.name } : {}),
    status: 'queued',
    spec: input.spec,
    progress: { epoch: 0, epochs: input.spec.training.epochs },
    createdAt,
    attempts: 0,
  };
}

/** A job hash read back as a {@link Job} (parsed: Redis is a trust boundary). */
export function jobFromHash(h: Record<string, string>): Job {
  const json = (s: string | undefined) => (s === undefined || s === '' ? undefined : (JSON.parse(s) as unknown));
  const num = (s: string | undefined, d: number) => (s === undefined || s === '' ? d : Number(s));
  const spec = json(h.spec) as JobSpec;
  const candidate = {
    id: h.id,
    name: h.name || undefined,
    status: h.status,
    spec,
    progress: { epoch: num(h.epoch, 0), epochs: num(h.epochs, spec?.training?.epochs ?? 1) },
    latestMetrics: json(h.latest),
    createdAt: h.createdAt,
    startedAt: h.startedAt || undefined,
    finishedAt: h.finishedAt || undefined,
    error: json(h.error),
    modelId: h.modelId || undefined,
    attempts: num(h.attempts, 0),
  };
  return JobSchema.parse(candidate);
}

export async function getJob(redis: Redis, keys: Keys, id: string): Promise<Job | null> {
  const h = await redis.hgetall(keys.job(id));
  if (!h.id) return null;
  return jobFromHash(h);
}

export interface ListJobsOptions {
  status?: JobStatus;
  limit: number;
  cursor?: string;
}

/** Jobs newest first, optionally of one status. The cursor is opaque (model-store's `pageNewestFirst`). */
export async function listJobs(redis: Redis, keys: Keys, opts: ListJobsOptions): Promise<Page<Job>> {
  const index = opts.status ? keys.jobsByStatus(opts.status) : keys.jobs;
  const page = await pageNewestFirst(redis, index, opts.limit, opts.cursor);
  if (page.items.length === 0) return { items: [], nextCursor: page.nextCursor };
  const pipe = redis.pipeline();
  for (const id of page.items) pipe.hgetall(keys.job(id));
  const res = (await pipe.exec()) ?? [];
  const items: Job[] = [];
  for (const [err, h] of res) {
    if (err) throw err;
    const hash = h as Record<string, string>;
    // A job removed between the two reads is skipped rather than reported as null.
    if (hash.id) items.push(jobFromHash(hash));
  }
  return { items, nextCursor: page.nextCursor };
}

// ---------------------------------------------------------------------------------------------- idempotency

export type IdempotencyClaim = { kind: 'claimed' } | { kind: 'existing'; jobId: string } | { kind: 'conflict' };

/**
 * Claim `key` for `jobId` (SET NX, one day). When the key is taken: the same body hash gives the job it made,
 * another body is a conflict.
 */
export async function claimIdempotencyKey(redis: Redis, keys: Keys, key: string, jobId: string, bodyHash: string): Promise<IdempotencyClaim> {
  const value = JSON.stringify({ jobId, bodyHash });
  const ok = await redis.set(keys.idempotency(key), value, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX');
  if (ok === 'OK') return { kind: 'claimed' };
  const raw = await redis.get(keys.idempotency(key));
  // Expired between the two commands: claim again.
  if (raw === null) return claimIdempotencyKey(redis, keys, key, jobId, bodyHash);
  const prev = JSON.parse(raw) as { jobId: string; bodyHash: string };
  return prev.bodyHash === bodyHash ? { kind: 'existing', jobId: prev.jobId } : { kind: 'conflict' };
}

/**
 * Wait for a job record a concurrent request (same Idempotency-Key) is writing right now. Null when it does not
 * appear in time (that request died between claiming the key and writing the job).
 */
export async function waitForJob(redis: Redis, keys: Keys, id: string, timeoutMs = 5000): Promise<Job | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(redis, keys, id);
    if (job || Date.now() >= deadline) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------- cancellation

/** How long a cancellation request is kept for a worker that has not looked yet. */
const CANCEL_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Ask the worker that runs (or is about to run) the job to stop: the `jobCancel(id)` key (checked when an
 * attempt starts) and a message on the `cancel` channel (for the attempt already running), from any API instance.
 */
export async function requestCancel(redis: Redis, keys: Keys, id: string): Promise<void> {
  await redis.set(keys.jobCancel(id), new Date().toISOString(), 'EX', CANCEL_TTL_SECONDS);
  await redis.publish(keys.cancel, id);
}

/**
 * End a job that never started (`queued`) as `cancelled` or `failed`: status, `finishedAt`, `error`, and the status
 * and `done` events, in one MULTI. Call only once no worker can start it (out of BullMQ, or never added). A job
 * that moved on in the meantime is left as it is. Returns the job as it is afterwards (null: unknown).
 */
export async function finishQueuedJob(
  redis: Redis,
  keys: Keys,
  id: string,
  status: 'cancelled' | 'failed',
  error: { code: string; message: string },
  now = new Date(),
): Promise<Job | null> {
  const h = await redis.hgetall(keys.job(id));
  if (!h.id) return null;
  if (h.status !== 'queued') return jobFromHash(h);
  const at = now.toISOString();
  const tx = redis.multi();
  setStatusTo(tx, keys, id, status, Date.parse(h.createdAt ?? at), { finishedAt: at, error: JSON.stringify(error) });
  addEventTo(tx, keys, { type: 'status', jobId: id, status, at, error });
  addEventTo(tx, keys, { type: 'done', jobId: id, status, error });
  assertExec(await tx.exec());
  return getJob(redis, keys, id);
}

export function cancelQueuedJob(redis: Redis, keys: Keys, id: string, now = new Date()): Promise<Job | null> {
  return finishQueuedJob(redis, keys, id, 'cancelled', { code: 'CANCELLED', message: 'cancelled before it started' }, now);
}

export function failQueuedJob(redis: Redis, keys: Keys, id: string, error: { code: string; message: string }): Promise<Job | null> {
  return finishQueuedJob(redis, keys, id, 'failed', error);
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

// ---------------------------------------------------------------------------------------------- event streams

export interface StreamEntry {
  cursor: string;
  message: PersistedMessage;
}

/** Parse XRANGE/XREAD entries (field `m` = JSON) into messages with their cursor; unreadable entries are skipped. */
export function parseEntries(entries: [string, string[]][]): StreamEntry[] {
  const out: StreamEntry[] = [];
  for (const [cursor, fields] of entries) {
    const i = fields.indexOf('m');
    if (i < 0 || i + 1 >= fields.length) continue;
    const parsed = StreamMessageSchema.safeParse({ ...(JSON.parse(fields[i + 1] as string) as object), cursor });
    if (parsed.success && parsed.data.type !== 'progress') out.push({ cursor, message: parsed.data });
  }
  return out;
}

/**
 * Entries of a stream strictly after `after` (exclusive; `-` for the beginning), at most `count` raw entries.
 * `last` is the id of the last raw entry read (also of a skipped, unreadable one), to continue from.
 */
export async function readStreamAfter(redis: Redis, streamKey: string, after: string, count: number): Promise<{ entries: StreamEntry[]; last?: string; raw: number }> {
  const start = after === '-' || after === '0' || after === '0-0' ? '-' : `(${after}`;
  const raw = (await redis.xrange(streamKey, start, '+', 'COUNT', count)) as [string, string[]][];
  return { entries: parseEntries(raw), last: raw[raw.length - 1]?.[0], raw: raw.length };
}

/**
 * The job's per-epoch metrics in epoch order (the `epoch` entries of its event stream). An epoch written twice
 * (an attempt resumed from an earlier checkpoint after a crash) counts once, with its latest values.
 */
export async function getEpochHistory(redis: Redis, keys: Keys, id: string): Promise<EpochMetrics[]> {
  const byEpoch = new Map<number, EpochMetrics>();
  let after = '-';
  for (;;) {
    const page = await readStreamAfter(redis, keys.jobEvents(id), after, 1000);
    for (const { message } of page.entries) {
      if (message.type !== 'epoch') continue;
      const { type: _t, jobId: _j, cursor: _c, ...metrics } = message;
      byEpoch.set(metrics.epoch, metrics);
    }
    if (page.raw < 1000 || page.last === undefined) break;
    after = page.last;
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}
