import { spawn, type ChildProcess } from 'node:child_process';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobSpecSchema, type JobSpec, type JobSpecInput } from '../../src/contracts/job-spec.ts';
import { TRAIN_JOB, type TrainingJobData } from '../../src/queue/names.ts';
import { createTrainingQueue, trainingJobOptions, type TrainingQueue } from '../../src/queue/training-queue.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { createJob } from '../../src/redis/job-store.ts';
import type { Keys } from '../../src/redis/keys.ts';

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
