import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  describeModel,
  expectedTensors,
  LayersModelSpecSchema,
  type EpochMetrics,
  type LayersModelSpec,
  type NamedTensor,
} from '../engine/index.ts';
import { ModelWeightsError, type FieldProblem } from '../models/errors.ts';
import { ModelMetaSchema, type ModelMeta } from '../models/meta.ts';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../models/safetensors.ts';
import type { Keys } from './keys.ts';

/**
 * Stored models: the hash `model(id)` holds `meta` (JSON {@link ModelMeta}) and `weights` (a safetensors file,
 * F32, tensors `<layerIndex>.<param>` in layer order, the spec JSON-encoded in `__metadata__.spec`); the zset
 * `models` orders ids by creation time. The weights are stored as the exact bytes `GET /v1/models/:id/weights`
 * serves, so a download never re-encodes.
 */

/** What a caller knows when it saves a model; the store derives the rest (shapes, counts) from the spec. */
export interface SaveModelInput {
  /** Defaults to a fresh UUID. Saving again under the same id replaces the model (a retried job is idempotent). */
  id?: string;
  name?: string;
  source?: 'job' | 'import';
  jobId?: string;
  /** A resolved (explicit layers) spec; `initFrom` in it is recorded as provenance and dropped from the spec. */
  spec: LayersModelSpec;
  metrics?: EpochMetrics;
  dataset?: { id: string };
  createdAt?: Date;
}

/**
 * Compare tensors with what a spec expects. Returns every problem (missing, extra, mis-shaped, wrongly sized
 * data), each named `weights.<tensor>`, and the tensors reordered into the spec's (layer) order.
 */
export function checkTensors(spec: LayersModelSpec, tensors: readonly NamedTensor[]): { problems: FieldProblem[]; ordered: NamedTensor[] } {
  const expected = expectedTensors(spec);
  const byName = new Map<string, NamedTensor>();
  const problems: FieldProblem[] = [];
  for (const t of tensors) {
    if (byName.has(t.name)) problems.push({ path: `weights.${t.name}`, message: 'duplicate tensor' });
    byName.set(t.name, t);
  }
  const ordered: NamedTensor[] = [];
  const wanted = new Set<string>();
  for (const e of expected) {
    wanted.add(e.name);
    const t = byName.get(e.name);
    if (!t) {
      problems.push({ path: `weights.${e.name}`, message: `missing tensor (expected shape [${e.shape.join(', ')}])` });
      continue;
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      problems.push({ path: `weights.${e.name}`, message: `shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]` });
      continue;
    }
    let n = 1;
    for (const d of e.shape) n *= d;
    if (t.data.length !== n) {
      problems.push({ path: `weights.${e.name}`, message: `${t.data.length} values, expected ${n}` });
      continue;
    }
    ordered.push({ name: e.name, shape: [...e.shape], data: t.data });
  }
  for (const t of tensors) if (!wanted.has(t.name)) problems.push({ path: `weights.${t.name}`, message: 'unexpected tensor: the spec has no such parameter' });
  return { problems, ordered };
}

/** The spec without `initFrom`: a stored model's architecture, not how its training started. */
function architecture(spec: LayersModelSpec): LayersModelSpec {
  const { initFrom: _ignored, ...rest } = spec;
  return rest as LayersModelSpec;
}

/** Validate the tensors against the spec (throws {@link ModelWeightsError} naming each bad tensor), then store. */
export async function saveModel(redis: Redis, keys: Keys, input: SaveModelInput, tensors: readonly NamedTensor[]): Promise<ModelMeta> {
  const spec = architecture(LayersModelSpecSchema.parse(input.spec));
  const summary = describeModel(spec);
  const { problems, ordered } = checkTensors(spec, tensors);
  if (problems.length) throw new ModelWeightsError(problems);
  const weights = encodeSafetensors(ordered, { format: 'keiko', spec: JSON.stringify(spec) });
  const createdAt = input.createdAt ?? new Date();
  const meta = ModelMetaSchema.parse({
    id: input.id ?? randomUUID(),
    name: input.name,
    source: input.source ?? (input.jobId ? 'job' : 'import'),
    jobId: input.jobId,
    initFrom: input.spec.initFrom,
    spec,
    inputShape: spec.inputShape,
    classes: summary.outputShape[0],
    paramCount: summary.paramCount,
    layers: summary.layers.map((l) => ({ index: l.index, type: l.type, outputShape: [...l.outputShape], paramCount: l.paramCount })),
    metrics: input.metrics,
    dataset: input.dataset,
    weightsBytes: weights.length,
    createdAt: createdAt.toISOString(),
  } satisfies Record<keyof ModelMeta, unknown>);
  await redis
    .multi()
    .hset(keys.model(meta.id), 'meta', JSON.stringify(meta), 'weights', weights)
    .zadd(keys.models, createdAt.getTime(), meta.id)
    .exec()
    .then(assertExec);
  return meta;
}

/** MULTI answers errors per command instead of rejecting: surface the first one. */
function assertExec(res: [Error | null, unknown][] | null): void {
  if (!res) throw new Error('Redis transaction aborted');
  for (const [err] of res) if (err) throw err;
}

export async function getModelMeta(redis: Redis, keys: Keys, id: string): Promise<ModelMeta | null> {
  const raw = await redis.hget(keys.model(id), 'meta');
  return raw === null ? null : ModelMetaSchema.parse(JSON.parse(raw));
}

/** The stored safetensors bytes, exactly as saved (read as bytes: `hget` would corrupt them). */
export async function getModelWeights(redis: Redis, keys: Keys, id: string): Promise<Buffer | null> {
  return redis.hgetBuffer(keys.model(id), 'weights');
}

/** Meta and decoded tensors (fresh, aligned Float32Arrays), or null when the model does not exist. */
export async function loadModel(redis: Redis, keys: Keys, id: string): Promise<{ meta: ModelMeta; tensors: NamedTensor[] } | null> {
  const [metaBuf, weights] = await redis.hmgetBuffer(keys.model(id), 'meta', 'weights');
  if (!metaBuf || !weights) return null;
  const meta = ModelMetaSchema.parse(JSON.parse(metaBuf.toString('utf8')));
  try {
    return { meta, tensors: decodeSafetensors(weights).tensors };
  } catch (e) {
    if (e instanceof SafetensorsError) throw new Error(`stored weights of model ${id} are corrupt: ${e.message}`);
    throw e;
  }
}

/** Remove a model; false when it did not exist. */
export async function deleteModel(redis: Redis, keys: Keys, id: string): Promise<boolean> {
  const res = await redis.multi().del(keys.model(id)).zrem(keys.models, id).exec();
  assertExec(res);
  return (res?.[0]?.[1] as number) > 0;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
}

/** An invalid `cursor`: the routes answer 400. */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidCursorError';
  }
}

function encodeCursor(score: number, id: string): string {
  return Buffer.from(JSON.stringify([score, id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { score: number; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string') return { score: v[0] as number, id: v[1] };
  } catch {
    /* fall through */
  }
  throw new InvalidCursorError();
}

/**
 * One page of a creation-time zset, newest first. The cursor is the last item's (score, id), so a page is
 * stable under inserts and deletes; members with equal scores come in ZREVRANGE's (descending id) order.
 */
export async function pageNewestFirst(redis: Redis, key: string, limit: number, cursor?: string): Promise<Page<string>> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const ties = after ? await redis.zcount(key, after.score, after.score) : 0;
  const raw = await redis.zrevrangebyscore(key, after ? after.score : '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, limit + ties + 1);
  const rows: { id: string; score: number }[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const id = raw[i];
    const score = Number(raw[i + 1]);
    if (after && score === after.score && id >= after.id) continue;
    rows.push({ id, score });
  }
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map((r) => r.id), nextCursor: rows.length > limit && last ? encodeCursor(last.score, last.id) : undefined };
}

/** Stored models, newest first. */
export async function listModels(redis: Redis, keys: Keys, opts: { limit?: number; cursor?: string } = {}): Promise<Page<ModelMeta>> {
  const page = await pageNewestFirst(redis, keys.models, opts.limit ?? 50, opts.cursor);
  if (page.items.length === 0) return { items: [], nextCursor: page.nextCursor };
  const pipe = redis.pipeline();
  for (const id of page.items) pipe.hget(keys.model(id), 'meta');
  const res = (await pipe.exec()) ?? [];
  const items: ModelMeta[] = [];
  for (const [err, raw] of res) {
    if (err) throw err;
    // A model deleted between the two reads is skipped rather than reported as null.
    if (typeof raw === 'string') items.push(ModelMetaSchema.parse(JSON.parse(raw)));
  }
  return { items, nextCursor: page.nextCursor };
}
