import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, getWeights, LayersModelSpecSchema, Rng } from '../../src/engine/index.ts';
import { ModelWeightsError } from '../../src/models/errors.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { deleteModel, getModelMeta, getModelWeights, InvalidCursorError, listModels, loadModel, saveModel } from '../../src/redis/model-store.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { readSafetensors } from '../helpers/safetensors-reader.ts';

let server: TestRedis;
let redis: Redis;
const keys = createKeys('t-models');

const spec = LayersModelSpecSchema.parse({
  inputShape: [4],
  layers: [{ type: 'dense', units: 5 }, { type: 'batchnorm' }, { type: 'relu' }, { type: 'dense', units: 3 }],
  initFrom: 'parent-model',
});

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
}, 30_000);
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('model store', { timeout: 30_000 }, () => {
  it('saves meta and safetensors bytes, derives shapes and counts, and loads the same tensors back (aligned copies)', async () => {
    const tensors = getWeights(buildModel(spec, new Rng(3)));
    const meta = await saveModel(redis, keys, { spec, jobId: 'job-1', name: 'm', dataset: { id: 'synthetic-blobs' } }, [...tensors].reverse());
    expect(meta).toMatchObject({ source: 'job', jobId: 'job-1', initFrom: 'parent-model', inputShape: [4], classes: 3, paramCount: 4 * 5 + 5 + 5 + 5 + 5 * 3 + 3 });
    expect(meta.spec.initFrom).toBeUndefined();
    expect(meta.layers.map((l) => [l.type, l.outputShape, l.paramCount])).toEqual([
      ['dense', [5], 25],
      ['batchnorm', [5], 10],
      ['relu', [5], 0],
      ['dense', [3], 18],
    ]);
    expect(await getModelMeta(redis, keys, meta.id)).toEqual(meta);

    const file = await getModelWeights(redis, keys, meta.id);
    expect(file!.length).toBe(meta.weightsBytes);
    const read = readSafetensors(file!);
    // Layer order, whatever order they were given in; the spec (without initFrom) in the metadata.
    expect([...read.tensors.keys()]).toEqual(['0.weight', '0.bias', '1.gamma', '1.beta', '1.runningMean', '1.runningVar', '3.weight', '3.bias']);
    expect(JSON.parse(read.metadata!.spec)).toEqual(meta.spec);

    const loaded = await loadModel(redis, keys, meta.id);
    expect(loaded!.meta).toEqual(meta);
    for (const t of tensors) {
      const l = loaded!.tensors.find((u) => u.name === t.name)!;
      expect(l.shape).toEqual(t.shape);
      expect(l.data).toEqual(t.data);
      expect(l.data.byteOffset % 4).toBe(0);
    }
  });

  it('refuses missing, extra and mis-shaped tensors, naming each, and stores nothing', async () => {
    const tensors = getWeights(buildModel(spec, new Rng(3)));
    const bad = tensors.filter((t) => t.name !== '3.bias').map((t) => (t.name === '0.weight' ? { ...t, shape: [5, 4] } : t));
    bad.push({ name: '7.weight', shape: [1], data: new Float32Array(1) });
    const before = await redis.zcard(keys.models);
    const err = await saveModel(redis, keys, { spec }, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelWeightsError);
    expect((err as ModelWeightsError).errors.map((e) => e.path)).toEqual(['weights.0.weight', 'weights.3.bias', 'weights.7.weight']);
    expect((err as ModelWeightsError).errors[0].message).toMatch(/shape \[5, 4\], expected \[4, 5\]/);
    expect(await redis.zcard(keys.models)).toBe(before);
  });

  it('lists newest first in pages whose cursors survive ties, inserts and deletes; deletes', async () => {
    await redis.del(keys.models);
    const tensors = getWeights(buildModel(spec, new Rng(1)));
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const ids: string[] = [];
    // Three share one timestamp: the cursor must still neither skip nor repeat.
    for (const [i, ms] of [0, 1000, 1000, 1000, 2000].entries()) {
      const m = await saveModel(redis, keys, { spec, id: `m${i}`, createdAt: new Date(t0 + ms) }, tensors);
      ids.push(m.id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listModels(redis, keys, { limit: 2, cursor });
      seen.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor;
      if (seen.length === 2) await saveModel(redis, keys, { spec, id: 'late', createdAt: new Date(t0 + 5000) }, tensors);
    } while (cursor);
    expect(seen).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
    expect((await listModels(redis, keys, { limit: 10 })).items.map((m) => m.id)).toEqual(['late', 'm4', 'm3', 'm2', 'm1', 'm0']);
    await expect(listModels(redis, keys, { cursor: 'garbage' })).rejects.toBeInstanceOf(InvalidCursorError);

    expect(await deleteModel(redis, keys, 'm2')).toBe(true);
    expect(await deleteModel(redis, keys, 'm2')).toBe(false);
    expect(await getModelMeta(redis, keys, 'm2')).toBeNull();
    expect(await loadModel(redis, keys, 'm2')).toBeNull();
    expect(await getModelWeights(redis, keys, 'm2')).toBeNull();
    expect((await listModels(redis, keys)).items.map((m) => m.id)).toEqual(['late', 'm4', 'm3', 'm1', 'm0']);
  });
});
