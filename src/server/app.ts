import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { parseApiKeys, type AppDeps, type KeikoContext } from './context.ts';
import { auth } from './plugins/auth.ts';
import { errorHandler } from './plugins/error-handler.ts';
import { health } from './plugins/health.ts';
import { createMetrics, metricsPlugin } from './plugins/metrics.ts';
import { swaggerDocs } from './plugins/swagger.ts';
import { websocketSupport } from './plugins/websocket.ts';
import { zod } from './plugins/zod.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { jobStreamRoutes } from './routes/job-stream.ts';
import { jobsRoutes } from './routes/jobs.ts';
import { modelsRoutes } from './routes/models.ts';
import { datasetsRoutes } from './routes/datasets.ts';

export type { AppDeps } from './context.ts';

export interface AppOptions {
  /** Fastify logger options when no `deps.logger` is given (default: off, as tests want). */
  logger?: FastifyServerOptions['logger'];
  /** Serve the dashboard (`/`, `/admin/queues`). Default true. */
  dashboard?: boolean;
}

/** A client-supplied `x-request-id` is kept when it is a sane token; otherwise a fresh UUID. */
function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && /^[\w.:-]{1,128}$/.test(h) ? h : randomUUID();
}

/**
 * The API, built from plugins with injected dependencies (Redis, queue, keys, env, logger). Nothing here opens a
 * connection by itself: the OpenAPI emitter builds it with idle fakes.
 */
export async function buildApp(deps: AppDeps, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: opts.logger ?? false }),
    bodyLimit: deps.env.MAX_BODY_BYTES,
    genReqId: requestId,
    requestIdHeader: false,
    // Fastify's Ajv is not used (zod validates, see plugins/zod.ts); were it reached, it must not strip or coerce.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true } },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  const keiko: KeikoContext = {
    deps,
    apiKeys: parseApiKeys(deps.env.KEIKO_API_KEYS),
    metrics: createMetrics(),
    shuttingDown: false,
    sockets: new Map(),
    blockingConnection: () => deps.redis.duplicate({ maxRetriesPerRequest: null, connectionName: 'keiko-stream', lazyConnect: false }),
  };
  app.decorate('keiko', keiko);
  // An empty JSON body is no body (`POST /v1/jobs/:id/cancel` sent by a client that always sets the content type);
  // routes that need one say so through their schema. Anything else goes to Fastify's parser, which refuses
  // `__proto__` and `constructor.prototype` keys.
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return json(request, text, done);
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Shutting down: readyz and new requests answer 503 from here on (health.ts), streams close with 1001 (websocket.ts).
  app.addHook('preClose', async () => {
    keiko.shuttingDown = true;
  });

  // Infrastructure, then routes. Other route plugins are added to the list below, one line each.
  await app.register(zod);
  await app.register(errorHandler, { bodyLimit: deps.env.MAX_BODY_BYTES });
  await app.register(swaggerDocs); // before every documented route: it collects routes as they are added
  // Before any hook that may refuse a request: its onRequest hook marks upgrade requests, so a refused upgrade's
  // socket is destroyed after the 401/503 answer (otherwise it lingers and blocks close()).
  await app.register(websocketSupport);
  await app.register(metricsPlugin);
  await app.register(health);
  await app.register(auth);

  await app.register(jobsRoutes);
  await app.register(jobStreamRoutes);
  await app.register(modelsRoutes);
  await app.register(datasetsRoutes);
  if (opts.dashboard !== false) await app.register(dashboardRoutes, { queue: deps.queue.bull, apiKeys: keiko.apiKeys });

  return app;
}
