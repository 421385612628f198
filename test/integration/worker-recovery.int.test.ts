import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/redis/connection.ts';
import type { TrainingQueue } from '../../src/queue/training-queue.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { jobEvents, SLOW_ITERATIONS, smallSpec, startWorker, streamEpochs, submit, trainingQueue, waitFor, type WorkerProcess } from './worker-fixtures.ts';

// Real worker processes; LOCK_DURATION_MS = STALLED_INTERVAL_MS = 2000 (worker-fixtures.ts), so a
// killed worker's job is taken up again within a few seconds.
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

async function setup(prefix: string): Promise<{ keys: ReturnType<typeof createKeys>; tq: TrainingQueue; queue: Queue; spawn(): Promise<WorkerProcess> }> {
  const keys = createKeys(`${prefix}${process.pid}`);
  const q = trainingQueue(server.url, keys);
  queues.push(q);
  return {
    keys,
    tq: q.tq,
    queue: q.queue,
    async spawn() {
      const w = startWorker({ REDIS_URL: server.url, KEIKO_PREFIX: keys.prefix, SHUTDOWN_GRACE_MS: '8000' });
      workers.push(w);
      await waitFor('worker ready', async () => w.output().includes('worker ready'), 30_000).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; worker output:\n${w.output()}`);
      });
      return w;
    },
  };
}

const EPOCHS = 5;

describe('training worker recovery', () => {
  it('resumes a job from its checkpoint on a second worker after kill -9, no epoch lost or repeated', async () => {
    const { keys, tq, spawn } = await setup('k9');
    const a = await spawn();
    await submit(redis, tq, keys, 'job', smallSpec(EPOCHS, SLOW_ITERATIONS));
    await waitFor('epoch 2 committed', async () => Number(await redis.hget(keys.job('job'), 'epoch')) >= 2, 40_000, 50);
    a.proc.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    const killedAt = Number(await redis.hget(keys.job('job'), 'epoch'));
    expect(killedAt).toBeLessThan(EPOCHS);

    const b = await spawn();
    await waitFor('completed', async () => (await redis.hget(keys.job('job'), 'status')) === 'completed', 50_000);
    const epochs = await streamEpochs(redis, keys, 'job');
    expect(epochs).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(await redis.hget(keys.job('job'), 'attempts')).toBe('2');
    expect(b.output()).toMatch(new RegExp(`"fromEpoch":${killedAt}[,}]`));
    const logs = (await jobEvents(redis, keys, 'job')).filter((e) => e.m.type === 'log').map((e) => e.m.message);
    expect(logs).toContain(`attempt 2 resumes from the checkpoint of epoch ${killedAt}`);

    // The resumed run is the uninterrupted run: the same spec trained in one go gives the same metrics, bit for bit.
    await submit(redis, tq, keys, 'ref', smallSpec(EPOCHS, SLOW_ITERATIONS));
    await waitFor('reference completed', async () => (await redis.hget(keys.job('ref'), 'status')) === 'completed', 30_000);
    const values = async (id: string) =>
      (await jobEvents(redis, keys, id)).filter((e) => e.m.type === 'epoch').map(({ m }) => [m.epoch, m.iteration, m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy]);
    expect(await values('job')).toEqual(await values('ref'));
  }, 60_000);

});
