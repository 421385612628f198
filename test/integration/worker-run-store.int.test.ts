import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EpochMetrics } from '../../src/engine/index.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { createJob, requestCancel } from '../../src/redis/job-store.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { commitEpoch, finish, loadCheckpoint, markActive, requeue } from '../../src/redis/run-store.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { jobEvents, smallSpec, streamEpochs } from './worker-fixtures.ts';

// The owner fence of run-store.ts against a real Redis: a zombie attempt (one a newer attempt replaced) never
// writes an epoch, a checkpoint or a final status; an epoch is committed once.
const keys = createKeys(`rs${process.pid}`);
let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url);
}, 20_000);

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
}, 20_000);

const metrics = (epoch: number): EpochMetrics => ({
  epoch,
  iteration: epoch * 10,
  trainLoss: 1 / epoch,
  trainAccuracy: 0.5,
  testLoss: 1 / epoch,
  testAccuracy: 0.5,
  learningRate: 0.01,
  durationMs: 1,
  samplesPerSecond: 1,
});
const bytes = (epoch: number) => new Uint8Array([epoch, 1, 2, 3, 4, 5, 6, 7, 8]);

describe('run-store', () => {
  it('fences off a zombie attempt and commits each epoch once', async () => {
    await createJob(redis, keys, { id: 'z', spec: smallSpec(3, 5) });
    const a = await markActive(redis, keys, 'z');
    if (a.kind !== 'started') throw new Error(a.kind);
    expect(a).toMatchObject({ attempt: 1, epoch: 0 });
    expect(await commitEpoch(redis, keys, 'z', a.owner, metrics(1), bytes(1))).toBe('committed');

    // A second attempt takes over (the first one's lock was lost): it resumes from epoch 1.
    const b = await markActive(redis, keys, 'z');
    if (b.kind !== 'started') throw new Error(b.kind);
    expect(b).toMatchObject({ attempt: 2, epoch: 1 });
    expect(b.owner).not.toBe(a.owner);
    const cp = await loadCheckpoint(redis, keys, 'z');
    expect(cp?.epoch).toBe(1);
    expect([...(cp?.bytes ?? [])]).toEqual([...bytes(1)]);
    expect(cp?.bytes.byteOffset).toBe(0);

    // The zombie's next epoch, and its end, are refused and leave no trace.
    expect(await commitEpoch(redis, keys, 'z', a.owner, metrics(2), bytes(2))).toBe('lost');
    expect(await finish(redis, keys, 'z', a.owner, { status: 'completed', modelId: 'zombie' })).toBe('lost');
    expect(await requeue(redis, keys, 'z', a.owner, 'zombie')).toBe('lost');
    expect(await redis.hget(keys.job('z'), 'epoch')).toBe('1');
    expect((await loadCheckpoint(redis, keys, 'z'))?.bytes[0]).toBe(1);

    // The owner: a repeated epoch is a no-op, a gap is an error, the next epoch commits.
    expect(await commitEpoch(redis, keys, 'z', b.owner, metrics(1), bytes(1))).toBe('duplicate');
    await expect(commitEpoch(redis, keys, 'z', b.owner, metrics(3), bytes(3))).rejects.toThrow(/does not follow/);
    expect(await commitEpoch(redis, keys, 'z', b.owner, metrics(2), bytes(2))).toBe('committed');
    expect(await commitEpoch(redis, keys, 'z', b.owner, metrics(3), bytes(3))).toBe('committed');
    expect(await finish(redis, keys, 'z', b.owner, { status: 'completed', modelId: 'm-z' })).toBe('done');
    expect(await finish(redis, keys, 'z', null, { status: 'failed', error: { code: 'X', message: 'late' } })).toBe('already');

    expect(await streamEpochs(redis, keys, 'z')).toEqual([1, 2, 3]);
    const job = await redis.hgetall(keys.job('z'));
    expect(job).toMatchObject({ status: 'completed', modelId: 'm-z', epoch: '3', attempts: '2' });
    expect(job.owner).toBeUndefined();
    expect(JSON.parse(job.latest ?? '{}')).toMatchObject({ epoch: 3 });
    expect(await redis.exists(keys.jobCheckpoint('z'))).toBe(0);
    expect(await redis.zscore(keys.jobsByStatus('completed'), 'z')).not.toBeNull();
    expect(await redis.zscore(keys.jobsByStatus('active'), 'z')).toBeNull();
    const events = (await jobEvents(redis, keys, 'z')).map((e) => e.m);
    expect(events.filter((m) => m.type === 'log').map((m) => m.message)).toEqual(['attempt 2 resumes from the checkpoint of epoch 1']);
    expect(events.at(-1)).toEqual({ type: 'done', jobId: 'z', status: 'completed', modelId: 'm-z' });
    // Every persisted message also went to the global stream.
    const global = await redis.xrange(keys.events, '-', '+');
    expect(global.filter(([, f]) => (JSON.parse(f[1] ?? '{}') as { jobId?: string }).jobId === 'z')).toHaveLength(events.length);
  }, 20_000);

  it('ends a job cancelled before its attempt started, and reports missing and ended jobs', async () => {
    await createJob(redis, keys, { id: 'c', spec: smallSpec(3, 5) });
    await requestCancel(redis, keys, 'c');
    expect(await markActive(redis, keys, 'c')).toEqual({ kind: 'cancelled' });
    expect(await redis.hget(keys.job('c'), 'status')).toBe('cancelled');
    expect((await jobEvents(redis, keys, 'c')).at(-1)?.m).toMatchObject({ type: 'done', status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(await markActive(redis, keys, 'c')).toEqual({ kind: 'terminal', status: 'cancelled' });
    expect(await markActive(redis, keys, 'nope')).toEqual({ kind: 'missing' });
  }, 20_000);

  it('requeues a job for the next attempt and keeps its checkpoint', async () => {
    await createJob(redis, keys, { id: 'q', spec: smallSpec(3, 5) });
    const a = await markActive(redis, keys, 'q');
    if (a.kind !== 'started') throw new Error(a.kind);
    await commitEpoch(redis, keys, 'q', a.owner, metrics(1), bytes(1));
    expect(await requeue(redis, keys, 'q', a.owner, 'worker shutting down')).toBe('done');
    expect(await redis.hget(keys.job('q'), 'status')).toBe('queued');
    expect(await redis.hget(keys.job('q'), 'owner')).toBeNull();
    expect((await loadCheckpoint(redis, keys, 'q'))?.epoch).toBe(1);
    const statuses = (await jobEvents(redis, keys, 'q')).filter((e) => e.m.type === 'status').map((e) => e.m.status);
    expect(statuses).toEqual(['queued', 'active', 'queued']);
  }, 20_000);
});
