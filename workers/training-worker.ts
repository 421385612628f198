import { Worker } from 'bullmq';
import { pino } from 'pino';
import { loadEnv } from '../src/config/env.ts';
import { TRAINING_QUEUE } from '../src/queue/names.ts';
import { createRedis } from '../src/redis/connection.ts';
import { createKeys } from '../src/redis/keys.ts';
import { finish } from '../src/redis/run-store.ts';
import { JobControls, ThreadBudget } from './job-controls.ts';
import { createTrainingProcessor, type TrainingResult } from './run-training-job.ts';
import { Control } from './thread-protocol.ts';

/**
 * A worker process (`npm run start:worker`): a BullMQ Worker on the `training` queue running WORKER_CONCURRENCY
 * jobs at once, each in its own thread, so this event loop stays free to renew locks and relay epochs.
 *
 * SIGTERM/SIGINT: stop taking jobs; each running job finishes its current epoch (or, after SHUTDOWN_GRACE_MS,
 * stops at the next batch boundary), goes back to the queue, and resumes on another worker from its last
 * committed epoch. Then every connection is closed and the process exits. Shutdown runs once whatever the
 * number of signals, and every cleanup step runs even if one fails (BullMQ's own `close()` pattern).
 */
const env = loadEnv();
const log = pino({ name: 'keiko-worker', level: env.LOG_LEVEL });
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keys = createKeys(env.KEIKO_PREFIX);

// Every connection here waits through a Redis restart instead of failing commands (`maxRetriesPerRequest: null`):
// BullMQ requires it of its own, and an epoch commit should wait for Redis rather than fail the attempt.
const connection = createRedis(redisUrl, 'blocking', { connectionName: 'keiko-worker-bullmq' });
const redis = createRedis(redisUrl, 'blocking', { connectionName: 'keiko-worker' });
const subscriber = createRedis(redisUrl, 'blocking', { connectionName: 'keiko-worker-cancel' });
for (const c of [connection, redis, subscriber]) c.on('error', (e) => log.warn({ err: e.message }, 'redis connection error'));

const controls = new JobControls();
const budget = new ThreadBudget(env.WORKER_MAX_THREADS, env.WORKER_CONCURRENCY);
let shuttingDown = false;

const worker = new Worker<unknown, TrainingResult>(
  TRAINING_QUEUE,
  createTrainingProcessor({ env, keys, redisUrl, redis, controls, budget, log, shuttingDown: () => shuttingDown }),
  {
    connection,
    prefix: keys.bullPrefix,
    concurrency: env.WORKER_CONCURRENCY,
    lockDuration: env.LOCK_DURATION_MS,
    stalledInterval: env.STALLED_INTERVAL_MS,
    // A job whose worker died is moved back to wait by the stalled check; allow that as often as it may be retried.
    maxStalledCount: env.JOB_ATTEMPTS,
  },
);
worker.on('error', (e) => log.error({ err: e.message }, 'worker error'));
worker.on('failed', (job, e) => {
  log.info({ bullJobId: job?.id, reason: e.message }, 'job attempt ended without success');
  // A job whose workers died more often than maxStalledCount is failed by BullMQ itself (a deferred failure),
  // without calling the processor: record it, or the job would show `active` forever.
  if (job?.deferredFailure) void failStalled(typeof job.data === 'object' && job.data && 'jobId' in job.data ? String(job.data.jobId) : String(job.id), job.deferredFailure);
});

async function failStalled(jobId: string, reason: string): Promise<void> {
  const conn = redis.duplicate({ connectionName: 'keiko-worker-stalled' });
  try {
    const message = `its workers stopped without finishing it ${env.JOB_ATTEMPTS + 1} times (${reason})`;
    await finish(conn, keys, jobId, null, { status: 'failed', error: { code: 'STALLED', message } });
    log.warn({ jobId }, 'job failed: stalled too often');
  } catch (e) {
    log.error({ jobId, err: (e as Error).message }, 'could not record a stalled job as failed');
  } finally {
    conn.disconnect();
  }
}
worker.on('lockRenewalFailed', (ids) => log.warn({ ids }, 'could not renew job locks'));

// Cancel requests from any API instance: the API sets `jobCancel(id)` and publishes the id on `cancel`.
subscriber.on('message', (channel, jobId) => {
  if (channel === keys.cancel && controls.request(jobId, Control.Cancel)) log.info({ jobId }, 'cancel requested');
});

let closing: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  closing ??= (async () => {
    shuttingDown = true;
    log.info({ signal, running: controls.ids(), graceMs: env.SHUTDOWN_GRACE_MS }, 'shutting down: running jobs stop after their epoch and resume elsewhere');
    controls.requestAll(Control.Drain);
    const grace = setTimeout(() => controls.requestAll(Control.Stop), env.SHUTDOWN_GRACE_MS);
    const steps: (() => Promise<unknown>)[] = [() => worker.close(), () => subscriber.quit(), () => redis.quit(), () => connection.quit()];
    for (const step of steps) {
      try {
        await step();
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'shutdown step failed');
      }
    }
    clearTimeout(grace);
    log.info('worker stopped');
  })();
  return closing;
}
for (const s of ['SIGTERM', 'SIGINT'] as const) {
  process.on(s, () => {
    // A hard limit: whatever hangs, the process is gone well after the grace period.
    setTimeout(() => process.exit(1), env.SHUTDOWN_GRACE_MS + 15_000).unref();
    void shutdown(s).then(() => process.exit(0));
  });
}

await subscriber.subscribe(keys.cancel);
await worker.waitUntilReady();
log.info({ queue: TRAINING_QUEUE, prefix: keys.prefix, concurrency: env.WORKER_CONCURRENCY, maxThreads: env.WORKER_MAX_THREADS }, 'worker ready');
