import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardRoutes } from '../../src/server/routes/dashboard.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

/** bull-board at /admin/queues over a real BullMQ queue (its own redis-server on a free port). */
describe('dashboard: bull-board at /admin/queues', { timeout: 60_000 }, () => {
  let redis: TestRedis;
  let queue: Queue;
  let open: FastifyInstance;
  let guarded: FastifyInstance;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = `keiko-dash-${process.pid}:bull`;
    queue = new Queue('training', { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix });
    await queue.add('train', { jobId: 'j1' });
    open = Fastify({ logger: false });
    await open.register(dashboardRoutes, { queue, apiKeys: [] });
    guarded = Fastify({ logger: false });
    await guarded.register(dashboardRoutes, { queue, apiKeys: ['k-one', 'k-two'] });
    await Promise.all([open.ready(), guarded.ready()]);
  });

  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    await queue?.close();
    await redis?.stop();
  });

  it('serves the bull-board UI and its API over the queue', async () => {
    const page = await open.inject({ method: 'GET', url: '/admin/queues' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('/admin/queues');

    const api = await open.inject({ method: 'GET', url: '/admin/queues/api/queues?activeQueue=training&status=latest&page=1' });
    expect(api.statusCode).toBe(200);
    const body = api.json() as { queues: { name: string; counts: Record<string, number> }[] };
    const training = body.queues.find((q) => q.name === 'training');
    expect(training).toBeDefined();
    expect(Object.values(training!.counts).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('the dashboard itself still answers at /', async () => {
    expect((await open.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
  });

  it('with API keys, asks for one (Bearer, or Basic with the key as password)', async () => {
    const none = await guarded.inject({ method: 'GET', url: '/admin/queues' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic /);
    expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(none.json()).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });

    const wrong = await guarded.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);

    const bearer = await guarded.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: 'Bearer k-two' } });
    expect(bearer.statusCode).toBe(200);

    const basic = await guarded.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=training&status=latest&page=1',
      headers: { authorization: `Basic ${Buffer.from('admin:k-one').toString('base64')}` },
    });
    expect(basic.statusCode).toBe(200);

    // The page and its assets need no key (they hold no data).
    expect((await guarded.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expect((await guarded.inject({ method: 'GET', url: '/ui/js/app.js' })).statusCode).toBe(200);
  });
});
