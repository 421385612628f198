import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingQueue } from '../../src/queue/training-queue.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { SLOW_ITERATIONS, smallSpec, startWorker, streamEpochs, submit, trainingQueue, waitFor, type WorkerProcess } from './worker-fixtures.ts';

// WORKER_CONCURRENCY=2: one worker process trains two jobs at once, each in its own thread.
const keys = createKeys(`cc${process.pid}`);
let server: TestRedis;
let redis: Redis;
let tq: TrainingQueue;
let closeQueue: (() => Promise<void>) | undefined;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url);
  ({ tq, close: closeQueue } = trainingQueue(server.url, keys));
}, 20_000);

afterAll(async () => {
  await worker?.kill();
  await closeQueue?.();
  redis?.disconnect();
  await server?.stop();
}, 20_000);

describe('training worker concurrency', () => {
  it('runs WORKER_CONCURRENCY jobs at once in one process, within WORKER_MAX_THREADS', async () => {
    worker = startWorker({ REDIS_URL: server.url, KEIKO_PREFIX: keys.prefix, WORKER_CONCURRENCY: '2', WORKER_MAX_THREADS: '2' });
    await waitFor('worker ready', async () => worker?.output().includes('worker ready'), 20_000);
    const spec = { ...smallSpec(3, SLOW_ITERATIONS / 3), training: { ...smallSpec(3, SLOW_ITERATIONS / 3).training, threads: 2 } };
    await submit(redis, tq, keys, 'a', spec);
    await submit(redis, tq, keys, 'b', spec);
    await waitFor('both active', async () => (await redis.zcard(keys.jobsByStatus('active'))) === 2, 20_000, 20);
    await waitFor('both completed', async () => (await redis.zcard(keys.jobsByStatus('completed'))) === 2, 40_000);
    expect(await streamEpochs(redis, keys, 'a')).toEqual([1, 2, 3]);
    expect(await streamEpochs(redis, keys, 'b')).toEqual([1, 2, 3]);
    // The budget of 2 threads is shared: each of the 2 jobs gets 1 although its spec asks 2.
    const granted = [...worker.output().matchAll(/"threads":(\d+),"kernels"/g)].map((m) => Number(m[1]));
    expect(granted).toEqual([1, 1]);
  }, 60_000);
});
