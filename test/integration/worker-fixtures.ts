import { spawn, type ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobSpecSchema, type JobSpec, type JobSpecInput } from '../../src/contracts/job-spec.ts';
import { TRAINING_QUEUE, TRAIN_JOB } from '../../src/queue/names.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { addEventTo } from '../../src/redis/events.ts';
import { setStatusTo } from '../../src/redis/job-status.ts';
import type { Keys } from '../../src/redis/keys.ts';

/**
 * Test fixtures for worker processes: a job record written with the same helpers the API's job store uses
 * (hash + indexes + `status` event), enqueued on a BullMQ queue with the job id as BullMQ id, and worker
 * processes started as real child processes (`tsx workers/training-worker.ts`).
 */

/** A small job that takes a few seconds: synthetic blobs, an MLP, `epochs` epochs of `iterations` batches. */
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

export async function createJobRecord(redis: Redis, keys: Keys, jobId: string, spec: JobSpec): Promise<void> {
  const createdAt = new Date();
  const tx = redis.multi();
  tx.hset(keys.job(jobId), {
    id: jobId,
    spec: JSON.stringify(spec),
    ...(spec.name ? { name: spec.name } : {}),
    createdAt: createdAt.toISOString(),
    epoch: '0',
    epochs: String(spec.training.epochs),
    attempts: '0',
  });
  tx.zadd(keys.jobs, createdAt.getTime(), jobId);
  setStatusTo(tx, keys, jobId, 'queued', createdAt.getTime());
  addEventTo(tx, keys, { type: 'status', jobId, status: 'queued', at: createdAt.toISOString() });
  await tx.exec();
}

/** A BullMQ queue on the training queue name; `close()` closes the queue and quits its connection. */
export function trainingQueue(url: string, keys: Keys): { queue: Queue; close(): Promise<void> } {
  const connection = createRedis(url, 'blocking');
  const queue = new Queue(TRAINING_QUEUE, { connection, prefix: keys.bullPrefix });
  return {
    queue,
    async close() {
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

export async function submit(redis: Redis, queue: Queue, keys: Keys, jobId: string, spec: JobSpec, opts: { data?: unknown; removeOnComplete?: boolean } = {}): Promise<void> {
  await createJobRecord(redis, keys, jobId, spec);
  await queue.add(TRAIN_JOB, opts.data ?? { jobId, spec }, { jobId, attempts: 3, removeOnComplete: opts.removeOnComplete ?? false });
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
