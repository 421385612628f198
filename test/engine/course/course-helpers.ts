/**
 * Shared set-up of the course experiments (COURSE.md (a)): the course's loop is "draw a batch of 100 with
 * replacement, update, evaluate every k iterations", which keiko expresses as epochs of k iterations with
 * `sampling: 'replacement'`.
 */
import {
  buildModel, type DatasetSplit, type EpochMetrics, fit, type FitResult, ModelSpecSchema, OptimizerSpecSchema, RegularizationSpecSchema,
  resolveModelSpec, Rng, type Sequential, TrainingSpecSchema,
} from '../../../src/engine/index.ts';
import { enableWasmBackend } from '../../../src/engine/kernels/wasm/index.ts';

/**
 * Use the WebAssembly kernels when they are built (they are tested against the reference kernels, and
 * results do not depend on the backend beyond float rounding); otherwise, or with
 * `KEIKO_COURSE_KERNELS=reference` in the environment, the reference JS kernels.
 */
export function useFastestBackend(): string {
  if (process.env['KEIKO_COURSE_KERNELS'] === 'reference') return 'reference';
  return enableWasmBackend() ? 'wasm' : 'reference';
}

export interface CourseRun {
  model: Sequential;
  result: FitResult;
  last: EpochMetrics;
}

/** One course-style run: batch 100 drawn with replacement, `iterations` updates, evaluated every `every`. */
export function courseRun(opts: {
  data: DatasetSplit;
  model: Record<string, unknown>;
  optimizer: Record<string, unknown>;
  regularization?: Record<string, unknown>;
  iterations: number;
  every: number;
  seed: number;
}): CourseRun {
  const rng = new Rng(opts.seed);
  const spec = resolveModelSpec(ModelSpecSchema.parse(opts.model), { inputShape: opts.data.train.inputShape, classes: opts.data.train.classes });
  const model = buildModel(spec, rng);
  const result = fit({
    model,
    rng,
    data: opts.data,
    optimizer: OptimizerSpecSchema.parse(opts.optimizer),
    regularization: RegularizationSpecSchema.parse(opts.regularization ?? {}),
    training: TrainingSpecSchema.parse({ epochs: opts.iterations / opts.every, iterationsPerEpoch: opts.every, batchSize: 100, sampling: 'replacement', seed: opts.seed }),
  });
  return { model, result, last: result.epochs.at(-1)! };
}

/** Share of `x`'s samples (eval mode) predicted as the most frequent predicted class. */
export function topClassShare(model: Sequential, x: Float32Array, n: number, classes: number): number {
  const counts = new Array<number>(classes).fill(0);
  const size = x.length / n;
  for (let start = 0; start < n; start += 500) {
    const bs = Math.min(500, n - start);
    const logits = model.forward(x.subarray(start * size, (start + bs) * size), bs, 'eval');
    for (let i = 0; i < bs; i++) {
      let arg = 0;
      for (let k = 1; k < classes; k++) if (logits[i * classes + k]! > logits[i * classes + arg]!) arg = k;
      counts[arg]! += 1;
    }
  }
  return Math.max(...counts) / n;
}
