import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * Every environment variable keiko reads, parsed once with zod. The README's table is written from this.
 * Numbers are parsed explicitly (`z.coerce` only here: the environment is text by nature).
 */
const int = (d: number, min = 0) => z.coerce.number().int().min(min).default(d);

export const EnvSchema = z.object({
  /** API port and bind address. */
  PORT: int(3000),
  HOST: z.string().default('127.0.0.1'),
  /** Redis for the queue, job records, streams and models. Unset: 127.0.0.1:6379, else `npm start` launches one. */
  REDIS_URL: z.string().optional(),
  /** Prefix of every Redis key keiko writes (BullMQ's included): several deployments can share a Redis. */
  KEIKO_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('keiko'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Comma-separated API keys; when set, every /v1 route and stream needs `Authorization: Bearer KEY`. */
  KEIKO_API_KEYS: z.string().optional(),
  /** Jobs one worker process trains at once, each in its own thread. */
  WORKER_CONCURRENCY: int(1, 1),
  /** Threads one worker process may use in total across its jobs' kernels (default: the cores). */
  WORKER_MAX_THREADS: int(availableParallelism(), 1),
  /** BullMQ lock and stalled-check periods: a killed worker's job is taken up again after about their sum. */
  LOCK_DURATION_MS: int(30_000, 1000),
  STALLED_INTERVAL_MS: int(30_000, 1000),
  /** How often a job may be (re)started after a crash before it fails. */
  JOB_ATTEMPTS: int(3, 1),
  /** On SIGTERM: how long a worker waits for its running job to reach a checkpoint, and the API for connections. */
  SHUTDOWN_GRACE_MS: int(10_000, 0),
  /** Submission limits (400 over them). */
  MAX_LAYERS: int(100, 1),
  MAX_PARAMS: int(100_000_000, 1),
  MAX_EPOCHS: int(10_000, 1),
  MAX_BODY_BYTES: int(1_048_576, 1024),
  /** Dataset and model uploads. */
  MAX_UPLOAD_BYTES: int(256 * 1_048_576, 1024),
  /** Stored models kept decoded in memory for prediction (LRU). */
  PREDICT_CACHE_SIZE: int(8, 0),
});
export type Env = z.infer<typeof EnvSchema>;

/** Parse `process.env` (or a given record); throws a readable error naming each bad variable. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const r = EnvSchema.safeParse(source);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment:\n  ${lines.join('\n  ')}`);
  }
  return r.data;
}
