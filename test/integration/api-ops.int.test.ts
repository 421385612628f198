import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, smallSpec, type Harness } from './api-harness.ts';
import { connectStream, upgradeStatus } from './stream-client.ts';

// Every test here touches Redis: a hard limit, so a leftover client or a lost message fails fast instead of hanging.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });

// Operations routes, authentication and errors outside /v1/jobs, against a real redis-server.

describe('health, readiness, metrics, docs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 30_000);
  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('/healthz and /readyz answer 200 while Redis answers', async () => {
    expect((await h.api.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await h.api.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('/metrics exposes request counts, latency, jobs submitted and ws connections in Prometheus text', async () => {
    await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: smallSpec() });
    await h.api.app.inject('/v1/jobs/nope');
    const res = await h.api.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('keiko_http_requests_total{method="POST",route="/v1/jobs",status="202"} 1');
    expect(res.body).toContain('keiko_http_requests_total{method="GET",route="/v1/jobs/:id",status="404"} 1');
    expect(res.body).toMatch(/keiko_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/jobs",le="\+Inf"\} 1/);
    expect(res.body).toContain('keiko_jobs_submitted_total 1');
    expect(res.body).toContain('# TYPE keiko_ws_connections gauge');
  });

  it('serves Swagger UI at /docs and the document at /openapi.json with the schemas as components', async () => {
    const docs = await h.api.app.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toMatch(/swagger/i);
    const doc = (await h.api.app.inject('/openapi.json')).json() as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    for (const p of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/metrics', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/stream', '/v1/stream', '/healthz', '/readyz']) expect(doc.paths, p).toHaveProperty([p]);
    for (const c of ['JobSpec', 'Job', 'JobList', 'Problem', 'StreamMessage', 'EpochMetrics', 'Layer', 'Model']) expect(doc.components.schemas, c).toHaveProperty([c]);
  });

  it('answers 404 problem+json for unknown routes', async () => {
    const res = await h.api.app.inject('/v2/nothing');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', status: 404, instance: res.headers['x-request-id'], errors: [] });
  });

  it('keeps a sane client request id as the problem instance', async () => {
    const res = await h.api.app.inject({ url: '/v1/jobs/nope', headers: { 'x-request-id': 'abc-123' } });
    expect(res.json().instance).toBe('abc-123');
  });

  it('/readyz answers 503 NOT_READY once Redis stops, /healthz still 200; job routes 503', async () => {
    await h.server.stop();
    // The client notices the closed connection within moments.
    for (let i = 0; i < 50 && h.api.app.keiko.deps.redis.status === 'ready'; i++) await new Promise((r) => setTimeout(r, 50));
    const ready = await h.api.app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ code: 'NOT_READY', status: 503 });
    expect((await h.api.app.inject('/healthz')).statusCode).toBe(200);
    const jobs = await h.api.app.inject('/v1/jobs/x');
    expect(jobs.statusCode).toBe(503);
    expect(jobs.json().code).toBe('REDIS_UNAVAILABLE');
  }, 30_000);
});

describe('shutting down', () => {
  it('answers 503 on /readyz and on new requests once close starts', async () => {
    const h = await startHarness();
    try {
      h.api.app.keiko.shuttingDown = true;
      const ready = await h.api.app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().code).toBe('NOT_READY');
      expect((await h.api.app.inject('/v1/jobs')).statusCode).toBe(503);
      expect((await h.api.app.inject('/healthz')).statusCode).toBe(200);
    } finally {
      await h.close();
    }
  }, 30_000);
});

describe('authentication with KEIKO_API_KEYS', () => {
  let h: Harness;
  let ws: string;
  beforeAll(async () => {
    h = await startHarness({ env: { KEIKO_API_KEYS: 'k1, k2' }, listen: true });
    ws = h.api.url!.replace('http', 'ws');
  }, 30_000);
  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('refuses /v1 without a key or with a wrong one (401 problem+json), accepts either key', async () => {
    const none = await h.api.app.inject('/v1/jobs');
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toMatch(/problem\+json/);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.json()).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect((await h.api.app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
    expect((await h.api.app.inject({ url: '/v1/jobs', headers: { authorization: 'Basic azE6' } })).statusCode).toBe(401);
    expect((await h.api.app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer k1' } })).statusCode).toBe(200);
    expect((await h.api.app.inject({ url: '/v1/jobs', headers: { authorization: 'bearer k2' } })).statusCode).toBe(200);
    // ?token= is for WebSockets only.
    expect((await h.api.app.inject('/v1/jobs?token=k1')).statusCode).toBe(401);
  });

  it('leaves operations routes open', async () => {
    expect((await h.api.app.inject('/healthz')).statusCode).toBe(200);
    expect((await h.api.app.inject('/readyz')).statusCode).toBe(200);
    expect((await h.api.app.inject('/openapi.json')).statusCode).toBe(200);
  });

  it('protects the streams: 401 without a key, open with the header or ?token=', async () => {
    expect(await upgradeStatus(`${ws}/v1/stream`)).toBe(401);
    expect(await upgradeStatus(`${ws}/v1/stream?token=bad`)).toBe(401);
    expect(await upgradeStatus(`${ws}/v1/stream`, { authorization: 'Bearer k1' })).toBe(101);
    const c = await connectStream(`${ws}/v1/stream?token=k2`);
    await c.close();
  });
});

describe('with the dashboard mounted', () => {
  it('serves / and bull-board beside the API, and unknown routes stay problem+json', async () => {
    const h = await startHarness({ dashboard: true, env: { KEIKO_API_KEYS: 'k1' } });
    try {
      const page = await h.api.app.inject('/');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect((await h.api.app.inject('/admin/queues')).statusCode).toBe(401);
      expect((await h.api.app.inject({ url: '/admin/queues', headers: { authorization: 'Bearer k1' } })).statusCode).toBe(200);
      const missing = await h.api.app.inject('/nope');
      expect(missing.statusCode).toBe(404);
      expect(missing.json().code).toBe('ROUTE_NOT_FOUND');
      expect(missing.json().type).toBe('urn:keiko:problem:route-not-found');
    } finally {
      await h.close();
    }
  }, 30_000);
});

describe('without KEIKO_API_KEYS', () => {
  it('needs no key', async () => {
    const h = await startHarness();
    try {
      expect((await h.api.app.inject('/v1/jobs')).statusCode).toBe(200);
    } finally {
      await h.close();
    }
  }, 30_000);
});
