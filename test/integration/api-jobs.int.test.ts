import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import { expectedTensors, LayersModelSpecSchema } from '../../src/engine/index.ts';
import { addEventTo } from '../../src/redis/events.ts';
import { saveDataset } from '../../src/redis/dataset-store.ts';
import { saveModel } from '../../src/redis/model-store.ts';
import { canonicalJson } from '../../src/server/routes/jobs.ts';
import { setStatusTo } from '../../src/redis/job-status.ts';
import { startHarness, smallSpec, type Harness } from './api-harness.ts';

// Every test here touches Redis: a hard limit, so a leftover client or a lost message fails fast instead of hanging.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });

// The jobs routes against a real redis-server (and BullMQ on it), through Fastify's inject.
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { MAX_LAYERS: '6', MAX_PARAMS: '5000', MAX_EPOCHS: '50', MAX_BODY_BYTES: '4096' } });
}, 30_000);
afterAll(async () => {
  await h?.close();
}, 30_000);

const post = (body: unknown, headers: Record<string, string> = {}) =>
  h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: body as object, headers });
const get = (url: string, headers: Record<string, string> = {}) => h.api.app.inject({ method: 'GET', url, headers });
const problem = (res: { json(): unknown }) => res.json() as { code: string; status: number; instance: string; errors: { path: string; message: string }[]; detail: string; type: string; title: string };
const paths = (res: { json(): unknown }) => problem(res).errors.map((e) => e.path).sort();

describe('POST /v1/jobs', () => {
  it('accepts a valid spec: 202, Location, the queued job, its record, event and BullMQ entry', async () => {
    const res = await post(smallSpec());
    expect(res.statusCode).toBe(202);
    const job = res.json() as { id: string; status: string; progress: unknown; spec: { optimizer: unknown }; attempts: number };
    expect(res.headers.location).toBe(`/v1/jobs/${job.id}`);
    expect(job).toMatchObject({ status: 'queued', progress: { epoch: 0, epochs: 2 }, attempts: 0, name: 'blobs' });
    expect(await h.redis.hget(h.keys.job(job.id), 'status')).toBe('queued');
    expect(await h.redis.zscore(h.keys.jobsByStatus('queued'), job.id)).not.toBeNull();
    const events = await h.redis.xrange(h.keys.jobEvents(job.id), '-', '+');
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]![1][1]!)).toMatchObject({ type: 'status', status: 'queued', jobId: job.id });
    const bull = await h.api.queue.bull!.getJob(job.id);
    expect(bull?.data).toMatchObject({ jobId: job.id });
    expect(bull?.opts.attempts).toBe(h.env.JOB_ATTEMPTS);
  });

  it('accepts a preset resolved against the dataset', async () => {
    const res = await post(smallSpec({ model: { preset: 'mlp', hiddenLayers: 1, units: 8 } }));
    expect(res.statusCode).toBe(202);
  });

  it('names every bad field at once: unknown fields, "5" for a number, unknown dataset', async () => {
    const res = await post({ ...smallSpec(), extra: true, dataset: { id: 'no-such-set' }, training: { epochs: '5', batchSize: 10, bogus: 1 } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const p = problem(res);
    expect(p).toMatchObject({ code: 'VALIDATION_FAILED', status: 400, title: 'Validation failed' });
    expect(p.instance).toBe(res.headers['x-request-id']);
    expect(paths(res)).toEqual(['dataset.id', 'extra', 'training.bogus', 'training.epochs']);
    expect(p.errors.find((e) => e.path === 'training.epochs')?.message).toMatch(/expected number, received string/);
    expect(p.errors.find((e) => e.path === 'dataset.id')?.message).toMatch(/unknown dataset/);
  });

  it('flattens the model union to the branch the input aims at (layers)', async () => {
    const res = await post(smallSpec({ model: { inputShape: [2], layers: [{ type: 'dense', units: 'x' }, { type: 'nope' }], foo: 1 } }));
    expect(res.statusCode).toBe(400);
    expect(paths(res)).toEqual(['model.foo', 'model.layers.0.units', 'model.layers.1.type']);
  });

  it('flattens the model union to the preset branch when `preset` is present', async () => {
    const res = await post(smallSpec({ model: { preset: 'mlp', units: 'x', zzz: 1 } }));
    expect(paths(res)).toEqual(['model.units', 'model.zzz']);
    const unknownPreset = await post(smallSpec({ model: { preset: 'resnet' } }));
    expect(paths(unknownPreset)).toEqual(['model.preset']);
  });

  it('refuses layer shapes that do not compose, naming model.layers.<i> with the engine message', async () => {
    const res = await post(
      smallSpec({
        dataset: { id: 'synthetic-images', trainSize: 20, testSize: 10 },
        model: { inputShape: [1, 8, 8], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'conv2d', filters: 2, kernelSize: 9 }, { type: 'flatten' }, { type: 'dense', units: 4 }] },
      }),
    );
    expect(res.statusCode).toBe(400);
    const p = problem(res);
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0]!.path).toMatch(/^model\.layers\.1(\.kernelSize)?$/);
    expect(p.errors[0]!.message).toMatch(/layer 1 \(conv2d\)/);
  });

  it('refuses a class count that does not match the dataset, and an input shape that does not', async () => {
    const classes = await post(smallSpec({ model: { inputShape: [2], layers: [{ type: 'dense', units: 5 }] } }));
    expect(problem(classes).errors).toEqual([{ path: 'model.layers.0', message: expect.stringMatching(/5 values but the dataset has 3 classes/) }]);
    const shape = await post(smallSpec({ model: { inputShape: [3], layers: [{ type: 'dense', units: 3 }] } }));
    expect(paths(shape)).toEqual(['model.inputShape']);
    const presetClasses = await post(smallSpec({ model: { preset: 'mlp', classes: 7 } }));
    expect(paths(presetClasses)).toEqual(['model.classes']);
  });

  it('refuses sizes over the limits (layers, parameters, epochs) and datasets asked for too many samples', async () => {
    const many = Array.from({ length: 7 }, () => ({ type: 'relu' }));
    const layers = await post(smallSpec({ model: { inputShape: [2], layers: [...many, { type: 'dense', units: 3 }] }, training: { epochs: 51, batchSize: 10 } }));
    expect(paths(layers)).toEqual(['model.layers', 'training.epochs']);
    const params = await post(smallSpec({ model: { inputShape: [2], layers: [{ type: 'dense', units: 2000 }, { type: 'dense', units: 3 }] } }));
    expect(problem(params).errors).toEqual([{ path: 'model.layers', message: expect.stringMatching(/parameters, at most 5000/) }]);
    const size = await post(smallSpec({ dataset: { id: 'synthetic-blobs', trainSize: 90_000, testSize: 20_000 } }));
    expect(paths(size)).toEqual(['dataset.trainSize']);
  });

  it('accepts initFrom a stored model of the same architecture, refuses another architecture', async () => {
    const spec = LayersModelSpecSchema.parse({ inputShape: [2], layers: [{ type: 'dense', units: 3 }] });
    const tensors = expectedTensors(spec).map((t) => ({ ...t, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }));
    await saveModel(h.redis, h.keys, { id: 'base-model', spec }, tensors);
    const same = await post(smallSpec({ model: { inputShape: [2], layers: [{ type: 'dense', units: 3 }], initFrom: 'base-model' } }));
    expect(same.statusCode).toBe(202);
    const other = await post(smallSpec({ model: { inputShape: [2], layers: [{ type: 'dense', units: 4 }, { type: 'dense', units: 3 }], initFrom: 'base-model' } }));
    expect(problem(other).errors).toEqual([{ path: 'model.initFrom', message: expect.stringMatching(/different architecture: 0\.weight is \[2, 3\] in the stored model, \[2, 4\] here/) }]);
  });

  it('accepts an uploaded dataset and checks the model and sizes against it', async () => {
    const split = (n: number) => ({ x: new Float32Array(n * 4), y: new Uint8Array(n).map((_, i) => i % 2), n });
    const meta = await saveDataset(h.redis, h.keys, { id: 'up-1', name: 'up', format: 'json', inputShape: [4], classes: 2, train: split(10), test: split(5) });
    const model = { inputShape: [4], layers: [{ type: 'dense', units: 2 }] };
    const ok = await post(smallSpec({ dataset: { id: meta.id }, model }));
    expect(ok.statusCode).toBe(202);
    const bad = await post(smallSpec({ dataset: { id: meta.id, trainSize: 11 }, model: { inputShape: [4], layers: [{ type: 'dense', units: 3 }] } }));
    expect(paths(bad)).toEqual(['dataset.trainSize', 'model.layers.0']);
  });

  it('refuses an initFrom model that does not exist', async () => {
    const res = await post(smallSpec({ model: { inputShape: [2], layers: [{ type: 'dense', units: 3 }], initFrom: 'no-such-model' } }));
    expect(problem(res).errors).toEqual([{ path: 'model.initFrom', message: expect.stringMatching(/unknown model/) }]);
  });

  it('answers 413 problem+json for a body over MAX_BODY_BYTES, 400 for bad JSON, 415 for another media type', async () => {
    const big = await post({ ...smallSpec(), name: 'x'.repeat(5000) });
    expect(big.statusCode).toBe(413);
    expect(problem(big).code).toBe('PAYLOAD_TOO_LARGE');
    expect(big.headers['content-type']).toMatch(/problem\+json/);
    const bad = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: '{"a":', headers: { 'content-type': 'application/json' } });
    const empty = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: '', headers: { 'content-type': 'application/json' } });
    expect(empty.statusCode).toBe(400);
    expect(problem(empty).code).toBe('VALIDATION_FAILED');
    const proto = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: '{"__proto__": {"x": 1}}', headers: { 'content-type': 'application/json' } });
    expect(proto.statusCode).toBe(400);
    expect(bad.statusCode).toBe(400);
    expect(problem(bad).code).toBe('INVALID_JSON');
    const text = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: '<job/>', headers: { 'content-type': 'application/xml' } });
    expect(text.statusCode).toBe(415);
    expect(problem(text).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('gives the same job for the same Idempotency-Key and body (any key order), 409 for another body', async () => {
    const spec = smallSpec({ name: 'idem' });
    const a = await post(spec, { 'idempotency-key': 'key-1' });
    const reordered = Object.fromEntries(Object.entries(spec).reverse());
    const b = await post(reordered, { 'idempotency-key': 'key-1' });
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(b.json().id).toBe(a.json().id);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(b.headers.location).toBe(a.headers.location);
    const c = await post({ ...spec, name: 'other' }, { 'idempotency-key': 'key-1' });
    expect(c.statusCode).toBe(409);
    expect(problem(c).code).toBe('IDEMPOTENCY_CONFLICT');
    const ids = await h.redis.zrange(h.keys.jobs, 0, -1);
    expect(ids.filter((id) => id === a.json().id)).toHaveLength(1);
  });

  it('writes the job itself when the request that claimed the key died before writing it', async () => {
    const spec = smallSpec({ name: 'orphan' });
    const hash = createHash('sha256').update(canonicalJson(spec)).digest('hex');
    await h.redis.set(h.keys.idempotency('key-orphan'), JSON.stringify({ jobId: 'orphan-job', bodyHash: hash }));
    const res = await post(spec, { 'idempotency-key': 'key-orphan' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ id: 'orphan-job', status: 'queued' });
    expect(await h.api.queue.bull!.getJob('orphan-job')).toBeDefined();
  });

  it('creates one job for concurrent requests with the same key', async () => {
    const spec = smallSpec({ name: 'race' });
    const res = await Promise.all([1, 2, 3, 4].map(() => post(spec, { 'idempotency-key': 'key-race' })));
    expect(new Set(res.map((r) => r.statusCode))).toEqual(new Set([202]));
    expect(new Set(res.map((r) => r.json().id)).size).toBe(1);
  });
});

describe('GET /v1/jobs', () => {
  let ids: string[] = [];
  beforeAll(async () => {
    // A fresh prefix would be cleaner, but listing is checked on the jobs this file made: newest first.
    ids = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(smallSpec({ name: `page-${i}` }));
      ids.push(res.json().id as string);
      await new Promise((r) => setTimeout(r, 3));
    }
  });

  it('lists newest first with cursor pagination, no overlap, no gap', async () => {
    const all = (await h.redis.zrevrange(h.keys.jobs, 0, -1)) as string[];
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const res = await get(`/v1/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { items: { id: string }[]; nextCursor?: string };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((j) => j.id));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(all);
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
  });

  it('filters by status and defaults the limit to 50', async () => {
    await h.api.app.inject({ method: 'POST', url: `/v1/jobs/${ids[0]}/cancel` });
    const cancelled = (await get('/v1/jobs?status=cancelled')).json() as { items: { id: string; status: string }[] };
    expect(cancelled.items.map((j) => j.id)).toContain(ids[0]);
    expect(cancelled.items.every((j) => j.status === 'cancelled')).toBe(true);
    const queued = (await get('/v1/jobs?status=queued')).json() as { items: { id: string }[] };
    expect(queued.items.map((j) => j.id)).not.toContain(ids[0]);
    const total = await h.redis.zcard(h.keys.jobs);
    expect(((await get('/v1/jobs')).json() as { items: unknown[] }).items).toHaveLength(Math.min(50, total));
  });

  it('refuses bad query values: limit over 500, limit "1e2", an unknown status, an unknown parameter, a forged cursor', async () => {
    for (const q of ['limit=501', 'limit=0', 'limit=1e2', 'status=running', 'foo=1', 'cursor=garbage']) {
      const res = await get(`/v1/jobs?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(problem(res).code).toBe('VALIDATION_FAILED');
      expect(problem(res).errors.length, q).toBeGreaterThan(0);
    }
    expect((await get('/v1/jobs?limit=500')).statusCode).toBe(200);
  });
});

describe('GET /v1/jobs/:id and /metrics', () => {
  it('returns the job, and 404 problem+json for an unknown one', async () => {
    const id = (await post(smallSpec())).json().id as string;
    const res = await get(`/v1/jobs/${id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, status: 'queued' });
    const missing = await get('/v1/jobs/nope');
    expect(missing.statusCode).toBe(404);
    expect(problem(missing)).toMatchObject({ code: 'JOB_NOT_FOUND', status: 404 });
    expect((await get('/v1/jobs/nope/metrics')).statusCode).toBe(404);
  });

  it('returns the per-epoch history as JSON and as CSV on Accept: text/csv', async () => {
    const id = (await post(smallSpec())).json().id as string;
    const tx = h.redis.multi();
    for (const epoch of [1, 2]) {
      addEventTo(tx, h.keys, { type: 'epoch', jobId: id, epoch, iteration: epoch * 6, trainLoss: 1 / epoch, trainAccuracy: 0.5, testLoss: 1.5 / epoch, testAccuracy: 0.25 * epoch, learningRate: 0.1, durationMs: 12, samplesPerSecond: 5000 });
    }
    await tx.exec();
    const json = await get(`/v1/jobs/${id}/metrics`);
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ jobId: id, metrics: [{ epoch: 1, trainLoss: 1 }, { epoch: 2, trainLoss: 0.5 }] });
    const csv = await get(`/v1/jobs/${id}/metrics`, { accept: 'text/csv' });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body).toBe(
      'epoch,iteration,trainLoss,trainAccuracy,testLoss,testAccuracy,learningRate,durationMs,samplesPerSecond\n' +
        '1,6,1,0.5,1.5,0.25,0.1,12,5000\n2,12,0.5,0.5,0.75,0.5,0.1,12,5000\n',
    );
    const both = await get(`/v1/jobs/${id}/metrics`, { accept: 'application/json;q=0.5, text/csv' });
    expect(both.headers['content-type']).toMatch(/^text\/csv/);
  });
});

describe('POST /v1/jobs/:id/cancel', () => {
  it('cancels a queued job at once: out of BullMQ, cancelled, status + done events', async () => {
    const id = (await post(smallSpec())).json().id as string;
    const res = await h.api.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, status: 'cancelled' });
    expect(res.json().finishedAt).toBeDefined();
    expect(await h.api.queue.bull!.getJob(id)).toBeUndefined();
    const types = (await h.redis.xrange(h.keys.jobEvents(id), '-', '+')).map((e) => JSON.parse(e[1][1]!).type);
    expect(types).toEqual(['status', 'status', 'done']);
    // Again (with an empty JSON body, as some clients send): the final state, 200.
    const again = await h.api.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'content-type': 'application/json' }, payload: '' });
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('cancelled');
  });

  it('asks the worker to stop a running job: the cancel key and a message on the cancel channel (202)', async () => {
    const id = (await post(smallSpec())).json().id as string;
    // Simulate a worker that took the job: BullMQ no longer has it waiting, the record says active.
    await h.api.queue.removeQueued(id);
    const tx = h.redis.multi();
    setStatusTo(tx, h.keys, id, 'active', Date.now(), { startedAt: new Date().toISOString() });
    await tx.exec();
    // The job is removed from BullMQ above; re-add a locked stand-in is not needed: status decides.
    const sub = h.redis.duplicate();
    const got = new Promise<string>((resolve) => sub.on('message', (_c: string, m: string) => resolve(m)));
    await sub.subscribe(h.keys.cancel);
    try {
      const res = await h.api.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ id, status: 'active' });
      expect(await got).toBe(id);
      expect(await h.redis.exists(h.keys.jobCancel(id))).toBe(1);
    } finally {
      sub.disconnect();
    }
  });

  it('returns a finished job as it is, and 404 for an unknown one', async () => {
    const id = (await post(smallSpec())).json().id as string;
    await h.api.queue.removeQueued(id);
    const tx = h.redis.multi();
    setStatusTo(tx, h.keys, id, 'completed', Date.now(), { finishedAt: new Date().toISOString(), modelId: 'm1' });
    await tx.exec();
    const res = await h.api.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'completed', modelId: 'm1' });
    expect(await h.redis.exists(h.keys.jobCancel(id))).toBe(0);
    expect((await h.api.app.inject({ method: 'POST', url: '/v1/jobs/nope/cancel' })).statusCode).toBe(404);
  });
});

describe('over a real socket (supertest)', () => {
  it('serves the same routes over HTTP', async () => {
    await h.api.app.server.listening;
    const res = await request(h.api.app.server).post('/v1/jobs').send(smallSpec()).expect(202);
    expect(res.headers.location).toMatch(/^\/v1\/jobs\//);
    await request(h.api.app.server).get(res.headers.location as string).expect(200);
  });
});
