import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './api-harness.ts';

/** `GET|POST /v1/datasets`, `GET|DELETE /v1/datasets/:id` against a real redis-server. */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { MAX_UPLOAD_BYTES: '100000' } });
}, 30_000);
afterAll(async () => {
  await h?.close();
});

const paths = (res: { json(): unknown }) => (res.json() as { errors: { path: string }[] }).errors.map((e) => e.path);

const jsonUpload = (over: Record<string, unknown> = {}) => ({
  name: 'xor',
  inputShape: [2],
  classes: 2,
  train: { x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 1, 1, 0] },
  test: { x: [[1, 1], [0, 1]], y: [0, 1] },
  ...over,
});

const csvRows = (n: number) => Array.from({ length: n }, (_, i) => `${i % 3},${i / n},${(i * 7) % 5},${-i}`).join('\n');

describe('datasets API', { timeout: 60_000 }, () => {
  it('lists the built-ins with shapes, class counts and sizes', async () => {
    const res = await h.api.app.inject({ method: 'GET', url: '/v1/datasets' });
    expect(res.statusCode).toBe(200);
    const mnist = res.json().items.find((d: { id: string }) => d.id === 'mnist');
    expect(mnist).toMatchObject({ source: 'builtin', inputShape: [1, 28, 28], classes: 10, size: 10_000 });
    expect((await h.api.app.inject({ method: 'GET', url: '/v1/datasets/synthetic-blobs' })).json()).toMatchObject({ source: 'builtin', inputShape: [2], classes: 3 });
  });

  let jsonId: string;
  it('uploads JSON (flat and shaped samples) → 201; GET and the list show it', async () => {
    const res = await h.api.app.inject({ method: 'POST', url: '/v1/datasets', payload: jsonUpload() });
    expect(res.statusCode).toBe(201);
    const meta = res.json();
    jsonId = meta.id;
    expect(res.headers.location).toBe(`/v1/datasets/${jsonId}`);
    expect(meta).toMatchObject({ name: 'xor', source: 'upload', format: 'json', inputShape: [2], classes: 2, trainSize: 4, testSize: 2, bytes: 4 * 8 + 4 + 2 * 8 + 2 });
    expect((await h.api.app.inject({ method: 'GET', url: `/v1/datasets/${jsonId}` })).json()).toEqual(meta);
    const list = (await h.api.app.inject({ method: 'GET', url: '/v1/datasets' })).json();
    expect(list.items.filter((d: { source: string }) => d.source === 'upload').map((d: { id: string }) => d.id)).toEqual([jsonId]);
    const shaped = await h.api.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { name: 'img', inputShape: [1, 2, 2], classes: 2, train: { x: [[[[1, 2], [3, 4]]], [1, 2, 3, 4]], y: [0, 1] }, test: { x: [[[[0, 0], [0, 0]]]], y: [1] } },
    });
    expect(shaped.statusCode).toBe(201);
  });

  it('uploads CSV with a header and a seeded test fraction', async () => {
    const res = await h.api.app.inject({
      method: 'POST',
      url: '/v1/datasets?name=csv3&inputShape=3&classes=3&testFraction=0.25&seed=2',
      payload: `label,a,b,c\n${csvRows(20)}\n`,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ format: 'csv', inputShape: [3], classes: 3, trainSize: 15, testSize: 5 });
  });

  it.each([
    ['a NaN-like value', { train: { x: [[0, 0], [0, 'NaN'], [1, 0]], y: [0, 1, 1] } }, ['train.x.1']],
    ['a null value', { test: { x: [[1, null], [0, 1]], y: [0, 1] } }, ['test.x.0']],
    ['a wrong sample shape', { train: { x: [[0, 0], [0, 1], [1, 0, 1]], y: [0, 1, 1] } }, ['train.x.2']],
    ['an out-of-range label', { train: { x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 1, 1, 2] } }, ['train.y.3']],
    ['a fractional label', { test: { x: [[1, 1], [0, 1]], y: [0, 0.5] } }, ['test.y.1']],
    ['more labels than samples', { test: { x: [[1, 1]], y: [0, 1] } }, ['test.y']],
    ['an empty split', { test: { x: [], y: [] } }, ['test.x', 'test.y']],
    ['an unknown field', { extra: true }, ['extra']],
    ['a bad input shape', { inputShape: [2, 2] }, ['inputShape']],
    ['too many classes for byte labels', { classes: 300 }, ['classes']],
  ])('refuses JSON with %s: 400 naming the field', async (_t, over, expected) => {
    const res = await h.api.app.inject({ method: 'POST', url: '/v1/datasets', payload: jsonUpload(over) });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.json().code).toBe('VALIDATION_FAILED');
    expect(paths(res)).toEqual(expected);
  });

  it('refuses CSV with NaN, a bad label or a short row (by line), or without its query parameters', async () => {
    const bad = await h.api.app.inject({
      method: 'POST',
      url: '/v1/datasets?name=bad&inputShape=2&classes=2',
      payload: '0,1,2\n1,NaN,2\n5,1,1\n1,1\n0,1,1\n1,0,0\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(bad.statusCode).toBe(400);
    expect(paths(bad)).toEqual(['line.2', 'line.3', 'line.4']);
    const noQuery = await h.api.app.inject({ method: 'POST', url: '/v1/datasets', payload: '0,1,2\n', headers: { 'content-type': 'text/csv' } });
    expect(noQuery.statusCode).toBe(400);
    expect(paths(noQuery).sort()).toEqual(['classes', 'inputShape', 'name']);
  });

  it('answers 413 above MAX_UPLOAD_BYTES (JSON and CSV) and 415 for other content types', async () => {
    const big = 'x'.repeat(120_000);
    const csv = await h.api.app.inject({ method: 'POST', url: '/v1/datasets?name=a&inputShape=1&classes=2', payload: big, headers: { 'content-type': 'text/csv' } });
    expect(csv.statusCode).toBe(413);
    expect(csv.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', detail: expect.stringContaining('100000') });
    const json = await h.api.app.inject({ method: 'POST', url: '/v1/datasets', payload: jsonUpload({ name: big.slice(0, 150), train: { x: Array.from({ length: 20_000 }, () => [0, 0]), y: [] } }) });
    expect(json.statusCode).toBe(413);
    const xml = await h.api.app.inject({ method: 'POST', url: '/v1/datasets', payload: '<a/>', headers: { 'content-type': 'application/xml' } });
    expect(xml.statusCode).toBe(415);
  });

  it('deletes uploads (204, then 404); built-ins are 403; unknown ids 404', async () => {
    expect((await h.api.app.inject({ method: 'DELETE', url: `/v1/datasets/${jsonId}` })).statusCode).toBe(204);
    expect((await h.api.app.inject({ method: 'GET', url: `/v1/datasets/${jsonId}` })).statusCode).toBe(404);
    expect((await h.api.app.inject({ method: 'DELETE', url: `/v1/datasets/${jsonId}` })).json().code).toBe('DATASET_NOT_FOUND');
    const builtin = await h.api.app.inject({ method: 'DELETE', url: '/v1/datasets/mnist' });
    expect(builtin.statusCode).toBe(403);
    expect(builtin.json().code).toBe('DATASET_BUILTIN');
  });
});
