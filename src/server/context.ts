import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import type { Env } from '../config/env.ts';
import type { TrainingQueue } from '../queue/training-queue.ts';
import type { Keys } from '../redis/keys.ts';
import type { Metrics } from './plugins/metrics.ts';

/** What the API is built from (injected, so tests and the OpenAPI emitter can pass their own). */
export interface AppDeps {
  /** Command connection (shared; never used for blocking reads). */
  redis: Redis;
  queue: TrainingQueue;
  keys: Keys;
  env: Env;
  logger?: FastifyBaseLogger;
}

/** Per-instance state the plugins share through `app.keiko`. */
export interface KeikoContext {
  deps: AppDeps;
  /** API keys from `KEIKO_API_KEYS`; empty: no authentication. */
  apiKeys: readonly string[];
  metrics: Metrics;
  /** Set on shutdown: readyz answers 503 and new requests are refused. */
  shuttingDown: boolean;
  /** Open stream sockets with their cleanup, closed with 1001 on shutdown. */
  sockets: Map<WebSocket, () => void>;
  /**
   * A dedicated connection for blocking reads (XREAD BLOCK); one per stream socket, so a slow client never holds
   * up another. Waits through a Redis outage instead of failing (`maxRetriesPerRequest: null`).
   */
  blockingConnection(): Redis;
}

declare module 'fastify' {
  interface FastifyInstance {
    keiko: KeikoContext;
  }
}

export function parseApiKeys(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}
