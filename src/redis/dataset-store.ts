import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DatasetMetaSchema, type DatasetMeta } from '../datasets/meta.ts';
import type { Keys } from './keys.ts';
import { pageNewestFirst, type Page } from './model-store.ts';

/**
 * Uploaded datasets: the hash `dataset(id)` holds `meta` (JSON {@link DatasetMeta}) and four byte arrays —
 * `trainX`/`testX` (Float32 little-endian, samples back to back in NCHW order) and `trainY`/`testY` (one Uint8
 * label per sample). Compact and copied straight into typed arrays; never JSON.
 */

/** One split as plain typed arrays (n samples of `inputShape`). */
export interface RawSplit {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

export interface SaveDatasetInput {
  id?: string;
  name: string;
  format: 'json' | 'csv';
  inputShape: DatasetMeta['inputShape'];
  classes: number;
  train: RawSplit;
  test: RawSplit;
  createdAt?: Date;
}

/** Float32Array → its bytes, little-endian (a view: Buffer.from(float32Array) would copy values, STACK.md). */
function f32Bytes(a: Float32Array): Buffer {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const b = Buffer.alloc(a.length * 4);
  for (let i = 0; i < a.length; i++) b.writeFloatLE(a[i], i * 4);
  return b;
}

/** Bytes from Redis → a fresh, aligned Float32Array (the Buffer's offset in its pool may not be a multiple of 4). */
function bytesF32(b: Buffer): Float32Array {
  const out = new Float32Array(b.length / 4);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) new Uint8Array(out.buffer).set(b);
  else for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

export async function saveDataset(redis: Redis, keys: Keys, input: SaveDatasetInput): Promise<DatasetMeta> {
  const createdAt = input.createdAt ?? new Date();
  const trainX = f32Bytes(input.train.x);
  const testX = f32Bytes(input.test.x);
  const trainY = Buffer.from(input.train.y.buffer, input.train.y.byteOffset, input.train.y.byteLength);
  const testY = Buffer.from(input.test.y.buffer, input.test.y.byteOffset, input.test.y.byteLength);
  const meta = DatasetMetaSchema.parse({
    id: input.id ?? randomUUID(),
    name: input.name,
    source: 'upload',
    format: input.format,
    inputShape: input.inputShape,
    classes: input.classes,
    trainSize: input.train.n,
    testSize: input.test.n,
    bytes: trainX.length + testX.length + trainY.length + testY.length,
    createdAt: createdAt.toISOString(),
  } satisfies Record<keyof DatasetMeta, unknown>);
  const res = await redis
    .multi()
    .hset(keys.dataset(meta.id), 'meta', JSON.stringify(meta), 'trainX', trainX, 'trainY', trainY, 'testX', testX, 'testY', testY)
    .zadd(keys.datasets, createdAt.getTime(), meta.id)
    .exec();
  for (const [err] of res ?? []) if (err) throw err;
  return meta;
}

export async function getDatasetMeta(redis: Redis, keys: Keys, id: string): Promise<DatasetMeta | null> {
  const raw = await redis.hget(keys.dataset(id), 'meta');
  return raw === null ? null : DatasetMetaSchema.parse(JSON.parse(raw));
}

/** Meta and both splits as fresh typed arrays, or null when the dataset does not exist. */
export async function loadDatasetArrays(redis: Redis, keys: Keys, id: string): Promise<{ meta: DatasetMeta; train: RawSplit; test: RawSplit } | null> {
  const [metaB, trainX, trainY, testX, testY] = await redis.hmgetBuffer(keys.dataset(id), 'meta', 'trainX', 'trainY', 'testX', 'testY');
  if (!metaB || !trainX || !trainY || !testX || !testY) return null;
  const meta = DatasetMetaSchema.parse(JSON.parse(metaB.toString('utf8')));
  return {
    meta,
    train: { x: bytesF32(trainX), y: new Uint8Array(trainY), n: meta.trainSize },
    test: { x: bytesF32(testX), y: new Uint8Array(testY), n: meta.testSize },
  };
}

/** Uploaded datasets, newest first. */
export async function listDatasets(redis: Redis, keys: Keys, opts: { limit?: number; cursor?: string } = {}): Promise<Page<DatasetMeta>> {
  const page = await pageNewestFirst(redis, keys.datasets, opts.limit ?? 100, opts.cursor);
  if (page.items.length === 0) return { items: [], nextCursor: page.nextCursor };
  const pipe = redis.pipeline();
  for (const id of page.items) pipe.hget(keys.dataset(id), 'meta');
  const items: DatasetMeta[] = [];
  for (const [err, raw] of (await pipe.exec()) ?? []) {
    if (err) throw err;
    if (typeof raw === 'string') items.push(DatasetMetaSchema.parse(JSON.parse(raw)));
  }
  return { items, nextCursor: page.nextCursor };
}

export async function deleteDataset(redis: Redis, keys: Keys, id: string): Promise<boolean> {
  const res = await redis.multi().del(keys.dataset(id)).zrem(keys.datasets, id).exec();
  for (const [err] of res ?? []) if (err) throw err;
  return (res?.[0]?.[1] as number) > 0;
}
