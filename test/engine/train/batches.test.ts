import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/engine/random.ts';
import { BatchSampler } from '../../../src/engine/train/batches.ts';

function epoch(s: BatchSampler, rng: Rng): number[][] {
  const idx = new Uint32Array(s.maxBatch);
  s.startEpoch(rng);
  return Array.from({ length: s.batchesPerEpoch }, () => Array.from(idx.subarray(0, s.next(rng, idx))));
}

describe('BatchSampler', () => {
  it('shuffle: each epoch is a seeded permutation in ⌈N/B⌉ batches, the last one smaller', () => {
    const s = new BatchSampler(10, 4, 'shuffle');
    expect(s.batchesPerEpoch).toBe(3);
    const rng = new Rng(1);
    const e1 = epoch(s, rng);
    expect(e1.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(e1.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The permutation is Rng.permutation's (same draws) from the same state.
    expect(e1.flat()).toEqual(Array.from(new Rng(1).permutation(10)));
    const e2 = epoch(s, rng);
    expect(e2.flat()).not.toEqual(e1.flat());
    expect(e2.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('sequential: dataset order, starting again each epoch', () => {
    const s = new BatchSampler(5, 2, 'sequential');
    const rng = new Rng(1);
    const before = rng.state();
    expect(epoch(s, rng)).toEqual([[0, 1], [2, 3], [4]]);
    expect(epoch(s, rng)).toEqual([[0, 1], [2, 3], [4]]);
    expect(rng.state()).toEqual(before); // no draws
  });

  it('replacement: full batches of uniform draws with replacement (rng.int(N) per index)', () => {
    const s = new BatchSampler(300, 100, 'replacement', 10);
    expect(s.batchesPerEpoch).toBe(10);
    const rng = new Rng(7);
    const batches = epoch(s, rng);
    expect(batches.every((b) => b.length === 100)).toBe(true);
    const ref = new Rng(7);
    expect(batches[0]).toEqual(Array.from({ length: 100 }, () => ref.int(300)));
    // With 100 draws out of 300, a repeated index is all but certain (1 − P(no repeat) ≈ 1 − 4e-8).
    expect(new Set(batches[0]).size).toBeLessThan(100);
  });

  it('an epoch longer than one pass starts a new permutation; a batch larger than N is capped', () => {
    const s = new BatchSampler(4, 3, 'shuffle', 4);
    const e = epoch(s, new Rng(3));
    expect(e.map((b) => b.length)).toEqual([3, 1, 3, 1]);
    expect([...e[0]!, ...e[1]!].sort()).toEqual([0, 1, 2, 3]);
    expect([...e[2]!, ...e[3]!].sort()).toEqual([0, 1, 2, 3]);
    const big = new BatchSampler(3, 10, 'sequential');
    expect(big.maxBatch).toBe(3);
    expect(epoch(big, new Rng(0))).toEqual([[0, 1, 2]]);
  });
});
