import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/redis/connection.ts';
import type { TrainingQueue } from '../../src/queue/training-queue.ts';
import { requestCancel } from '../../src/redis/job-store.ts';
import { saveDataset } from '../../src/redis/dataset-store.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { jobEvents, SLOW_ITERATIONS, smallSpec, startWorker, streamEpochs, submit, trainingQueue, waitFor, type WorkerProcess } from './worker-fixtures.ts';

// One real redis-server and one real worker process (`tsx workers/training-worker.ts`) for the file.
const keys = createKeys(`wk${process.pid}`);
let server: TestRedis;
let redis: Redis;
let queue: Queue;
let tq: TrainingQueue;
let closeQueue: (() => Promise<void>) | undefined;
let worker: WorkerProcess;

const status = async (id: string) => redis.hget(keys.job(id), 'status');

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url);
  ({ tq, queue, close: closeQueue } = trainingQueue(server.url, keys));
  worker = startWorker({ REDIS_URL: server.url, KEIKO_PREFIX: keys.prefix });
  await waitFor('worker ready', async () => worker.output().includes('worker ready'), 20_000);
}, 30_000);

afterAll(async () => {
  await worker?.kill();
  await closeQueue?.();
  redis?.disconnect();
  await server?.stop();
}, 20_000);

describe('training worker', () => {
  it('runs a job to completed, each epoch once in its stream, and stores its model', async () => {
    await submit(redis, tq, keys, 'ok', smallSpec(3, 40));
    await waitFor('completed', async () => (await status('ok')) === 'completed', 45_000);
    expect(await streamEpochs(redis, keys, 'ok')).toEqual([1, 2, 3]);
    const job = await redis.hgetall(keys.job('ok'));
    expect(job).toMatchObject({ epoch: '3', modelId: 'ok', attempts: '1' });
    expect(job.owner).toBeUndefined();
    const meta = JSON.parse((await redis.hget(keys.model('ok'), 'meta')) ?? '{}') as { jobId?: string; metrics?: { epoch: number } };
    expect(meta).toMatchObject({ jobId: 'ok', metrics: { epoch: 3 } });
    expect(await redis.exists(keys.jobCheckpoint('ok'))).toBe(0);
    const types = (await jobEvents(redis, keys, 'ok')).map((e) => e.m.type);
    expect(types).toEqual(['status', 'status', 'epoch', 'epoch', 'epoch', 'status', 'done']);
    expect((await queue.getJob('ok'))?.returnvalue).toEqual({ modelId: 'ok' });
  }, 60_000);

  it('trains on an uploaded dataset and from a stored model (initFrom); a missing initFrom model fails the job', async () => {
    // A tiny linearly separable upload: class = (x0 > 0), read by the training thread through its own Redis client.
    const make = (n: number) => {
      const x = new Float32Array(n * 2);
      const y = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        x[2 * i] = ((i * 37) % 21) / 10 - 1.05;
        x[2 * i + 1] = ((i * 11) % 13) / 13;
        y[i] = x[2 * i]! > 0 ? 1 : 0;
      }
      return { x, y, n };
    };
    await saveDataset(redis, keys, { id: 'up', name: 'up', format: 'json', inputShape: [2], classes: 2, train: make(200), test: make(50) });
    const spec = smallSpec(2, 20);
    spec.dataset = { id: 'up', seed: 0 };
    spec.model = { inputShape: [2], layers: [{ type: 'dense', units: 8, useBias: true, biasInit: 0 }, { type: 'relu' }, { type: 'dense', units: 2, useBias: true, biasInit: 0 }], weightInit: 'he' };
    await submit(redis, tq, keys, 'upjob', spec);
    await waitFor('completed', async () => (await status('upjob')) === 'completed', 30_000);

    const warm = structuredClone(spec);
    warm.model.initFrom = 'upjob';
    await submit(redis, tq, keys, 'warm', warm);
    await waitFor('completed', async () => (await status('warm')) === 'completed', 30_000);
    const first = async (id: string) => (await jobEvents(redis, keys, id)).find((e) => e.m.type === 'epoch')?.m.trainLoss as number;
    // Starting from the trained weights, the first epoch ends where the first run's two epochs left off, or better.
    expect(await first('warm')).toBeLessThan(await first('upjob'));
    expect(JSON.parse((await redis.hget(keys.model('warm'), 'meta')) ?? '{}')).toMatchObject({ initFrom: 'upjob', jobId: 'warm' });

    const missing = structuredClone(spec);
    missing.model.initFrom = 'no-such-model';
    await submit(redis, tq, keys, 'cold', missing);
    await waitFor('failed', async () => (await status('cold')) === 'failed', 30_000);
    expect(JSON.parse((await redis.hget(keys.job('cold'), 'error')) ?? '{}')).toMatchObject({ code: 'MODEL_NOT_FOUND' });
  }, 60_000);

  it('fails a job whose data does not parse, without retrying it', async () => {
    await submit(redis, tq, keys, 'bad', smallSpec(1, 5), { data: { jobId: 'bad', spec: { dataset: 'nope' } } });
    await waitFor('failed', async () => (await status('bad')) === 'failed', 20_000);
    const error = JSON.parse((await redis.hget(keys.job('bad'), 'error')) ?? '{}') as { code?: string; message?: string };
    expect(error.code).toBe('INVALID_JOB_DATA');
    expect(error.message).toMatch(/spec/);
    const bull = await queue.getJob('bad');
    expect(await bull?.getState()).toBe('failed');
    expect(bull?.attemptsMade).toBe(1);
    expect(await redis.hget(keys.job('bad'), 'attempts')).toBe('0');
  }, 30_000);

  it('fails a job whose dataset does not exist with a clear error, without retrying it', async () => {
    const spec = smallSpec(1, 5);
    spec.dataset.id = 'no-such-dataset';
    await submit(redis, tq, keys, 'nodata', spec);
    await waitFor('failed', async () => (await status('nodata')) === 'failed', 20_000);
    const error = JSON.parse((await redis.hget(keys.job('nodata'), 'error')) ?? '{}') as { code?: string; message?: string };
    expect(error).toMatchObject({ code: 'DATASET_NOT_FOUND' });
    expect(error.message).toContain('no-such-dataset');
    expect((await queue.getJob('nodata'))?.attemptsMade).toBe(1);
  }, 30_000);

  it('cancels a running job at a batch boundary: its thread ends, the job ends cancelled and is not retried', async () => {
    const sub = redis.duplicate();
    const progress: Record<string, unknown>[] = [];
    sub.on('message', (_ch, m: string) => progress.push(JSON.parse(m) as Record<string, unknown>));
    await sub.subscribe(keys.progress);
    await submit(redis, tq, keys, 'cx', smallSpec(50, SLOW_ITERATIONS));
    await waitFor('first epoch', async () => Number(await redis.hget(keys.job('cx'), 'epoch')) >= 1, 30_000);
    // Live batch progress on the `progress` channel (throttled, not persisted).
    await waitFor('progress', async () => progress.length > 0, 5000);
    sub.disconnect();
    expect(progress[0]).toMatchObject({ type: 'progress', jobId: 'cx', batches: SLOW_ITERATIONS });
    expect(await jobEvents(redis, keys, 'cx').then((e) => e.some((x) => x.m.type === 'progress'))).toBe(false);
    const before = worker.output().length;
    // What the API does for a running job: the flag (checked at start and polled) and the pub/sub message.
    await requestCancel(redis, keys, 'cx');
    await waitFor('cancelled', async () => (await status('cx')) === 'cancelled', 15_000);
    const after = worker.output().slice(before);
    expect(after).toMatch(/"jobId":"cx".*"msg":"training thread ended"/);
    expect(Number(await redis.hget(keys.job('cx'), 'epoch'))).toBeLessThan(50);
    const bull = await queue.getJob('cx');
    expect(await bull?.getState()).toBe('failed');
    expect(bull?.attemptsMade).toBe(1);
    const events = await jobEvents(redis, keys, 'cx');
    expect(events.at(-1)?.m).toMatchObject({ type: 'done', status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(await redis.exists(keys.jobCheckpoint('cx'), keys.jobCancel('cx'))).toBe(0);
    // Not retried: a while later it is still cancelled, with one attempt, and the worker lives on.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await status('cx')).toBe('cancelled');
    expect(await redis.hget(keys.job('cx'), 'attempts')).toBe('1');
    expect(worker.proc.exitCode).toBeNull();
  }, 60_000);
});
