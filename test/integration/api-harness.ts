import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { loadEnv, type Env } from '../../src/config/env.ts';
import { createTrainingQueue, type TrainingQueue } from '../../src/queue/training-queue.ts';
import { createRedis } from '../../src/redis/connection.ts';
import { createKeys, type Keys } from '../../src/redis/keys.ts';
import { buildApp } from '../../src/server/app.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

/**
 * One API (or several on the same Redis) against a real redis-server, for the api and stream integration tests.
 * Every client it opens is closed by `close()`: one leftover ioredis client keeps vitest alive.
 */
export interface ApiInstance {
  app: FastifyInstance;
  /** `http://127.0.0.1:PORT` once `listen()`ed (WebSocket tests), else undefined. */
  url?: string;
  queue: TrainingQueue;
  close(): Promise<void>;
}

export interface Harness {
  server: TestRedis;
  redis: Redis;
  keys: Keys;
  env: Env;
  api: ApiInstance;
  /** Another API instance on the same Redis and prefix. */
  startInstance(opts?: { listen?: boolean }): Promise<ApiInstance>;
  close(): Promise<void>;
}

let counter = 0;

export async function startHarness(opts: { env?: Record<string, string>; listen?: boolean; server?: TestRedis; dashboard?: boolean } = {}): Promise<Harness> {
  const server = opts.server ?? (await startRedis());
  const prefix = `t${process.pid}x${++counter}`;
  const env = loadEnv({ REDIS_URL: server.url, KEIKO_PREFIX: prefix, LOG_LEVEL: 'silent', ...opts.env });
  const keys = createKeys(prefix);
  const redis = createRedis(server.url, 'command', { connectionName: 'test' });
  redis.on('error', () => undefined);
  const instances: ApiInstance[] = [];

  async function startInstance(o: { listen?: boolean } = {}): Promise<ApiInstance> {
    const appRedis = createRedis(server.url, 'command');
    const queueRedis = createRedis(server.url, 'command');
    appRedis.on('error', () => undefined);
    queueRedis.on('error', () => undefined);
    // Connected before the first request: /readyz answers 503 while the client is still connecting.
    await Promise.all([appRedis.ping(), queueRedis.ping()]);
    const queue = createTrainingQueue(queueRedis, keys, env);
    const app = await buildApp({ redis: appRedis, queue, keys, env }, { dashboard: opts.dashboard ?? false });
    let url: string | undefined;
    if (o.listen ?? opts.listen) {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const addr = app.server.address();
      url = typeof addr === 'object' && addr ? `http://127.0.0.1:${addr.port}` : undefined;
    } else {
      await app.ready();
    }
    let closed: Promise<void> | undefined;
    const inst: ApiInstance = {
      app,
      url,
      queue,
      close() {
        closed ??= (async () => {
          await app.close().catch(() => undefined);
          await queue.close().catch(() => undefined);
          appRedis.disconnect();
          queueRedis.disconnect();
        })();
        return closed;
      },
    };
    instances.push(inst);
    return inst;
  }

  const api = await startInstance();
  return {
    server,
    redis,
    keys,
    env,
    api,
    startInstance,
    async close() {
      for (const i of instances) await i.close();
      redis.disconnect();
      if (!opts.server) await server.stop();
    },
  };
}

/** A small valid spec on a built-in dataset (2-D blobs, 3 classes). */
export function smallSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'blobs',
    dataset: { id: 'synthetic-blobs', trainSize: 60, testSize: 30, seed: 1 },
    model: { inputShape: [2], layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 3 }] },
    optimizer: { type: 'sgd', learningRate: 0.1 },
    training: { epochs: 2, batchSize: 10, seed: 3 },
    ...overrides,
  };
}
