import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, getWeights, LayersModelSpecSchema, Rng, type NamedTensor } from '../../src/engine/index.ts';
import { encodeSafetensors } from '../../src/models/safetensors.ts';
import { readSafetensors } from '../helpers/safetensors-reader.ts';
import { startHarness, type Harness } from './api-harness.ts';

/** `POST /v1/models`, `GET /v1/models(/:id)(/weights|/onnx)`, predict and delete, against a real redis-server. */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { MAX_UPLOAD_BYTES: '200000', PREDICT_CACHE_SIZE: '2' } });
}, 30_000);
afterAll(async () => {
  await h?.close();
});

const specInput = {
  inputShape: [1, 4, 4],
  layers: [
    { type: 'conv2d', filters: 2, kernelSize: 3, padding: 1 },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'maxpool2d', poolSize: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 3 },
  ],
};
const spec = LayersModelSpecSchema.parse(specInput);

function weights(seed = 1): NamedTensor[] {
  return getWeights(buildModel(spec, new Rng(seed)));
}

async function multipart(fields: Record<string, string | Uint8Array>): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') fd.append(k, v);
    else fd.append(k, new Blob([Uint8Array.from(v)]), `${k}.safetensors`);
  }
  const res = new Response(fd);
  return { payload: Buffer.from(await res.arrayBuffer()), headers: { 'content-type': res.headers.get('content-type')! } };
}

async function importMultipart(fields: Record<string, string | Uint8Array>) {
  const { payload, headers } = await multipart(fields);
  return h.api.app.inject({ method: 'POST', url: '/v1/models', payload, headers });
}

const paths = (res: { json(): unknown }) => (res.json() as { errors: { path: string }[] }).errors.map((e) => e.path);

describe('models API', { timeout: 60_000 }, () => {
  let modelId: string;
  const tensors = weights();

  it('imports a spec + safetensors (multipart) → 201 with shapes and counts; GET shows it', async () => {
    const res = await importMultipart({ spec: JSON.stringify(specInput), weights: encodeSafetensors(tensors), name: 'tiny-cnn' });
    expect(res.statusCode).toBe(201);
    const meta = res.json();
    modelId = meta.id;
    expect(res.headers.location).toBe(`/v1/models/${modelId}`);
    expect(meta).toMatchObject({ name: 'tiny-cnn', source: 'import', inputShape: [1, 4, 4], classes: 3, paramCount: 2 * 9 + 2 + 4 + 8 * 3 + 3 });
    expect(meta.layers.map((l: { outputShape: number[] }) => l.outputShape)).toEqual([[2, 4, 4], [2, 4, 4], [2, 4, 4], [2, 2, 2], [8], [3]]);
    const got = await h.api.app.inject({ method: 'GET', url: `/v1/models/${modelId}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(meta);
  });

  it('downloads the weights as safetensors an independent reader loads, with the spec in __metadata__', async () => {
    const res = await h.api.app.inject({ method: 'GET', url: `/v1/models/${modelId}/weights` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${modelId}.safetensors"`);
    const file = readSafetensors(res.rawPayload);
    expect([...file.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) expect(file.tensors.get(t.name)!.values).toEqual([...t.data]);
    expect(LayersModelSpecSchema.parse(JSON.parse(file.metadata!.spec))).toEqual(spec);
  });

  it('re-imports a downloaded file as JSON with base64 weights and no spec (taken from the file)', async () => {
    const file = (await h.api.app.inject({ method: 'GET', url: `/v1/models/${modelId}/weights` })).rawPayload;
    const res = await h.api.app.inject({ method: 'POST', url: '/v1/models', payload: { weights: file.toString('base64') } });
    expect(res.statusCode).toBe(201);
    expect(res.json().spec).toEqual(spec);
  });

  it('predicts one flat sample and many shaped ones like the engine does; caches the built model', async () => {
    const model = buildModel(spec, new Rng(1));
    const x = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i));
    const expected = model.predict(x, 3);
    const shaped = [0, 1, 2].map((s) => [[0, 1, 2, 3].map((r) => Array.from(x.subarray(s * 16 + r * 4, s * 16 + r * 4 + 4)))]);
    const many = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: shaped } });
    expect(many.statusCode).toBe(200);
    const preds = many.json().predictions as { class: number; probabilities: number[] }[];
    expect(preds).toHaveLength(3);
    preds.forEach((p, s) => {
      const row = Array.from(expected.subarray(s * 3, s * 3 + 3));
      expect(p.probabilities).toEqual(row);
      expect(p.class).toBe(row.indexOf(Math.max(...row)));
    });
    const stats = async () => Number(/cmdstat_hmget:calls=(\d+)/.exec(await h.redis.info('commandstats'))?.[1] ?? 0);
    const before = await stats();
    const one = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: Array.from(x.subarray(16, 32)) } });
    expect(one.statusCode).toBe(200);
    expect(one.json().predictions).toEqual([preds[1]]);
    expect(await stats()).toBe(before); // served from the cache: the weights were not read again
  });

  it('refuses wrong input sizes naming the input index, and unknown fields', async () => {
    const res = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: [new Array(16).fill(0), new Array(15).fill(0), [[[1]]]] } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(paths(res)).toEqual(['inputs.1', 'inputs.2']);
    const extra = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: [[0]], batch: 1 } });
    expect(extra.statusCode).toBe(400);
    expect(paths(extra)).toContain('batch');
    const empty = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: [] } });
    expect(empty.statusCode).toBe(400);
  });

  it('exports ONNX that onnxruntime runs with the same predictions as the predict route', async () => {
    const res = await h.api.app.inject({ method: 'GET', url: `/v1/models/${modelId}/onnx` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${modelId}.onnx"`);
    const session = await ort.InferenceSession.create(res.rawPayload);
    const x = Float32Array.from({ length: 2 * 16 }, (_, i) => Math.cos(i));
    const out = await session.run({ input: new ort.Tensor('float32', x, [2, 1, 4, 4]) });
    const pred = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: [Array.from(x.subarray(0, 16)), Array.from(x.subarray(16))] } });
    const probs = (pred.json().predictions as { probabilities: number[] }[]).flatMap((p) => p.probabilities);
    const onnx = Array.from(out.probabilities.data as Float32Array);
    probs.forEach((p, i) => expect(Math.abs(p - onnx[i])).toBeLessThan(1e-5));
    await session.release();
  });

  it.each([
    ['a missing tensor', () => weights().filter((t) => t.name !== '5.bias'), ['weights.5.bias']],
    ['an extra tensor', () => [...weights(), { name: '9.weight', shape: [1], data: new Float32Array(1) }], ['weights.9.weight']],
    ['a mis-shaped tensor', () => weights().map((t) => (t.name === '5.weight' ? { ...t, shape: [3, 8] } : t)), ['weights.5.weight']],
    ['a non-finite value', () => weights().map((t) => (t.name === '1.gamma' ? { ...t, data: Float32Array.of(1, NaN) } : t)), ['weights.1.gamma']],
  ])('refuses %s with a 400 naming it', async (_t, make, expected) => {
    const res = await importMultipart({ spec: JSON.stringify(specInput), weights: encodeSafetensors(make()) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(paths(res)).toEqual(expected);
  });

  it('refuses bad specs, presets without inputShape/classes, a non-safetensors file, unknown fields, no weights', async () => {
    const badSpec = await importMultipart({ spec: JSON.stringify({ inputShape: [1, 4, 4], layers: [{ type: 'dense', units: 0 }] }), weights: encodeSafetensors(weights()) });
    expect(badSpec.statusCode).toBe(400);
    expect(paths(badSpec)).toEqual(['spec.layers.0.units']);
    const preset = await importMultipart({ spec: JSON.stringify({ preset: 'mlp' }), weights: encodeSafetensors(weights()) });
    expect(paths(preset)).toEqual(['spec.inputShape', 'spec.classes']);
    const shape = await importMultipart({ spec: JSON.stringify({ inputShape: [2], layers: [{ type: 'conv2d', filters: 1, kernelSize: 3 }] }), weights: encodeSafetensors([]) });
    expect(paths(shape)[0]).toMatch(/^spec\.layers\.0/);
    const garbage = await importMultipart({ spec: JSON.stringify(specInput), weights: new Uint8Array([1, 2, 3]) });
    expect(paths(garbage)).toEqual(['weights']);
    const unknown = await importMultipart({ spec: JSON.stringify(specInput), weights: encodeSafetensors(weights()), color: 'red' });
    expect(paths(unknown)).toEqual(['color']);
    const twoFiles = await importMultipart({ spec: JSON.stringify(specInput), weights: encodeSafetensors(weights()), more: encodeSafetensors(weights()) });
    expect(twoFiles.statusCode).toBe(400);
    const none = await importMultipart({ spec: JSON.stringify(specInput) });
    expect(paths(none)).toEqual(['weights']);
    const json = await h.api.app.inject({ method: 'POST', url: '/v1/models', payload: { weights: 'not base64!', extra: 1 } });
    expect(json.statusCode).toBe(400);
    expect(paths(json).sort()).toEqual(['extra', 'weights']);
  });

  it('answers 413 for a file above MAX_UPLOAD_BYTES', async () => {
    const res = await importMultipart({ spec: JSON.stringify(specInput), weights: new Uint8Array(250_000) });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('lists newest first with cursors, and 400 for a bad cursor', async () => {
    const all = await h.api.app.inject({ method: 'GET', url: '/v1/models' });
    const ids = (all.json().items as { id: string }[]).map((m) => m.id);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const p1 = (await h.api.app.inject({ method: 'GET', url: '/v1/models?limit=1' })).json();
    expect(p1.items.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
    const p2 = (await h.api.app.inject({ method: 'GET', url: `/v1/models?limit=1&cursor=${p1.nextCursor}` })).json();
    expect(p2.items.map((m: { id: string }) => m.id)).toEqual([ids[1]]);
    const bad = await h.api.app.inject({ method: 'GET', url: '/v1/models?cursor=zzz' });
    expect(bad.statusCode).toBe(400);
    expect((await h.api.app.inject({ method: 'GET', url: '/v1/models?limit=0' })).statusCode).toBe(400);
  });

  it('deletes: 204, then 404 everywhere (also for a model deleted behind the cache\'s back)', async () => {
    const del = await h.api.app.inject({ method: 'DELETE', url: `/v1/models/${modelId}` });
    expect(del.statusCode).toBe(204);
    for (const [method, url] of [
      ['GET', `/v1/models/${modelId}`],
      ['GET', `/v1/models/${modelId}/weights`],
      ['GET', `/v1/models/${modelId}/onnx`],
      ['DELETE', `/v1/models/${modelId}`],
    ] as const) {
      const res = await h.api.app.inject({ method, url });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('MODEL_NOT_FOUND');
    }
    expect((await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs: [new Array(16).fill(0)] } })).statusCode).toBe(404);

    // Another API instance deletes a model this one has cached: the next predict is a 404, not a stale answer.
    const other = await importMultipart({ spec: JSON.stringify(specInput), weights: encodeSafetensors(weights(2)) });
    const id2 = other.json().id as string;
    expect((await h.api.app.inject({ method: 'POST', url: `/v1/models/${id2}/predict`, payload: { inputs: [new Array(16).fill(0)] } })).statusCode).toBe(200);
    const second = await h.startInstance();
    expect((await second.app.inject({ method: 'DELETE', url: `/v1/models/${id2}` })).statusCode).toBe(204);
    expect((await h.api.app.inject({ method: 'POST', url: `/v1/models/${id2}/predict`, payload: { inputs: [new Array(16).fill(0)] } })).statusCode).toBe(404);
  });
});
