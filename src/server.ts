import { pathToFileURL } from 'node:url';
import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadEnv, type Env } from './config/env.ts';
import { createRedis } from './redis/connection.ts';
import { createKeys } from './redis/keys.ts';
import { createTrainingQueue } from './queue/training-queue.ts';
import { buildApp } from './server/app.ts';

export interface ApiHandle {
  app: FastifyInstance;
  /** The address it listens on (`http://HOST:PORT`). */
  url: string;
  /** Stop taking work (readyz and new requests 503), close streams with 1001, close Redis. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the API: Redis → queue producer → app → listen on HOST:PORT. Used by this file as the API process entry
 * and by the all-in-one launcher (src/main.ts), which handles signals itself. REDIS_URL is required here: the API
 * never guesses where its Redis is.
 */
export async function startApi(env: Env, opts: { logger?: FastifyBaseLogger } = {}): Promise<ApiHandle> {
  if (!env.REDIS_URL) throw new Error('REDIS_URL is required to start the API');
  const logger: FastifyBaseLogger = opts.logger ?? pino({ level: env.LOG_LEVEL, name: 'keiko-api' });
  const keys = createKeys(env.KEIKO_PREFIX);
  const redis = createRedis(env.REDIS_URL, 'command', { connectionName: 'keiko-api' });
  const queueConnection = createRedis(env.REDIS_URL, 'command', { connectionName: 'keiko-api-queue' });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis'));
  queueConnection.on('error', (err) => logger.warn({ err: err.message }, 'redis (queue)'));
  const queue = createTrainingQueue(queueConnection, keys, env, (err) => logger.warn({ err: err.message }, 'queue'));
  let app: FastifyInstance;
  try {
    app = await buildApp({ redis, queue, keys, env, logger });
    await app.listen({ port: env.PORT, host: env.HOST });
  } catch (e) {
    await queue.close().catch(() => undefined);
    redis.disconnect();
    queueConnection.disconnect();
    throw e;
  }
  const address = app.server.address();
  const url = typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : `http://${env.HOST}:${env.PORT}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Every step runs even if one fails; errors are logged, not thrown (BullMQ's close() idea).
      const step = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          logger.warn({ err }, `shutdown: ${name} failed`);
        }
      };
      app.keiko.shuttingDown = true;
      await step('http', () => app.close());
      await step('queue', () => queue.close());
      await step('redis', () => redis.quit());
      await step('redis (queue)', () => queueConnection.quit());
    })();
    return closing;
  };
  return { app, url, close };
}

/** True when this module is the process entry (`tsx src/server.ts`, `node dist/src/server.js`). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  const self = import.meta.url;
  return self === pathToFileURL(entry).href || self.replace(/\.ts$/, '') === pathToFileURL(entry).href.replace(/\.(ts|js)$/, '');
}

if (isEntry()) {
  const env = loadEnv();
  const logger = pino({ level: env.LOG_LEVEL, name: 'keiko-api' });
  try {
    const api = await startApi(env, { logger });
    logger.info({ url: api.url }, 'keiko API listening');
    closeWithGrace({ delay: env.SHUTDOWN_GRACE_MS, logger }, async ({ signal, err }) => {
      if (err) logger.error({ err }, 'shutting down after an error');
      else logger.info({ signal }, 'shutting down');
      await api.close();
    });
  } catch (err) {
    logger.fatal({ err }, 'the API did not start');
    process.exit(1);
  }
}
