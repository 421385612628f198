import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetNotFoundError, DatasetSizeError } from '../../src/datasets/errors.ts';
import { datasetRefProblems, describeDataset, loadDataset } from '../../src/datasets/resolve.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { deleteDataset, getDatasetMeta, listDatasets, saveDataset } from '../../src/redis/dataset-store.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

let server: TestRedis;
let redis: Redis;
const keys = createKeys('t-datasets');

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
}, 30_000);
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const split = (n: number, off: number) => ({
  x: Float32Array.from({ length: n * 3 }, (_, i) => off + i + 0.25),
  y: Uint8Array.from({ length: n }, (_, i) => i % 2),
  n,
});

describe('dataset store and resolution', { timeout: 30_000 }, () => {
  it('stores F32 LE inputs and U8 labels compactly and loads them back through loadDataset, honouring sizes', async () => {
    const meta = await saveDataset(redis, keys, { name: 'tiny', format: 'json', inputShape: [3], classes: 2, train: split(5, 0), test: split(2, 100) });
    expect(meta).toMatchObject({ name: 'tiny', source: 'upload', trainSize: 5, testSize: 2, bytes: 5 * 12 + 5 + 2 * 12 + 2 });
    // Bytes, not JSON: the first train value 0.25f little-endian.
    const raw = await redis.hgetBuffer(keys.dataset(meta.id), 'trainX');
    expect(raw!.length).toBe(60);
    expect(raw!.readFloatLE(0)).toBe(0.25);
    expect(await getDatasetMeta(redis, keys, meta.id)).toEqual(meta);

    const all = await loadDataset(redis, keys, { id: meta.id });
    expect(all.train.n).toBe(5);
    expect([...all.train.x]).toEqual([...split(5, 0).x]);
    expect([...all.test.y]).toEqual([0, 1]);
    const some = await loadDataset(redis, keys, { id: meta.id, trainSize: 2, testSize: 1 });
    expect([...some.train.x]).toEqual([0.25, 1.25, 2.25, 3.25, 4.25, 5.25]);
    expect(some.test.n).toBe(1);
    await expect(loadDataset(redis, keys, { id: meta.id, trainSize: 6 })).rejects.toBeInstanceOf(DatasetSizeError);

    const desc = await describeDataset(redis, keys, { id: meta.id });
    expect(desc).toEqual({ inputShape: [3], classes: 2, trainSize: 5, testSize: 2, size: 7, source: 'upload' });
    expect(datasetRefProblems(desc!, { id: meta.id, trainSize: 9, testSize: 3 }).map((p) => p.path)).toEqual(['dataset.trainSize', 'dataset.testSize']);
  });

  it('describes and loads built-ins through the engine', async () => {
    const d = await describeDataset(redis, keys, { id: 'synthetic-blobs' });
    expect(d).toMatchObject({ inputShape: [2], classes: 3, source: 'builtin' });
    const s = await loadDataset(redis, keys, { id: 'synthetic-blobs', trainSize: 10, testSize: 4, seed: 1 });
    expect([s.train.n, s.test.n]).toEqual([10, 4]);
    expect(datasetRefProblems((await describeDataset(redis, keys, { id: 'mnist' }))!, { id: 'mnist', trainSize: 9000, testSize: 2000 })).toHaveLength(1);
  });

  it('answers null / DatasetNotFoundError for unknown ids, lists newest first and deletes', async () => {
    expect(await describeDataset(redis, keys, { id: 'nope' })).toBeNull();
    await expect(loadDataset(redis, keys, { id: 'nope' })).rejects.toBeInstanceOf(DatasetNotFoundError);
    const b = await saveDataset(redis, keys, { name: 'second', format: 'csv', inputShape: [3], classes: 2, train: split(1, 0), test: split(1, 0) });
    const list = await listDatasets(redis, keys);
    expect(list.items[0].id).toBe(b.id);
    expect(list.items).toHaveLength(2);
    expect(await deleteDataset(redis, keys, b.id)).toBe(true);
    expect(await deleteDataset(redis, keys, b.id)).toBe(false);
    expect(await describeDataset(redis, keys, { id: b.id })).toBeNull();
    expect((await listDatasets(redis, keys)).items).toHaveLength(1);
  });
});
