import type { Rng } from '../random.ts';
import type { TrainingSpec } from '../spec/training-spec.ts';

/** How batches are drawn (`TrainingSpec.sampling`). */
export type Sampling = TrainingSpec['sampling'];

/**
 * Chooses the sample indices of each batch. Every random draw comes from the run's `Rng`, so the batch
 * order is reproduced by its seed, and nothing is carried from one epoch to the next beyond the Rng: an
 * epoch's batches depend only on the Rng state at its start (which a checkpoint saves).
 *
 * - `shuffle`: each epoch starts a pass over a fresh permutation (Fisher–Yates with `rng.int`, the same
 *   draws as `rng.permutation(n)`), batches are consecutive slices of it, the last one of a pass smaller
 *   when batchSize does not divide n. An epoch longer than one pass starts another permutation; an epoch
 *   shorter than one pass sees only its beginning.
 * - `sequential`: the same with the identity order (dataset order, no draws).
 * - `replacement`: every batch is `batchSize` indices drawn uniformly with replacement (`rng.int(n)`), the
 *   course's `np.random.choice(N, batch)`; batches are always full.
 *
 * The default epoch length is ⌈n/batchSize⌉ batches (one pass).
 */
export class BatchSampler {
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  private readonly order: Uint32Array;
  private pos = 0;

  /**
   * @param n samples in the training set (≥ 1)
   * @param batchSize samples per batch (≥ 1); capped at n for shuffle/sequential
   * @param iterationsPerEpoch batches per epoch; default ⌈n/batchSize⌉
   */
  constructor(
    readonly n: number,
    readonly batchSize: number,
    readonly sampling: Sampling,
    iterationsPerEpoch?: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`BatchSampler: n must be a positive integer, got ${n}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`BatchSampler: batchSize must be a positive integer, got ${batchSize}`);
    this.batchesPerEpoch = iterationsPerEpoch ?? Math.ceil(n / batchSize);
    this.order = new Uint32Array(sampling === 'replacement' ? 0 : n);
  }

  /** The largest batch this sampler returns. */
  get maxBatch(): number {
    return this.sampling === 'replacement' ? this.batchSize : Math.min(this.batchSize, this.n);
  }

  /** Start an epoch (shuffle: draws the epoch's permutation). */
  startEpoch(rng: Rng): void {
    if (this.sampling === 'replacement') return;
    this.newPass(rng);
  }

  /**
   * Write the next batch's sample indices into `idx[0..size)` and return `size`. Allocates nothing.
   * @param idx at least `maxBatch` entries
   */
  next(rng: Rng, idx: Uint32Array): number {
    if (this.sampling === 'replacement') {
      for (let k = 0; k < this.batchSize; k++) idx[k] = rng.int(this.n);
      return this.batchSize;
    }
    if (this.pos >= this.n) this.newPass(rng);
    const size = Math.min(this.batchSize, this.n - this.pos);
    for (let k = 0; k < size; k++) idx[k] = this.order[this.pos + k]!;
    this.pos += size;
    return size;
  }

  private newPass(rng: Rng): void {
    const p = this.order;
    for (let i = 0; i < p.length; i++) p[i] = i;
    if (this.sampling === 'shuffle') {
      // Fisher–Yates in place, the same draws as Rng.permutation without allocating a new array.
      for (let i = p.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = p[i]!;
        p[i] = p[j]!;
        p[j] = t;
      }
    }
    this.pos = 0;
  }
}
