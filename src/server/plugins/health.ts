import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { NotReadyError } from '../errors.ts';
import { ProblemSchema } from '../problem.ts';

const HealthSchema = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Health' });
const ReadySchema = z.strictObject({ status: z.literal('ready') }).meta({ id: 'Ready' });

/** How long `/readyz` waits for Redis to answer PING. */
const PING_TIMEOUT_MS = 1000;

/**
 * `/healthz`: the process lives (never touches Redis). `/readyz`: Redis answers and the process is not shutting
 * down. While shutting down, every other request is refused with 503 too (the load balancer moves on).
 */
async function healthPlugin(app: FastifyInstance): Promise<void> {
  const ctx = app.keiko;
  app.addHook('onRequest', async (request) => {
    if (!ctx.shuttingDown) return;
    const path = request.url.split('?')[0];
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') return;
    throw new NotReadyError('the server is shutting down');
  });

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process lives', response: { 200: HealthSchema } } }, async () => ({ status: 'ok' as const }));

  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'Redis answers and the server is not shutting down', response: { 200: ReadySchema, 503: ProblemSchema } } },
    async () => {
      if (ctx.shuttingDown) throw new NotReadyError('the server is shutting down');
      const redis = ctx.deps.redis;
      // A client that is not connected would queue the PING until it reconnects: answer at once instead.
      if (redis.status !== 'ready') throw new NotReadyError(`Redis is unreachable (connection ${redis.status})`);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          redis.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS);
          }),
        ]);
      } catch (e) {
        throw new NotReadyError(`Redis did not answer PING (${(e as Error).message})`);
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ready' as const };
    },
  );
}

export const health = fp(healthPlugin, { name: 'keiko-health' });
