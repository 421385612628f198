import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/redis/connection.ts';
import type { TrainingQueue } from '../../src/queue/training-queue.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { jobEvents, SLOW_ITERATIONS, smallSpec, startWorker, streamEpochs, submit, trainingQueue, waitFor, type WorkerProcess } from './worker-fixtures.ts';

// SIGTERM of a real worker process mid-job: the job goes back to the queue without consuming an attempt and
// another worker resumes it from the last committed epoch. With a grace period the running epoch is finished
// first; without one the thread stops at the next batch boundary and that epoch is trained again elsewhere.
let server: TestRedis;
let redis: Redis;
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

async function setup(prefix: string, grace: string): Promise<{ keys: ReturnType<typeof createKeys>; tq: TrainingQueue; queue: Queue; spawn(): Promise<WorkerProcess> }> {
  const keys = createKeys(`${prefix}${process.pid}`);
  const q = trainingQueue(server.url, keys);
  queues.push(q);
  return {
    keys,
    tq: q.tq,
    queue: q.queue,
    async spawn() {
      const w = startWorker({ REDIS_URL: server.url, KEIKO_PREFIX: keys.prefix, SHUTDOWN_GRACE_MS: grace });
      workers.push(w);
      await waitFor('worker ready', async () => w.output().includes('worker ready'), 30_000).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; worker output:\n${w.output()}`);
      });
      return w;
    },
  };
}

const EPOCHS = 5;

describe('training worker shutdown', () => {
  it.each([
    { grace: '8000', how: 'after its current epoch' },
    { grace: '0', how: 'at the next batch boundary (grace period over)' },
  ])('on SIGTERM stops the running job $how, exits, and the job resumes on another worker', async ({ grace }) => {
    const { keys, tq, queue, spawn } = await setup(`term${grace}`, grace);
    // Both workers are up before the job exists (so the other one is ready to take over at once); SIGTERM goes to
    // whichever took the job.
    const workersUp = await Promise.all([spawn(), spawn()]);
    await submit(redis, tq, keys, 'job', smallSpec(EPOCHS, SLOW_ITERATIONS));
    await waitFor('epoch 1 committed', async () => Number(await redis.hget(keys.job('job'), 'epoch')) >= 1, 40_000, 50);
    const holder = workersUp.findIndex((w) => w.output().includes('"msg":"attempt started"'));
    expect(holder).toBeGreaterThanOrEqual(0);
    const a = workersUp[holder]!;
    const b = workersUp[1 - holder]!;
    const atSignal = Number(await redis.hget(keys.job('job'), 'epoch'));
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.output()).toContain('shutdown: job returned to the queue');
    const stoppedAt = Number(/"epoch":(\d+),"msg":"shutdown: job returned to the queue"/.exec(a.output())?.[1]);
    // Drain: the epoch running at SIGTERM is finished and committed; no grace: nothing more is committed.
    expect(stoppedAt).toBe(grace === '0' ? atSignal : atSignal + 1);

    await waitFor('completed', async () => (await redis.hget(keys.job('job'), 'status')) === 'completed', 50_000);
    expect(await streamEpochs(redis, keys, 'job')).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(b.output()).toMatch(new RegExp(`"fromEpoch":${stoppedAt}[,}]`));
    const statuses = (await jobEvents(redis, keys, 'job')).filter((e) => e.m.type === 'status').map((e) => e.m.status);
    expect(statuses).toEqual(['queued', 'active', 'queued', 'active', 'completed']);
    // The shutdown did not consume a BullMQ attempt: only the completing attempt counts.
    expect((await queue.getJob('job'))?.attemptsMade).toBe(1);
  }, 60_000);
});
