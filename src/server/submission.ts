import type { Redis } from 'ioredis';
import type { Env } from '../config/env.ts';
import { JobSpecSchema, type JobSpec } from '../contracts/job-spec.ts';
import { describeDataset } from '../datasets/resolve.ts';
import { builtinDatasets, describeModel, expectedTensors, resolveModelSpec, ShapeError, SpecError, type LayersModelSpec } from '../engine/index.ts';
import type { Keys } from '../redis/keys.ts';
import { getModelMeta } from '../redis/model-store.ts';
import { ValidationError, type FieldError } from './errors.ts';
import { flattenIssues, formatPath } from './zod-issues.ts';

/** Submission limits (env `MAX_*`): a spec over them is a 400, not a worker that runs out of memory. */
export type SubmissionLimits = Pick<Env, 'MAX_LAYERS' | 'MAX_PARAMS' | 'MAX_EPOCHS'>;

export interface SubmissionContext {
  redis: Redis;
  keys: Keys;
  limits: SubmissionLimits;
}

/**
 * Everything `POST /v1/jobs` checks before a job exists, so that a spec that cannot train is refused at submission
 * and never fails on a worker: the zod schema (unknown fields, types, ranges), then — on what parsed — the dataset
 * (built-in or uploaded, sizes), the model against it (preset expansion, the engine's shape check, the class
 * count), `initFrom` (exists, same architecture) and the limits. EVERY problem is collected and thrown at once as
 * a {@link ValidationError}; checks that need a valid neighbour (the shape check needs the dataset) are skipped
 * when that neighbour is already reported.
 */
export async function validateSubmission(raw: unknown, ctx: SubmissionContext): Promise<JobSpec> {
  const errors: FieldError[] = [];
  const parsed = JobSpecSchema.safeParse(raw);
  if (!parsed.success) errors.push(...flattenIssues(parsed.error.issues, raw));
  const has = (path: string) => errors.some((e) => e.path === path || e.path.startsWith(`${path}.`));
  const add = (path: string, message: string) => {
    if (!errors.some((e) => e.path === path && e.message === message)) errors.push({ path, message });
  };

  // Checks that stand on their own, also when other fields failed to parse (so one answer lists everything).
  const r = (raw ?? {}) as { dataset?: { id?: unknown }; training?: { epochs?: unknown }; model?: { layers?: unknown } };
  const epochs = r.training?.epochs;
  if (typeof epochs === 'number' && Number.isInteger(epochs) && epochs > ctx.limits.MAX_EPOCHS) {
    add('training.epochs', `at most ${ctx.limits.MAX_EPOCHS} epochs (MAX_EPOCHS), got ${epochs}`);
  }
  const layers = r.model?.layers;
  if (Array.isArray(layers) && layers.length > ctx.limits.MAX_LAYERS) {
    add('model.layers', `at most ${ctx.limits.MAX_LAYERS} layers (MAX_LAYERS), got ${layers.length}`);
  }
  const datasetId = r.dataset?.id;
  const dataset = typeof datasetId === 'string' && datasetId.length > 0 && !has('dataset.id') ? await describeDataset(ctx.redis, ctx.keys, { id: datasetId }) : null;
  if (typeof datasetId === 'string' && datasetId.length > 0 && !has('dataset.id') && !dataset) {
    const builtins = builtinDatasets.map((d) => d.id).join(', ');
    add('dataset.id', `unknown dataset ${JSON.stringify(datasetId)}: neither a built-in (${builtins}) nor an uploaded dataset`);
  }

  if (parsed.success && dataset) {
    const spec = parsed.data;
    checkDatasetSizes(spec, dataset, add);
    const resolved = checkModel(spec, dataset, ctx.limits, add);
    if (resolved && spec.model.initFrom !== undefined) await checkInitFrom(ctx, spec.model.initFrom, resolved, add);
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return (parsed as { data: JobSpec }).data;
}

type Add = (path: string, message: string) => void;
type DatasetInfo = NonNullable<Awaited<ReturnType<typeof describeDataset>>>;

function checkDatasetSizes(spec: JobSpec, dataset: DatasetInfo, add: Add): void {
  const { id, trainSize, testSize } = spec.dataset;
  const builtin = builtinDatasets.find((d) => d.id === id);
  if (builtin) {
    // A built-in is split from one pool: train and test together may take all of it.
    const train = trainSize ?? builtin.trainSize;
    const test = testSize ?? builtin.testSize;
    if (train + test > builtin.size) {
      const path = trainSize !== undefined ? 'dataset.trainSize' : 'dataset.testSize';
      add(path, `trainSize ${train} + testSize ${test} exceeds the ${builtin.size} samples of ${id}`);
    }
    return;
  }
  if (trainSize !== undefined && trainSize > dataset.trainSize) add('dataset.trainSize', `at most ${dataset.trainSize} (the train split of ${id}), got ${trainSize}`);
  if (testSize !== undefined && testSize > dataset.testSize) add('dataset.testSize', `at most ${dataset.testSize} (the test split of ${id}), got ${testSize}`);
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Resolve a preset against the dataset and shape-check the result; null when it cannot be used. */
function checkModel(spec: JobSpec, dataset: DatasetInfo, limits: SubmissionLimits, add: Add): LayersModelSpec | null {
  const model = spec.model;
  const isPreset = 'preset' in model;
  if (model.inputShape !== undefined && !sameShape(model.inputShape, dataset.inputShape)) {
    add('model.inputShape', `${fmt(model.inputShape)} does not match the input shape ${fmt(dataset.inputShape)} of dataset ${spec.dataset.id}`);
    return null;
  }
  if (isPreset && model.classes !== undefined && model.classes !== dataset.classes) {
    add('model.classes', `${model.classes} classes, but dataset ${spec.dataset.id} has ${dataset.classes}`);
    return null;
  }
  let resolved: LayersModelSpec;
  try {
    resolved = resolveModelSpec(model, { inputShape: dataset.inputShape, classes: dataset.classes });
  } catch (e) {
    if (e instanceof SpecError) {
      add(e.path.length ? formatPath(e.path) : 'model', e.message);
      return null;
    }
    throw e;
  }
  const layersPath = isPreset ? 'model' : 'model.layers';
  if (resolved.layers.length > limits.MAX_LAYERS) {
    add(layersPath, `at most ${limits.MAX_LAYERS} layers (MAX_LAYERS), ${isPreset ? `preset ${model.preset} expands to` : 'got'} ${resolved.layers.length}`);
  }
  try {
    const summary = describeModel(resolved, dataset.classes);
    if (summary.paramCount > limits.MAX_PARAMS) {
      add(isPreset ? 'model' : 'model.layers', `${summary.paramCount} parameters, at most ${limits.MAX_PARAMS} allowed (MAX_PARAMS)`);
    }
  } catch (e) {
    if (e instanceof ShapeError) {
      // A preset's layers are not in the request: name the preset, with the engine's message (it names the layer).
      add(isPreset ? 'model' : formatPath(e.path), isPreset ? `preset ${model.preset}: ${e.message}` : e.message);
      return null;
    }
    if (e instanceof SpecError) {
      add(e.path.length ? formatPath(e.path) : 'model', e.message);
      return null;
    }
    throw e;
  }
  return resolved;
}

/** `model.initFrom` must name a stored model with the same tensors (names and shapes) as this architecture. */
async function checkInitFrom(ctx: SubmissionContext, id: string, resolved: LayersModelSpec, add: Add): Promise<void> {
  const meta = await getModelMeta(ctx.redis, ctx.keys, id);
  if (!meta) {
    add('model.initFrom', `unknown model ${JSON.stringify(id)}`);
    return;
  }
  const want = expectedTensors(resolved);
  const have = new Map(expectedTensors(meta.spec).map((t) => [t.name, t.shape]));
  const diffs: string[] = [];
  for (const t of want) {
    const s = have.get(t.name);
    if (!s) diffs.push(`${t.name} missing in the stored model`);
    else if (!sameShape(s, t.shape)) diffs.push(`${t.name} is ${fmt(s)} in the stored model, ${fmt(t.shape)} here`);
    have.delete(t.name);
  }
  for (const name of have.keys()) diffs.push(`${name} only in the stored model`);
  if (diffs.length > 0) {
    add('model.initFrom', `model ${id} has a different architecture: ${diffs.slice(0, 3).join('; ')}${diffs.length > 3 ? `; … (${diffs.length} differences)` : ''}`);
  }
}
