/**
 * Every Redis key keiko writes is built here, and nowhere else (STYLE.md 4.4). Keys are colon-separated
 * and prefix-first, so several deployments can share one Redis.
 *
 * Layout:
 * - `job(id)`            hash   — the job record: `id`, `spec` (JSON JobSpec), `status`, `name`, `createdAt`,
 *                                 `startedAt`, `finishedAt`, `epoch`, `epochs`, `latest` (JSON EpochMetrics),
 *                                 `error` (JSON `{ code, message }`), `modelId`, `attempts`, `owner` (token of the
 *                                 worker attempt allowed to write), `idempotencyKey`.
 * - `jobs`               zset   — every job id, score = creation time in ms (newest-first listing, cursors).
 * - `jobsByStatus(s)`    zset   — the same, per status (kept in step with the hash's `status`).
 * - `jobEvents(id)`      stream — the job's persisted messages (`status`, `epoch`, `log`, `done`), field `m` = JSON.
 *                                 The entry id is the `cursor` of the stream protocol.
 * - `events`             stream — every job's persisted messages (with `jobId`), capped, for `WS /v1/stream`.
 * - `progress`           pub/sub channel — throttled `progress` messages (not persisted, not replayed).
 * - `cancel`             pub/sub channel — a job id whose cancellation was requested (workers listen).
 * - `jobCancel(id)`      string — set when cancellation was requested (a worker checks it at start too).
 * - `jobCheckpoint(id)`  string (bytes) — the latest epoch's checkpoint (engine `serializeCheckpoint`).
 * - `idempotency(key)`   string — JSON `{ jobId, bodyHash }` for `Idempotency-Key`.
 * - `model(id)`          hash   — `meta` (JSON), `weights` (safetensors bytes).
 * - `models`             zset   — model ids by creation time.
 * - `dataset(id)`        hash   — `meta` (JSON), `trainX`, `trainY`, `testX`, `testY` (bytes: F32 LE / U8).
 * - `datasets`           zset   — uploaded dataset ids by creation time.
 * - `bullPrefix`         BullMQ's own key prefix (queue `training`).
 */
export function createKeys(prefix: string) {
  return {
    prefix,
    bullPrefix: `${prefix}:bull`,
    job: (id: string) => `${prefix}:job:${id}`,
    jobs: `${prefix}:jobs`,
    jobsByStatus: (status: string) => `${prefix}:jobs:status:${status}`,
    jobEvents: (id: string) => `${prefix}:job:${id}:events`,
    events: `${prefix}:events`,
    progress: `${prefix}:progress`,
    cancel: `${prefix}:cancel`,
    jobCancel: (id: string) => `${prefix}:job:${id}:cancel`,
    jobCheckpoint: (id: string) => `${prefix}:job:${id}:checkpoint`,
    idempotency: (key: string) => `${prefix}:idem:${key}`,
    model: (id: string) => `${prefix}:model:${id}`,
    models: `${prefix}:models`,
    dataset: (id: string) => `${prefix}:dataset:${id}`,
    datasets: `${prefix}:datasets`,
  } as const;
}
export type Keys = ReturnType<typeof createKeys>;

/** Retention: the global event stream keeps about this many entries (XADD MAXLEN ~). */
export const EVENTS_MAXLEN = 10_000;
/** Idempotency keys expire after a day, as Stripe's do. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
