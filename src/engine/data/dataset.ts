import { SpecError } from '../errors.ts';

/**
 * A labelled in-memory dataset. `x` holds `n` samples back to back, each of ∏`inputShape` floats in
 * row-major (C, H, W) order: x is (n, ...inputShape). `y[i]` is the class id of sample i, in [0, classes).
 */
export interface Dataset {
  /** (n, ...inputShape) row-major samples. */
  readonly x: Float32Array;
  /** (n) class ids in [0, classes). */
  readonly y: Uint8Array;
  /** Number of samples. */
  readonly n: number;
  /** Per-sample shape: `[features]` or `[channels, height, width]`. */
  readonly inputShape: number[];
  /** Number of classes (2..256). */
  readonly classes: number;
}

/** A training and a test set with the same `inputShape` and `classes`. */
export interface DatasetSplit {
  train: Dataset;
  test: Dataset;
}

/**
 * Validate and wrap samples as a {@link Dataset}. Checks that `inputShape` is `[F]` or `[C, H, W]` of
 * positive integers, `classes` is an integer in [2, 256], there is at least one sample,
 * `x.length = y.length · ∏inputShape`, every value of `x` is finite and every label an integer in
 * [0, classes). Throws `SpecError` (code `INVALID_DATASET`) naming the first offending index.
 * `x` is used as is (not copied); `y` is copied into a Uint8Array unless it already is one.
 */
export function makeDataset(x: Float32Array, y: ArrayLike<number>, inputShape: number[], classes: number): Dataset {
  const bad = (msg: string, field: string): never => {
    throw new SpecError(`dataset: ${msg}`, ['dataset', field], 'INVALID_DATASET');
  };
  if (!Array.isArray(inputShape) || (inputShape.length !== 1 && inputShape.length !== 3) || !inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
    bad(`inputShape must be [features] or [channels, height, width] of positive integers, got ${JSON.stringify(inputShape)}`, 'inputShape');
  }
  if (!Number.isInteger(classes) || classes < 2 || classes > 256) bad(`classes must be an integer in [2, 256], got ${classes}`, 'classes');
  const n = y.length;
  if (n < 1) bad('needs at least one sample', 'y');
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * size) bad(`x has ${x.length} values, expected ${n} samples × ${size} = ${n * size}`, 'x');
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) bad(`x[${i}] (sample ${Math.floor(i / size)}) is ${x[i]}, not a finite number`, 'x');
  }
  for (let i = 0; i < n; i++) {
    const c = y[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= classes) bad(`label y[${i}] = ${c} is not an integer in [0, ${classes})`, 'y');
  }
  const labels = y instanceof Uint8Array ? y : Uint8Array.from(y);
  return { x, y: labels, n, inputShape: [...inputShape], classes };
}

/** Rows `idx[from..to)` of `d` as a new dataset (copies). */
export function subset(d: Dataset, idx: ArrayLike<number>, from = 0, to = idx.length): Dataset {
  const size = d.x.length / d.n;
  const n = to - from;
  const x = new Float32Array(n * size);
  const y = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[from + k]!;
    x.set(d.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = d.y[i]!;
  }
  return { x, y, n, inputShape: [...d.inputShape], classes: d.classes };
}
