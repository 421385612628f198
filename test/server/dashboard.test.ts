import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, dashboardRoutes, findPublicDir, findUplotDir } from '../../src/server/routes/dashboard.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const publicDir = join(root, 'public');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('dashboard routes (no queue)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false });
    await app.register(dashboardRoutes, {});
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('finds public/ and uplot/dist from the source tree', () => {
    expect(findPublicDir()).toBe(publicDir);
    expect(readdirSync(findUplotDir())).toEqual(expect.arrayContaining(['uPlot.esm.js', 'uPlot.min.css']));
  });

  it('serves the page at / with a same-origin-only CSP', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('<script type="module" src="/ui/js/app.js"></script>');
    expect(res.body).toContain('/vendor/uplot/uPlot.min.css');
  });

  it('serves every asset index.html references', async () => {
    const html = readFileSync(join(publicDir, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="(\/(?:ui|vendor)\/[^"]+)"/g)].map((m) => m[1]);
    expect(refs).toEqual(expect.arrayContaining(['/ui/js/app.js', '/ui/styles.css', '/vendor/uplot/uPlot.min.css']));
    for (const url of refs) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      if (url.endsWith('.js')) expect(res.headers['content-type'], url).toMatch(/javascript/);
      if (url.endsWith('.css')) expect(res.headers['content-type'], url).toMatch(/^text\/css/);
    }
  });

  it('serves uPlot from node_modules as an ES module', async () => {
    const res = await app.inject({ method: 'GET', url: '/vendor/uplot/uPlot.esm.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('export { uPlot as default }');
  });

  it('every import in public/js resolves to a file the server serves', async () => {
    const files = walk(join(publicDir, 'js')).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
        const spec = m[1];
        const url = spec.startsWith('/') ? spec : `/ui/${relative(publicDir, resolve(dirname(file), spec)).split('\\').join('/')}`;
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, `${relative(root, file)} imports ${spec} (${url})`).toBe(200);
      }
    }
  });

  it('loads nothing from another origin (no CDN, works offline)', () => {
    for (const file of walk(publicDir)) {
      const text = readFileSync(file, 'utf8');
      // No absolute URLs in src/href/import/url(): only same-origin paths.
      expect(text, relative(root, file)).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
      expect(text, relative(root, file)).not.toMatch(/\bfrom\s+['"](?:https?:)?\/\//);
      expect(text, relative(root, file)).not.toMatch(/url\(\s*['"]?(?:https?:)?\/\//);
      expect(text, relative(root, file)).not.toMatch(/@import/);
    }
  });

  it('does not serve files outside public/', async () => {
    for (const url of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json', '/vendor/uplot/../package.json']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).not.toBe(200);
    }
  });

  it('mounts no bull-board without a queue', async () => {
    const res = await app.inject({ method: 'GET', url: '/admin/queues' });
    expect(res.statusCode).toBe(404);
  });

  it('coexists with API routes and another @fastify/static that decorates the reply', async () => {
    const other = Fastify({ logger: false });
    other.get('/v1/jobs', async () => ({ items: [] }));
    await other.register(fastifyStatic, { root: join(root, 'node_modules', 'uplot'), prefix: '/elsewhere/' });
    await other.register(dashboardRoutes, {});
    await other.ready();
    expect((await other.inject({ method: 'GET', url: '/v1/jobs' })).json()).toEqual({ items: [] });
    expect((await other.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expect((await other.inject({ method: 'GET', url: '/elsewhere/package.json' })).statusCode).toBe(200);
    // Unknown paths still reach the app's own 404 handling.
    expect((await other.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
    await other.close();
  });
});
