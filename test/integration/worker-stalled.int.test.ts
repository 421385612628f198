import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingQueue } from '../../src/queue/training-queue.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { jobEvents, SLOW_ITERATIONS, smallSpec, startWorker, submit, trainingQueue, waitFor, type WorkerProcess } from './worker-fixtures.ts';

// A job whose workers keep dying: after more stalls than JOB_ATTEMPTS allows, BullMQ fails it without calling the
// processor; the worker that sees it records the failure, so the job does not stay `active` forever.
const keys = createKeys(`st${process.pid}`);
let server: TestRedis;
let redis: Redis;
let tq: TrainingQueue;
let closeQueue: (() => Promise<void>) | undefined;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url);
  ({ tq, close: closeQueue } = trainingQueue(server.url, keys));
}, 20_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await closeQueue?.();
  redis?.disconnect();
  await server?.stop();
}, 20_000);

async function spawn(): Promise<WorkerProcess> {
  const w = startWorker({ REDIS_URL: server.url, KEIKO_PREFIX: keys.prefix, JOB_ATTEMPTS: '1' });
  workers.push(w);
  await waitFor('worker ready', async () => w.output().includes('worker ready'), 30_000);
  return w;
}

describe('training worker, stalled jobs', () => {
  it('fails a job whose workers died more often than JOB_ATTEMPTS allows, with code STALLED', async () => {
    await submit(redis, tq, keys, 'job', smallSpec(50, SLOW_ITERATIONS));
    for (const attempt of [1, 2]) {
      const w = await spawn();
      await waitFor(`attempt ${attempt} trains`, async () => Number(await redis.hget(keys.job('job'), 'attempts')) === attempt && w.output().includes('"msg":"training"'), 30_000, 50);
      w.proc.kill('SIGKILL');
      await w.exited;
    }
    await spawn();
    await waitFor('failed', async () => (await redis.hget(keys.job('job'), 'status')) === 'failed', 30_000);
    const error = JSON.parse((await redis.hget(keys.job('job'), 'error')) ?? '{}') as { code?: string };
    expect(error.code).toBe('STALLED');
    expect((await jobEvents(redis, keys, 'job')).at(-1)?.m).toMatchObject({ type: 'done', status: 'failed', error: { code: 'STALLED' } });
    expect(await (await tq.bull?.getJob('job'))?.getState()).toBe('failed');
  }, 60_000);
});
