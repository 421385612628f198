import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './api-harness.ts';
import { connectStream } from './stream-client.ts';
import { startWorker, waitFor, type WorkerProcess } from './worker-fixtures.ts';

// End to end: the API (in process) and a real worker process (`tsx workers/training-worker.ts`) on one real
// redis-server. A small job goes from POST to `completed`, its epochs streamed live, and can be cancelled.
const hasWorker = existsSync('workers/training-worker.ts');
let h: Harness;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  if (!hasWorker) return;
  h = await startHarness({ listen: true });
  worker = startWorker({ REDIS_URL: h.server.url, KEIKO_PREFIX: h.keys.prefix, LOG_LEVEL: 'info' });
  await waitFor('worker ready', async () => worker!.output().includes('worker ready'), 30_000);
}, 45_000);

afterAll(async () => {
  await worker?.kill();
  await h?.close();
}, 30_000);

const spec = (epochs: number, iterationsPerEpoch: number) => ({
  name: 'e2e',
  dataset: { id: 'synthetic-blobs', trainSize: 120, testSize: 60, seed: 1 },
  model: { inputShape: [2], layers: [{ type: 'dense', units: 16 }, { type: 'relu' }, { type: 'dense', units: 3 }] },
  optimizer: { type: 'adam', learningRate: 0.01 },
  training: { epochs, batchSize: 20, seed: 5, iterationsPerEpoch },
});

describe.skipIf(!hasWorker)('API + worker', () => {
  it('runs a submitted job to completed with every epoch streamed once, then done, then 1000', async () => {
    const res = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec(4, 6) });
    expect(res.statusCode).toBe(202);
    const id = res.json().id as string;
    const c = await connectStream(`${h.api.url!.replace('http', 'ws')}/v1/jobs/${id}/stream`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no done; worker said: ${worker!.output().slice(-2000)}`)), 60_000);
    });
    const closed = await Promise.race([c.closed, timeout]).finally(() => clearTimeout(timer));
    expect(closed.code).toBe(1000);
    const persisted = c.messages.filter((m) => m.type !== 'progress');
    expect(persisted.filter((m) => m.type === 'epoch').map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
    expect(persisted.filter((m) => m.type === 'status').map((m) => m.status)).toEqual(['queued', 'active', 'completed']);
    const done = persisted.at(-1)!;
    expect(done).toMatchObject({ type: 'done', status: 'completed' });
    const job = (await h.api.app.inject(`/v1/jobs/${id}`)).json();
    expect(job).toMatchObject({ status: 'completed', progress: { epoch: 4, epochs: 4 }, modelId: done.modelId, latestMetrics: { epoch: 4 } });
    const metrics = (await h.api.app.inject(`/v1/jobs/${id}/metrics`)).json() as { metrics: { epoch: number }[] };
    expect(metrics.metrics.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
  }, 90_000);

  it('cancels a running job through Redis: it ends cancelled and the stream closes with done', async () => {
    const res = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec(500, 50) });
    const id = res.json().id as string;
    const c = await connectStream(`${h.api.url!.replace('http', 'ws')}/v1/jobs/${id}/stream`);
    await c.until((m) => m.some((x) => x.type === 'epoch'), 60_000);
    const cancel = await h.api.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect([200, 202]).toContain(cancel.statusCode);
    expect((await c.closed).code).toBe(1000);
    expect(c.messages.at(-1)).toMatchObject({ type: 'done', status: 'cancelled' });
    await waitFor('cancelled', async () => (await h.api.app.inject(`/v1/jobs/${id}`)).json().status === 'cancelled', 10_000);
    // Not retried: BullMQ finishes it and does not hold it for another attempt. The worker settles the BullMQ
    // job just after it publishes `done`, so its state may still read `active` for a moment: wait for it to settle.
    const state = async (): Promise<string | undefined> => (await h.api.queue.bull!.getJob(id))?.getState();
    await waitFor('BullMQ job settled', async () => (await state()) !== 'active', 10_000);
    expect(['waiting', 'active', 'delayed']).not.toContain(await state());
  }, 90_000);
});
