import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timingSafeEqual } from 'node:crypto';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
// `schema.hide` (keep these routes out of the OpenAPI document) is declared by @fastify/swagger.
import type {} from '@fastify/swagger';

/**
 * The dashboard (API.md "Operations": `GET /`): a no-build single page in `public/` (plain ES modules),
 * uPlot served from the project's own node_modules (nothing from a CDN: it works offline), and bull-board
 * for operators at `/admin/queues`.
 *
 * Routes:
 * - `GET /`                 `public/index.html` (with a strict Content-Security-Policy: same origin only)
 * - `GET /ui/*`             the page's scripts and styles (`public/**`)
 * - `GET /vendor/uplot/*`   `uplot/dist/*` (`uPlot.esm.js`, `uPlot.min.css`)
 * - `/admin/queues`         bull-board, when a BullMQ `queue` is given (tests may leave it out). With
 *                           `KEIKO_API_KEYS` set it asks for a key: `Authorization: Bearer KEY`, or HTTP Basic
 *                           auth with the key as password (so a browser can open it).
 *
 * The page itself and its assets hold no data and need no key; every `/v1` call the page makes carries the key
 * the user entered (stored in the browser's localStorage).
 */
export interface DashboardOptions {
  /** The training queue; without it bull-board is not mounted. */
  queue?: Queue;
  /** API keys protecting `/admin/queues`. Default: `KEIKO_API_KEYS` from the environment (comma-separated). */
  apiKeys?: readonly string[];
  /** Where the page lives. Default: the `public/` folder at the project root. */
  publicDir?: string;
}

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // uPlot sizes its elements through inline style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The project's `public/` folder: the first ancestor of this file that holds `public/index.html` (src or dist layout). */
export function findPublicDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'public');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`dashboard: no public/index.html found above ${from}`);
}

/** `uplot/dist`, resolved through Node's module resolution (so a hoisted or nested install both work). */
export function findUplotDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot'));
}

function parseKeys(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The key a request presents: `Authorization: Bearer KEY`, or Basic auth whose password (or user) is the key. */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme ?? '')) return value;
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const pass = colon >= 0 ? decoded.slice(colon + 1) : '';
    return pass || user;
  }
  return undefined;
}

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions = {}): Promise<void> {
  const publicDir = opts.publicDir ?? findPublicDir();
  const uplotDir = findUplotDir();
  const indexPath = join(publicDir, 'index.html');

  const sendIndex = async (_request: FastifyRequest, reply: FastifyReply) => {
    const html = await readFile(indexPath, 'utf8');
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', DASHBOARD_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html);
  };
  app.get('/', { schema: { hide: true } }, sendIndex);
  app.get('/index.html', { schema: { hide: true } }, sendIndex);

  await app.register(fastifyStatic, {
    root: publicDir,
    prefix: '/ui/',
    decorateReply: false,
    schemaHide: true,
    index: false,
    cacheControl: true,
    maxAge: 0,
  });
  await app.register(fastifyStatic, {
    root: uplotDir,
    prefix: '/vendor/uplot/',
    decorateReply: false,
    schemaHide: true,
    index: false,
    maxAge: '1h',
  });

  if (opts.queue) await mountBullBoard(app, opts.queue, opts.apiKeys ?? parseKeys(process.env.KEIKO_API_KEYS));
}

async function mountBullBoard(app: FastifyInstance, queue: Queue, apiKeys: readonly string[]): Promise<void> {
  const basePath = '/admin/queues';
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: [new BullMQAdapter(queue)],
    // @bull-board/fastify 9.10.1 types itself against its own nested copy of @bull-board/api; same shape.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'keiko queues' } },
  });
  await app.register(async (admin) => {
    if (apiKeys.length > 0) {
      admin.addHook('onRequest', async (request, reply) => {
        const key = presentedKey(request);
        if (key !== undefined && apiKeys.some((k) => safeEqual(k, key))) return;
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="keiko admin", charset="UTF-8"')
          .type('application/problem+json')
          .send({
            type: 'about:blank',
            title: 'Unauthorized',
            status: 401,
            detail: 'an API key is required: Authorization: Bearer KEY, or Basic auth with the key as password',
            code: 'UNAUTHORIZED',
            instance: request.id,
          });
      });
    }
    await admin.register(serverAdapter.registerPlugin(), { prefix: basePath });
  });
}

export default dashboardRoutes;
