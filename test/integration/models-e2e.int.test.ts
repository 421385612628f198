import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './api-harness.ts';
import { startWorker, waitFor, type WorkerProcess } from './worker-fixtures.ts';
import { readSafetensors } from '../helpers/safetensors-reader.ts';

/**
 * Through the real service (API + a worker process + redis-server): jobs trained on uploaded datasets (JSON and
 * CSV), a trained model's safetensors downloaded, imported back and predicting the same answers, and a job that
 * starts from a stored model's weights (`model.initFrom`).
 */

let h: Harness;
let worker: WorkerProcess;
beforeAll(async () => {
  h = await startHarness();
  worker = startWorker({ REDIS_URL: h.server.url, KEIKO_PREFIX: h.env.KEIKO_PREFIX, WORKER_MAX_THREADS: '1', LOG_LEVEL: 'warn' });
}, 30_000);
afterAll(async () => {
  await worker?.kill();
  await h?.close();
});

/** Two Gaussian-ish clusters in 2-D, deterministic. */
function points(n: number, offset: number): { x: number[][]; y: number[] } {
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const a = Math.sin((i + offset) * 12.9898) * 0.6;
    const b = Math.cos((i + offset) * 78.233) * 0.6;
    x.push([c === 0 ? -1.5 + a : 1.5 + a, c === 0 ? -1 + b : 1 + b]);
    y.push(c);
  }
  return { x, y };
}

const layers = [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 2 }];

async function runJob(body: Record<string, unknown>): Promise<{ id: string; modelId: string }> {
  const res = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
  expect(res.statusCode, res.body).toBe(202);
  const id = res.json().id as string;
  const job = await waitFor(
    `job ${id}`,
    async () => {
      const j = (await h.api.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json();
      if (j.status === 'failed' || j.status === 'cancelled') throw new Error(`job ${id} ${j.status}: ${JSON.stringify(j.error)}\n${worker.output()}`);
      return j.status === 'completed' ? j : undefined;
    },
    120_000,
    200,
  );
  return { id, modelId: job.modelId as string };
}

const job = (datasetId: string, model: Record<string, unknown>, training: Record<string, unknown> = {}, optimizer: Record<string, unknown> = { type: 'sgd', learningRate: 0.1 }) => ({
  name: `on ${datasetId}`,
  dataset: { id: datasetId },
  model,
  optimizer,
  training: { epochs: 3, batchSize: 8, seed: 5, ...training },
});

async function predict(modelId: string, inputs: number[][]) {
  const res = await h.api.app.inject({ method: 'POST', url: `/v1/models/${modelId}/predict`, payload: { inputs } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().predictions as { class: number; probabilities: number[] }[];
}

describe('models end to end', { timeout: 180_000 }, () => {
  let jsonDataset: string;
  let trained: { id: string; modelId: string };
  const probe = points(10, 1000).x;

  it('trains a short job on an uploaded JSON dataset; the model records the job, dataset and final metrics', async () => {
    const up = await h.api.app.inject({ method: 'POST', url: '/v1/datasets', payload: { name: 'clusters', inputShape: [2], classes: 2, train: points(80, 0), test: points(20, 500) } });
    expect(up.statusCode).toBe(201);
    jsonDataset = up.json().id;
    trained = await runJob(job(jsonDataset, { inputShape: [2], layers }));
    const meta = (await h.api.app.inject({ method: 'GET', url: `/v1/models/${trained.modelId}` })).json();
    expect(meta).toMatchObject({ jobId: trained.id, source: 'job', dataset: { id: jsonDataset }, classes: 2, paramCount: 2 * 8 + 8 + 8 * 2 + 2 });
    expect(meta.metrics.epoch).toBe(3);
    expect(meta.metrics.testAccuracy).toBeGreaterThan(0.8);
  });

  it('trains a short job on an uploaded CSV dataset', async () => {
    const { x, y } = points(100, 0);
    const csv = ['label,a,b', ...x.map((r, i) => `${y[i]},${r[0]},${r[1]}`)].join('\n');
    const up = await h.api.app.inject({ method: 'POST', url: '/v1/datasets?name=clusters-csv&inputShape=2&classes=2&testFraction=0.2', payload: csv, headers: { 'content-type': 'text/csv' } });
    expect(up.statusCode).toBe(201);
    const done = await runJob(job(up.json().id, { preset: 'mlp', hiddenLayers: 1, units: 6 }, { epochs: 2 }));
    const meta = (await h.api.app.inject({ method: 'GET', url: `/v1/models/${done.modelId}` })).json();
    expect(meta.dataset.id).toBe(up.json().id);
    expect(meta.metrics.testAccuracy).toBeGreaterThan(0.7);
  });

  it('round trip: download the trained weights, import them, and the import predicts the same answers', async () => {
    const weights = await h.api.app.inject({ method: 'GET', url: `/v1/models/${trained.modelId}/weights` });
    expect(weights.statusCode).toBe(200);
    const file = readSafetensors(weights.rawPayload);
    expect([...file.tensors.keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(file.tensors.get('0.weight')!.shape).toEqual([2, 8]);
    const meta = (await h.api.app.inject({ method: 'GET', url: `/v1/models/${trained.modelId}` })).json();
    const fd = new FormData();
    fd.append('spec', JSON.stringify(meta.spec));
    fd.append('weights', new Blob([Uint8Array.from(weights.rawPayload)]), 'model.safetensors');
    const body = new Response(fd);
    const imported = await h.api.app.inject({
      method: 'POST',
      url: '/v1/models',
      payload: Buffer.from(await body.arrayBuffer()),
      headers: { 'content-type': body.headers.get('content-type')! },
    });
    expect(imported.statusCode, imported.body).toBe(201);
    expect(await predict(imported.json().id, probe)).toEqual(await predict(trained.modelId, probe));
  });

  it('initFrom: a job starts from a stored model\'s weights (a vanishing learning rate keeps its predictions)', async () => {
    const fromModel = await runJob(job(jsonDataset, { inputShape: [2], layers, initFrom: trained.modelId }, { epochs: 1 }, { type: 'sgd', learningRate: 1e-9 }));
    const fresh = await runJob(job(jsonDataset, { inputShape: [2], layers }, { epochs: 1, seed: 99 }, { type: 'sgd', learningRate: 1e-9 }));
    const base = await predict(trained.modelId, probe);
    const cont = await predict(fromModel.modelId, probe);
    cont.forEach((p, i) => p.probabilities.forEach((v, c) => expect(Math.abs(v - base[i].probabilities[c])).toBeLessThan(1e-5)));
    const other = await predict(fresh.modelId, probe);
    const maxDiff = Math.max(...other.flatMap((p, i) => p.probabilities.map((v, c) => Math.abs(v - base[i].probabilities[c]))));
    expect(maxDiff).toBeGreaterThan(1e-3);
    const meta = (await h.api.app.inject({ method: 'GET', url: `/v1/models/${fromModel.modelId}` })).json();
    expect(meta.initFrom).toBe(trained.modelId);
    expect(meta.spec.initFrom).toBeUndefined();
  });

  it('initFrom is checked at submission: unknown model or another architecture is a 400 naming model.initFrom', async () => {
    const unknown = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: job(jsonDataset, { inputShape: [2], layers, initFrom: 'no-such-model' }) });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors.map((e: { path: string }) => e.path)).toContain('model.initFrom');
    const other = await h.api.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: job(jsonDataset, { inputShape: [2], layers: [{ type: 'dense', units: 9 }, { type: 'relu' }, { type: 'dense', units: 2 }], initFrom: trained.modelId }),
    });
    expect(other.statusCode).toBe(400);
    expect(other.json().errors.map((e: { path: string }) => e.path)).toContain('model.initFrom');
  });
});
