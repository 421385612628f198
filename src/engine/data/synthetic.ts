import { Rng } from '../random.ts';
import type { Dataset } from './dataset.ts';

/**
 * Small deterministic datasets for fast tests: sample i has class `i mod classes` and its features are drawn
 * from `new Rng(seed)` in sample order with a fixed number of draws per sample, so sample i depends only
 * on (seed, i): a larger set extends a smaller one.
 */
export interface SyntheticGenerator {
  readonly inputShape: number[];
  readonly classes: number;
  /** `n` samples generated from `seed`. */
  generate(n: number, seed: number): Dataset;
}

function make(inputShape: number[], classes: number, sample: (rng: Rng, c: number, out: Float32Array) => void): SyntheticGenerator {
  const size = inputShape.reduce((a, b) => a * b, 1);
  return {
    inputShape,
    classes,
    generate(n: number, seed: number): Dataset {
      const rng = new Rng(seed);
      const x = new Float32Array(n * size);
      const y = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const c = i % classes;
        y[i] = c;
        sample(rng, c, x.subarray(i * size, (i + 1) * size));
      }
      return { x, y, n, inputShape: [...inputShape], classes };
    },
  };
}

/**
 * `synthetic-blobs`: 3 Gaussian blobs in 2-D. Class c is centred at 2.5·(cos 2πc/3, sin 2πc/3) with
 * std 0.8 per axis (centres 4.3 apart: a linear model reaches about 99%).
 */
export const blobs2 = make([2], 3, (rng, c, out) => {
  const a = (2 * Math.PI * c) / 3;
  out[0] = 2.5 * Math.cos(a) + 0.8 * rng.normal();
  out[1] = 2.5 * Math.sin(a) + 0.8 * rng.normal();
});

/**
 * `synthetic-blobs-8`: 4 Gaussian blobs in 8-D. Class c is centred at 2.5 on features 2c and 2c+1 and 0
 * elsewhere, std 1 per feature (centres 5 apart).
 */
export const blobs8 = make([8], 4, (rng, c, out) => {
  for (let f = 0; f < 8; f++) out[f] = (f >> 1 === c ? 2.5 : 0) + rng.normal();
});

/**
 * `synthetic-spirals`: 3 interleaved spiral arms in 2-D (the CS231n toy set, not linearly separable).
 * t ~ U[0,1); radius t; angle 2πc/3 + 4t + 0.2·N(0,1); point (t·sin θ, t·cos θ).
 */
export const spirals = make([2], 3, (rng, c, out) => {
  const t = rng.next();
  const theta = (2 * Math.PI * c) / 3 + 4 * t + 0.2 * rng.normal();
  out[0] = t * Math.sin(theta);
  out[1] = t * Math.cos(theta);
});

/**
 * `synthetic-images`: 1×8×8 images of 4 patterns at a random position, on uniform noise in [0, 0.3):
 * 0 a horizontal bar (one full row, rows 1..6), 1 a vertical bar (one full column, 1..6),
 * 2 a diagonal (y = x + k, k in −2..2), 3 a filled 3×3 square (top-left in 0..5 each way). Pattern pixels
 * are 1. Learnable by an MLP or a small CNN within a few epochs.
 */
export const images8 = make([1, 8, 8], 4, (rng, c, out) => {
  for (let i = 0; i < 64; i++) out[i] = 0.3 * rng.next();
  const a = rng.int(6);
  const b = rng.int(6);
  switch (c) {
    case 0:
      for (let x = 0; x < 8; x++) out[(1 + a) * 8 + x] = 1;
      break;
    case 1:
      for (let y = 0; y < 8; y++) out[y * 8 + 1 + a] = 1;
      break;
    case 2: {
      const k = (a % 5) - 2;
      for (let x = 0; x < 8; x++) {
        const y = x + k;
        if (y >= 0 && y < 8) out[y * 8 + x] = 1;
      }
      break;
    }
    default:
      for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) out[(a + y) * 8 + b + x] = 1;
  }
});
