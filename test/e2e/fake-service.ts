import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { dashboardRoutes } from '../../src/server/routes/dashboard.ts';

/**
 * A stand-in for keiko's API that follows API.md just far enough to drive the dashboard deterministically in a
 * browser: jobs that "train" on a timer, per-job streams with cursors and `?from=` resume, `/v1/stream`,
 * cancel, metrics history and problem+json validation errors. It lets the page's own logic (resume without gap
 * or double point, error placement, overlay) be tested without Redis or the engine; the real service is
 * exercised by dashboard.e2e.test.ts.
 */

type Msg = Record<string, unknown> & { type: string; jobId: string; cursor?: string };

interface FakeJob {
  id: string;
  name?: string;
  status: 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';
  spec: Record<string, any>;
  progress: { epoch: number; epochs: number };
  latestMetrics?: Record<string, number>;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  modelId?: string;
  attempts: number;
  events: Msg[];
  history: Record<string, number>[];
  timer?: NodeJS.Timeout;
  subscribers: Set<WebSocket>;
}

export interface FakeServiceOptions {
  /** Milliseconds per fake epoch. */
  epochMs?: number;
  /** Batches reported per epoch (progress messages). */
  batches?: number;
  apiKey?: string;
  /** Completed jobs to create at start (to exercise paging). */
  seedJobs?: number;
}

export interface FakeService {
  app: FastifyInstance;
  url: string;
  jobs: Map<string, FakeJob>;
  /** Every WS URL a client connected to (path + query). */
  wsConnections: string[];
  close(): Promise<void>;
}

function problem(status: number, code: string, title: string, detail: string, errors: { path: string; message: string }[] = []) {
  return { type: 'about:blank', title, status, detail, code, instance: 'req-fake', errors };
}

function validate(body: any): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  if (!body || typeof body !== 'object') return [{ path: '', message: 'expected object' }];
  const t = body.training ?? {};
  if (!Number.isInteger(t.epochs) || t.epochs < 1) errors.push({ path: 'training.epochs', message: 'Too small: expected number to be >=1' });
  if (!Number.isInteger(t.batchSize) || t.batchSize < 1) errors.push({ path: 'training.batchSize', message: 'Too small: expected number to be >=1' });
  if (!body.dataset?.id) errors.push({ path: 'dataset.id', message: 'Required' });
  const presets = ['mlp', 'simple_convnet', 'deep_convnet', 'alexnet', 'alexnet_small'];
  if (body.model?.preset !== undefined && !presets.includes(body.model.preset)) errors.push({ path: 'model.preset', message: 'Invalid preset' });
  if (Array.isArray(body.model?.layers)) {
    body.model.layers.forEach((l: any, i: number) => {
      if (l?.type === 'conv2d' && l.kernelSize > 28) errors.push({ path: `model.layers.${i}.kernelSize`, message: 'kernel larger than its input' });
    });
  }
  const lr = body.optimizer?.learningRate;
  if (lr !== undefined && !(typeof lr === 'number' && lr > 0)) errors.push({ path: 'optimizer.learningRate', message: 'Too small: expected number to be >0' });
  return errors;
}

export async function startFakeService(opts: FakeServiceOptions = {}): Promise<FakeService> {
  const epochMs = opts.epochMs ?? 300;
  const batches = opts.batches ?? 5;
  const jobs = new Map<string, FakeJob>();
  const globalSubs = new Set<WebSocket>();
  const wsConnections: string[] = [];
  let seq = 0;
  let cursorSeq = 0;

  const app = Fastify({ logger: false });
  await app.register(fastifyWebsocket);
  await app.register(dashboardRoutes, {});

  if (opts.apiKey) {
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/v1')) return;
      const token = new URL(req.url, 'http://x').searchParams.get('token');
      if (req.headers.authorization === `Bearer ${opts.apiKey}` || token === opts.apiKey) return;
      return reply.code(401).type('application/problem+json').send(problem(401, 'UNAUTHORIZED', 'Unauthorized', 'a valid API key is required'));
    });
  }

  const publicJob = (j: FakeJob) => {
    const { events: _e, history: _h, timer: _t, subscribers: _s, ...rest } = j;
    return rest;
  };

  const emit = (job: FakeJob, msg: Omit<Msg, 'jobId' | 'cursor'>, persist = true) => {
    const full: Msg = { ...msg, jobId: job.id } as Msg;
    if (persist) {
      full.cursor = `${Date.now()}-${cursorSeq++}`;
      job.events.push(full);
    }
    const text = JSON.stringify(full);
    for (const s of job.subscribers) s.send(text);
    for (const s of globalSubs) s.send(text);
    if (msg.type === 'done') for (const s of job.subscribers) s.close(1000, 'done');
  };

  const finish = (job: FakeJob, status: 'completed' | 'cancelled') => {
    clearTimeout(job.timer);
    job.status = status;
    job.finishedAt = new Date().toISOString();
    if (status === 'completed') job.modelId = `m-${job.id}`;
    emit(job, { type: 'status', status, at: job.finishedAt });
    emit(job, { type: 'done', status, ...(job.modelId ? { modelId: job.modelId } : {}) });
  };

  const run = (job: FakeJob) => {
    job.status = 'active';
    job.startedAt = new Date().toISOString();
    emit(job, { type: 'status', status: 'active', at: job.startedAt });
    let batch = 0;
    const tick = () => {
      if (job.status !== 'active') return;
      batch += 1;
      const epoch = job.progress.epoch + 1;
      if (batch < batches) {
        emit(job, { type: 'progress', epoch, batch, batches }, false);
      } else {
        batch = 0;
        const k = epoch;
        const m = {
          epoch: k,
          iteration: k * batches,
          trainLoss: 2.3 / (1 + 0.5 * k),
          trainAccuracy: Math.min(1, 0.3 + 0.08 * k),
          testLoss: 2.3 / (1 + 0.4 * k),
          testAccuracy: Math.min(1, 0.25 + 0.06 * k + (Number(job.spec.regularization?.l2 ?? 0) > 0 ? 0.02 : 0)),
          learningRate: Number(job.spec.optimizer?.learningRate ?? 0.01),
          durationMs: epochMs,
          samplesPerSecond: 1000,
        };
        job.progress.epoch = k;
        job.latestMetrics = m;
        job.history.push(m);
        emit(job, { type: 'epoch', ...m });
        if (k >= job.progress.epochs) return finish(job, 'completed');
      }
      job.timer = setTimeout(tick, epochMs / batches);
    };
    job.timer = setTimeout(tick, epochMs / batches);
  };

  app.get('/v1/datasets', async () => ({
    items: [
      { id: 'mnist', name: 'MNIST digits', source: 'builtin', description: '10,000 real digits', inputShape: [1, 28, 28], classes: 10, size: 10000, trainSize: 9000, testSize: 1000 },
      { id: 'synthetic-blobs', name: 'Blobs', source: 'builtin', description: 'Gaussian blobs', inputShape: [2], classes: 3, size: 600, trainSize: 500, testSize: 100 },
    ],
  }));

  app.get<{ Querystring: { limit?: string; cursor?: string } }>('/v1/jobs', async (req) => {
    const all = [...jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map(publicJob);
    const limit = Math.min(500, Number(req.query.limit ?? 50));
    const start = Number(req.query.cursor ?? 0);
    const items = all.slice(start, start + limit);
    return start + limit < all.length ? { items, nextCursor: String(start + limit) } : { items };
  });

  app.post('/v1/jobs', async (req, reply) => {
    const body = req.body as any;
    const errors = validate(body);
    if (errors.length) {
      return reply.code(400).type('application/problem+json').send(problem(400, 'VALIDATION_FAILED', 'Validation failed', `${errors.length} invalid field(s)`, errors));
    }
    const id = `job${String(++seq).padStart(4, '0')}`;
    const job: FakeJob = {
      id,
      name: body.name,
      status: 'queued',
      spec: body,
      progress: { epoch: 0, epochs: body.training.epochs },
      createdAt: new Date(Date.now() + seq).toISOString(),
      attempts: 0,
      events: [],
      history: [],
      subscribers: new Set(),
    };
    jobs.set(id, job);
    emit(job, { type: 'status', status: 'queued', at: job.createdAt });
    setTimeout(() => run(job), 100);
    return reply.code(202).header('location', `/v1/jobs/${id}`).send({ id, status: 'queued', createdAt: job.createdAt });
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (req, reply) => {
    const job = jobs.get(req.params.id);
    if (!job) return reply.code(404).type('application/problem+json').send(problem(404, 'JOB_NOT_FOUND', 'Job not found', 'no such job'));
    return publicJob(job);
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/metrics', async (req, reply) => {
    const job = jobs.get(req.params.id);
    if (!job) return reply.code(404).type('application/problem+json').send(problem(404, 'JOB_NOT_FOUND', 'Job not found', 'no such job'));
    return { jobId: job.id, metrics: job.history };
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', async (req, reply) => {
    const job = jobs.get(req.params.id);
    if (!job) return reply.code(404).type('application/problem+json').send(problem(404, 'JOB_NOT_FOUND', 'Job not found', 'no such job'));
    if (job.status === 'queued' || job.status === 'active') finish(job, 'cancelled');
    return publicJob(job);
  });

  app.get('/v1/models/:id/weights', async (_req, reply) => reply.type('application/octet-stream').send(Buffer.from('fake-safetensors')));
  app.get('/v1/models/:id/onnx', async (_req, reply) => reply.type('application/octet-stream').send(Buffer.from('fake-onnx')));

  app.get<{ Params: { id: string }; Querystring: { from?: string } }>('/v1/jobs/:id/stream', { websocket: true }, (socket, req) => {
    wsConnections.push(req.url);
    const job = jobs.get(req.params.id);
    if (!job) return socket.close(4404, 'no such job');
    const from = req.query.from;
    let start = 0;
    if (from) start = job.events.findIndex((e) => e.cursor === from) + 1;
    for (const e of job.events.slice(start)) socket.send(JSON.stringify(e));
    if (job.status === 'completed' || job.status === 'cancelled' || job.status === 'failed') return socket.close(1000, 'done');
    job.subscribers.add(socket);
    socket.on('close', () => job.subscribers.delete(socket));
  });

  app.get('/v1/stream', { websocket: true }, (socket, req) => {
    wsConnections.push(req.url);
    globalSubs.add(socket);
    socket.on('close', () => globalSubs.delete(socket));
  });

  for (let i = 0; i < (opts.seedJobs ?? 0); i++) {
    const id = `seed${String(i).padStart(4, '0')}`;
    const m = { epoch: 1, iteration: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5, learningRate: 0.01, durationMs: 1, samplesPerSecond: 1 };
    const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    jobs.set(id, {
      id, name: `seeded ${i}`, status: 'completed', spec: { dataset: { id: 'mnist' }, model: { preset: 'mlp' }, training: { epochs: 1, batchSize: 10 } },
      progress: { epoch: 1, epochs: 1 }, latestMetrics: m, createdAt: at, finishedAt: at, modelId: `m-${id}`, attempts: 1, events: [], history: [m], subscribers: new Set(),
    });
  }

  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    jobs,
    wsConnections,
    async close() {
      for (const j of jobs.values()) clearTimeout(j.timer);
      for (const s of globalSubs) s.terminate();
      for (const j of jobs.values()) for (const s of j.subscribers) s.terminate();
      await app.close();
    },
  };
}

// `npx tsx test/e2e/fake-service.ts` serves the dashboard against the fake on PORT (default 3999), for manual work.
if (import.meta.url === `file://${process.argv[1]}`) {
  const svc = await startFakeService({ epochMs: Number(process.env.EPOCH_MS ?? 1000) });
  console.log(`fake keiko at ${svc.url}`);
}
