import type { Redis } from 'ioredis';
import { builtinDatasets, loadBuiltinDataset, makeDataset, type DatasetSplit } from '../engine/index.ts';
import type { Keys } from '../redis/keys.ts';
import { getDatasetMeta, loadDatasetArrays } from '../redis/dataset-store.ts';
import { DatasetNotFoundError, DatasetSizeError } from './errors.ts';

/**
 * One entry point for "the data a job trains on", whatever its origin: an engine built-in (`mnist`,
 * `synthetic-…`) or an upload stored in Redis. The API checks a submission with {@link describeDataset}; the
 * worker loads with {@link loadDataset}.
 */

export interface DatasetRefLike {
  id: string;
  trainSize?: number;
  testSize?: number;
  seed?: number;
}

export interface DatasetDescription {
  inputShape: number[];
  classes: number;
  /** The default train size (a built-in's default; an upload's whole train split, also its maximum). */
  trainSize: number;
  /** The default test size (likewise). */
  testSize: number;
  /** Samples available in all: a built-in's train + test sizes may add up to at most this. */
  size: number;
  source: 'builtin' | 'upload';
}

/** Shape, classes and sizes of a dataset, or null when the id is unknown. Reads only the meta. */
export async function describeDataset(redis: Redis, keys: Keys, ref: Pick<DatasetRefLike, 'id'>): Promise<DatasetDescription | null> {
  const builtin = builtinDatasets.find((d) => d.id === ref.id);
  if (builtin) return { inputShape: [...builtin.inputShape], classes: builtin.classes, trainSize: builtin.trainSize, testSize: builtin.testSize, size: builtin.size, source: 'builtin' };
  const meta = await getDatasetMeta(redis, keys, ref.id);
  if (!meta) return null;
  return { inputShape: [...meta.inputShape], classes: meta.classes, trainSize: meta.trainSize, testSize: meta.testSize, size: meta.trainSize + meta.testSize, source: 'upload' };
}

/**
 * Whether `ref.trainSize`/`ref.testSize` fit the described dataset: a built-in draws both from one pool of
 * `size` samples; an upload's splits are fixed, so each must fit its own split. Problems use the job spec's
 * paths (`dataset.trainSize`), for a 400 at submission.
 */
export function datasetRefProblems(desc: DatasetDescription, ref: DatasetRefLike): { path: string; message: string }[] {
  const train = ref.trainSize ?? desc.trainSize;
  const test = ref.testSize ?? desc.testSize;
  if (desc.source === 'builtin') {
    return train + test > desc.size ? [{ path: 'dataset.trainSize', message: `trainSize ${train} + testSize ${test} exceeds the ${desc.size} samples of dataset ${ref.id}` }] : [];
  }
  const out: { path: string; message: string }[] = [];
  if (train > desc.trainSize) out.push({ path: 'dataset.trainSize', message: `${train} exceeds the ${desc.trainSize} train samples of dataset ${ref.id}` });
  if (test > desc.testSize) out.push({ path: 'dataset.testSize', message: `${test} exceeds the ${desc.testSize} test samples of dataset ${ref.id}` });
  return out;
}

/**
 * Load the train and test splits. Built-ins go through the engine (which splits mnist by a permutation seeded
 * with `ref.seed`). An upload's splits are the uploaded ones; `trainSize`/`testSize` keep their first N samples
 * (upload order: shuffle before uploading if the file is sorted by class). Asking for more than a split holds
 * throws {@link DatasetSizeError}; an unknown id throws {@link DatasetNotFoundError}.
 */
export async function loadDataset(redis: Redis, keys: Keys, ref: DatasetRefLike): Promise<DatasetSplit> {
  if (builtinDatasets.some((d) => d.id === ref.id)) {
    return loadBuiltinDataset({ id: ref.id, trainSize: ref.trainSize, testSize: ref.testSize, seed: ref.seed ?? 0 });
  }
  const stored = await loadDatasetArrays(redis, keys, ref.id);
  if (!stored) throw new DatasetNotFoundError(ref.id);
  const { meta } = stored;
  const sampleSize = meta.inputShape.reduce((a, b) => a * b, 1);
  const take = (split: typeof stored.train, n: number | undefined, path: string) => {
    const k = n ?? split.n;
    if (k > split.n) throw new DatasetSizeError(path, `asks for ${k} samples, dataset ${meta.id} has ${split.n}`);
    return makeDataset(split.x.subarray(0, k * sampleSize), split.y.subarray(0, k), [...meta.inputShape], meta.classes);
  };
  return { train: take(stored.train, ref.trainSize, 'dataset.trainSize'), test: take(stored.test, ref.testSize, 'dataset.testSize') };
}
