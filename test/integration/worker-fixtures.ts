import { spawn, type ChildProcess } from 'node:child_process';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobSpecSchema, type JobSpec, type JobSpecInput } from '../../src/contracts/job-spec.ts';
import { TRAIN_JOB, type TrainingJobData } from '../../src/queue/names.ts';
import { createTrainingQueue, trainingJobOptions, type TrainingQueue } from '../../src/queue/training-queue.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { createJob } from '../../src/redis/job-store.ts';
import { createKeys, type Keys } from '../../src/redis/keys.ts';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

/**
 * Test fixtures for worker processes: jobs submitted through the API's own job store and queue, and worker
 * processes started as real child processes (`tsx workers/training-worker.ts`).
 */

/**
 * A small job: synthetic blobs, an MLP, `epochs` epochs of `iterations` batches of 32. With the WebAssembly/native
 * kernels an epoch of {@link SLOW_ITERATIONS} batches takes about a second here (slow enough to interrupt).
 */
export const SLOW_ITERATIONS = 750;

export function smallSpec(epochs: number, iterations = 150): JobSpec {
  const input: JobSpecInput = {
    name: 'worker-test',
    dataset: { id: 'synthetic-blobs-8', trainSize: 600, testSize: 300, seed: 1 },
    model: { inputShape: [8], layers: [{ type: 'dense', units: 256 }, { type: 'relu' }, { type: 'dense', units: 256 }, { type: 'relu' }, { type: 'dense', units: 4 }], weightInit: 'he' },
    optimizer: { type: 'sgd', learningRate: 0.01 },
    training: { epochs, batchSize: 32, seed: 7, sampling: 'replacement', iterationsPerEpoch: iterations },
  };
  return JobSpecSchema.parse(input);
}

/**
 * Submit a job the way the API does: the record through its job store (`createJob`), the BullMQ job through its
 * training queue (job id = BullMQ id, JOB_ATTEMPTS attempts). `data` replaces the payload (a corrupt one) and is
 * then added with the raw BullMQ queue, since the API's queue refuses to enqueue it.
 */
export async function submit(redis: Redis, tq: TrainingQueue, keys: Keys, jobId: string, spec: JobSpec, opts: { data?: unknown } = {}): Promise<void> {
  await createJob(redis, keys, { id: jobId, spec });
  if (opts.data === undefined) await tq.enqueue({ jobId, spec });
  else await tq.bull?.add(TRAIN_JOB, opts.data as TrainingJobData, trainingJobOptions({ JOB_ATTEMPTS: 3 }, jobId));
}

/** The API's training queue on its own connection; `close()` closes both. */
export function trainingQueue(url: string, keys: Keys): { tq: TrainingQueue; queue: Queue; close(): Promise<void> } {
  const connection = createRedis(url, 'blocking');
  const tq = createTrainingQueue(connection, keys, { JOB_ATTEMPTS: 3 });
  if (!tq.bull) throw new Error('the training queue has no BullMQ queue');
  return {
    tq,
    queue: tq.bull,
    async close() {
      await tq.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/** The epoch numbers of the job's stream, in stream order. */
export async function streamEpochs(redis: Redis, keys: Keys, jobId: string): Promise<number[]> {
  return (await jobEvents(redis, keys, jobId)).filter((e) => e.m.type === 'epoch').map((e) => e.m.epoch as number);
}

/** Every message of a job's stream, parsed, with its entry id. */
export async function jobEvents(redis: Redis, keys: Keys, jobId: string): Promise<{ id: string; m: Record<string, unknown> }[]> {
  const entries = await redis.xrange(keys.jobEvents(jobId), '-', '+');
  return entries.map(([id, fields]) => ({ id, m: JSON.parse(fields[1] ?? '{}') as Record<string, unknown> }));
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface WorkerProcess {
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  /** Kill it if it still runs (SIGKILL) and wait for the exit. */
  kill(): Promise<void>;
}

export function startWorker(env: Record<string, string>): WorkerProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'workers/training-worker.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, LOG_LEVEL: 'info', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '2000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    proc,
    output: () => out,
    exited,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** What {@link workerHarness} gives a test file: its Redis, and a per-test queue with a worker spawner. */
export interface WorkerHarness {
  readonly server: TestRedis;
  readonly redis: Redis;
  /** A fresh key prefix and queue for one test; `spawn()` starts a worker on it and waits until it is ready. */
  setup(prefix: string, grace?: string): Promise<{ keys: Keys; tq: TrainingQueue; queue: Queue; spawn(): Promise<WorkerProcess> }>;
}

/**
 * Registers the hooks of a worker test file: one redis-server for the file, every worker and queue a test
 * started killed and closed after it. Call once at the top level of the file.
 */
export function workerHarness(): WorkerHarness {
  let server: TestRedis | undefined;
  let redis: Redis | undefined;
  let workers: WorkerProcess[] = [];
  let queues: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    server = await startRedis();
    redis = createRedis(server.url);
  }, 20_000);

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await Promise.all(queues.map((q) => q.close()));
    workers = [];
    queues = [];
  }, 20_000);

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  }, 20_000);

  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('workerHarness: used before beforeAll ran');
    return v;
  };

  return {
    get server() {
      return started(server);
    },
    get redis() {
      return started(redis);
    },
    async setup(prefix, grace = '8000') {
      const url = started(server).url;
      const keys = createKeys(`${prefix}${process.pid}`);
      const q = trainingQueue(url, keys);
      queues.push(q);
      return {
        keys,
        tq: q.tq,
        queue: q.queue,
        async spawn() {
          const w = startWorker({ REDIS_URL: url, KEIKO_PREFIX: keys.prefix, SHUTDOWN_GRACE_MS: grace });
          workers.push(w);
          await waitFor('worker ready', async () => w.output().includes('worker ready'), 30_000).catch((e: unknown) => {
            throw new Error(`${(e as Error).message}; worker output:\n${w.output()}`);
          });
          return w;
        },
      };
    },
  };
}
