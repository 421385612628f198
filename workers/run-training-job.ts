import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Env } from '../src/config/env.ts';
import type { JobSpec } from '../src/contracts/job-spec.ts';
import { TrainingJobDataSchema } from '../src/queue/names.ts';
import type { Keys } from '../src/redis/keys.ts';
import { saveModel } from '../src/redis/model-store.ts';
import { commitEpoch, finish, loadCheckpoint, markActive, publishJobProgress, requeue } from '../src/redis/run-store.ts';
import type { JobControls, ThreadBudget } from './job-controls.ts';
import { runTrainingThread, type ThreadOutcome } from './thread-runner.ts';
import { Control } from './thread-protocol.ts';

export interface ProcessorDeps {
  env: Env;
  keys: Keys;
  redisUrl: string;
  /** Shared command connection (progress, watch polls, model save). Each attempt duplicates its own for WATCH. */
  redis: Redis;
  controls: JobControls;
  budget: ThreadBudget;
  log: Logger;
  /** True once the process began shutting down: a job that starts now stops before training. */
  shuttingDown(): boolean;
}

export interface TrainingResult {
  modelId: string;
}

/** How often a running job re-reads its cancel flag and owner token (besides the `cancel` pub/sub message). */
const WATCH_INTERVAL_MS = 1000;
/** Throttle of batch-progress messages. */
const PROGRESS_INTERVAL_MS = 500;

/**
 * The BullMQ processor of training jobs. The payload is parsed again (Redis is a trust boundary); the attempt
 * takes the job record with a new owner token, trains in a worker thread (thread-runner.ts), commits each epoch
 * as it arrives (run-store.ts), and ends the job:
 * - completed: the model is stored under the job's id (a retried save overwrites, never duplicates) and named
 *   in the job as `modelId`;
 * - cancelled: status `cancelled`, then `UnrecoverableError` so BullMQ never retries it;
 * - shutdown (SIGTERM): status back to `queued`, `moveToWait` + `WaitingError` — the job goes back to the head
 *   of the queue without consuming an attempt, and the next worker resumes it from the last committed epoch's
 *   checkpoint (checkpoints are per epoch: the interrupted epoch's batches are run again);
 * - a bad spec, dataset or model, an engine error: failed at once (`UnrecoverableError`);
 * - Redis failing mid-run: an ordinary error, so BullMQ retries (JOB_ATTEMPTS) from the checkpoint.
 * A worker killed outright (kill -9) is covered by BullMQ's stalled-job check, which hands the job to another
 * worker; that attempt resumes from the last committed checkpoint too.
 */
export function createTrainingProcessor(deps: ProcessorDeps) {
  return async function processTrainingJob(job: Job<unknown, TrainingResult>, token?: string, signal?: AbortSignal): Promise<TrainingResult> {
    const { keys } = deps;
    const parsed = TrainingJobDataSchema.safeParse(job.data);
    const rawId = (job.data as { jobId?: unknown } | null)?.jobId;
    const jobId = parsed.success ? parsed.data.jobId : typeof rawId === 'string' && rawId ? rawId : String(job.id);
    const log = deps.log.child({ jobId, bullJobId: job.id });
    // WATCH is per connection: this attempt gets a connection of its own (see run-store.ts).
    const conn = deps.redis.duplicate({ connectionName: 'keiko-attempt' });
    try {
      if (!parsed.success) {
        const message = `invalid job data: ${z.prettifyError(parsed.error)}`;
        log.error({ message }, 'job data does not parse: failing the job');
        await finish(conn, keys, jobId, null, { status: 'failed', error: { code: 'INVALID_JOB_DATA', message } });
        throw new UnrecoverableError(message);
      }
      const start = await markActive(conn, keys, jobId);
      switch (start.kind) {
        case 'missing':
          throw new UnrecoverableError(`no job record for ${jobId}`);
        case 'terminal':
          throw new UnrecoverableError(`job ${jobId} already ended (${start.status})`);
        case 'cancelled':
          log.info('cancelled before it started');
          throw new UnrecoverableError('cancelled');
        case 'started':
          log.info({ attempt: start.attempt, fromEpoch: start.epoch }, 'attempt started');
          return await runAttempt(deps, job, token, signal, conn, jobId, parsed.data.spec, start.owner, start.epoch, log);
      }
    } finally {
      conn.disconnect();
    }
  };
}

async function runAttempt(
  deps: ProcessorDeps,
  job: Job<unknown, TrainingResult>,
  token: string | undefined,
  signal: AbortSignal | undefined,
  conn: Redis,
  jobId: string,
  spec: JobSpec,
  owner: string,
  startEpoch: number,
  log: Logger,
): Promise<TrainingResult> {
  const { keys, redis, controls } = deps;
  const control = controls.add(jobId);
  const onAbort = () => control.request(Control.Cancel);
  signal?.addEventListener('abort', onAbort);
  if (signal?.aborted) onAbort();
  if (deps.shuttingDown()) control.request(Control.Stop);

  // The `cancel` pub/sub message is the fast path; this poll covers a message missed during a reconnect, and
  // notices when a newer attempt took the job over (our lock was lost): then this one stops writing at once.
  let polling = false;
  const watch = setInterval(() => {
    // One poll at a time: while Redis is unreachable they would pile up in the client's offline queue.
    if (polling) return;
    polling = true;
    redis
      .multi()
      .exists(keys.jobCancel(jobId))
      .hget(keys.job(jobId), 'owner')
      .exec()
      .then((res) => {
        if (res?.[0]?.[1] === 1) control.request(Control.Cancel);
        if (res && !res[1]?.[0] && res[1]?.[1] !== owner) control.request(Control.Lost);
      })
      .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'could not poll the cancel flag'))
      .finally(() => (polling = false));
  }, WATCH_INTERVAL_MS);

  const threads = deps.budget.acquire(spec.training.threads);
  let committed = startEpoch;
  try {
    const checkpoint = await loadCheckpoint(conn, keys, jobId);
    if (startEpoch > 0 && checkpoint?.epoch !== startEpoch) {
      const message = `the job recorded epoch ${startEpoch} but its checkpoint is missing or stale`;
      await finish(conn, keys, jobId, owner, { status: 'failed', error: { code: 'CHECKPOINT_MISSING', message } });
      throw new UnrecoverableError(message);
    }
    const outcome = await runTrainingThread(
      {
        jobId,
        spec,
        redisUrl: deps.redisUrl,
        prefix: keys.prefix,
        threads,
        control: control.buffer,
        ...(checkpoint && startEpoch > 0 ? { checkpoint: checkpoint.bytes } : {}),
        progressIntervalMs: PROGRESS_INTERVAL_MS,
      },
      control,
      {
        onReady: (m) => log.info({ threads, kernels: m.kernels, resumedFromEpoch: m.resumedFromEpoch }, 'training'),
        onEpoch: async (m) => {
          const r = await commitEpoch(conn, keys, jobId, owner, m.metrics, m.checkpoint);
          if (r === 'lost') {
            log.warn({ epoch: m.metrics.epoch }, 'another attempt owns the job: stopping without writing');
            control.request(Control.Lost);
            return;
          }
          if (r === 'committed') committed = m.metrics.epoch;
          log.info({ epoch: m.metrics.epoch, result: r, testAccuracy: m.metrics.testAccuracy }, 'epoch');
          await job.updateProgress({ epoch: m.metrics.epoch, epochs: spec.training.epochs });
        },
        onProgress: (m) => {
          // Live only: dropped rather than queued while Redis is unreachable.
          if (redis.status !== 'ready') return;
          const { type: _t, ...p } = m;
          publishJobProgress(redis, keys, { jobId, ...p }).catch(() => undefined);
        },
      },
      log,
    );
    return await conclude(deps, job, token, conn, jobId, spec, owner, control.value, outcome, committed, log);
  } finally {
    clearInterval(watch);
    signal?.removeEventListener('abort', onAbort);
    controls.delete(jobId);
    deps.budget.release(threads);
  }
}

/** Turn what the thread ended with, and why it was asked to stop, into the job's next state. */
async function conclude(
  deps: ProcessorDeps,
  job: Job<unknown, TrainingResult>,
  token: string | undefined,
  conn: Redis,
  jobId: string,
  spec: JobSpec,
  owner: string,
  why: number,
  outcome: ThreadOutcome,
  committed: number,
  log: Logger,
): Promise<TrainingResult> {
  const { keys } = deps;
  if (why === Control.Lost) throw new Error(`job ${jobId}: a newer attempt owns it; this one stopped without writing`);
  const stopped = outcome.type === 'done' && outcome.status === 'aborted';
  if (why === Control.Cancel && (stopped || outcome.type === 'error')) {
    // The same `error` as a job cancelled while queued (the API's job store), so clients see one shape.
    await finish(conn, keys, jobId, owner, { status: 'cancelled', error: { code: 'CANCELLED', message: `cancelled while running, after epoch ${committed}` } });
    log.info({ epoch: committed }, 'cancelled');
    throw new UnrecoverableError('cancelled');
  }
  if (stopped) {
    if (why !== Control.Stop && why !== Control.Drain) throw new Error('training stopped without a request');
    await requeue(conn, keys, jobId, owner, `worker shutting down: the job resumes on another worker from the checkpoint of epoch ${committed}`);
    await job.moveToWait(token);
    log.info({ epoch: committed }, 'shutdown: job returned to the queue');
    throw new WaitingError();
  }
  if (outcome.type === 'error') {
    const error = { code: outcome.code, message: outcome.message };
    const retry = outcome.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    if (retry) {
      await requeue(conn, keys, jobId, owner, `attempt failed (${error.code}: ${error.message}); it will be retried from epoch ${committed}`, 'warn');
      throw new Error(error.message);
    }
    await finish(conn, keys, jobId, owner, { status: 'failed', error });
    log.warn({ error }, 'failed');
    throw new UnrecoverableError(error.message);
  }
  if (!outcome.weights) throw new Error('the thread finished without weights');
  const meta = await saveModel(
    deps.redis,
    keys,
    {
      id: jobId,
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      source: 'job',
      jobId,
      spec: outcome.resolvedSpec,
      ...(outcome.metrics ? { metrics: outcome.metrics } : {}),
      dataset: { id: spec.dataset.id },
    },
    outcome.weights,
  );
  const r = await finish(conn, keys, jobId, owner, { status: 'completed', modelId: meta.id });
  if (r === 'lost') throw new Error(`job ${jobId}: a newer attempt owns it; its model was saved, the status left to that attempt`);
  log.info({ modelId: meta.id, epochs: committed }, 'completed');
  return { modelId: meta.id };
}
