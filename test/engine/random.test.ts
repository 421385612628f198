import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';

describe('Rng (xoshiro128**)', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('matches the reference xoshiro128** recurrence for a known state', () => {
    // Reference: xoshiro128starstar.c with s = {1, 2, 3, 4}: result = rotl(s1 * 5, 7) * 9.
    // First output: rotl(2*5=10, 7) = 1280; 1280*9 = 11520.
    // State update: t = 2<<9 = 1024; s2 ^= s0 -> 2; s3 ^= s1 -> 6; s1 ^= s2 -> 0; s0 ^= s3 -> 7; s2 ^= t -> 1026; s3 = rotl(6, 11) = 12288.
    // Second output: rotl(s1*5 = 0, 7) * 9 = 0.
    const r = new Rng(0);
    r.setState([1, 2, 3, 4]);
    expect(r.nextUint32()).toBe(11520);
    expect(r.state()).toEqual([7, 0, 1026, 12288]);
    expect(r.nextUint32()).toBe(0);
  });

  it('restores a saved state exactly', () => {
    const r = new Rng(7);
    for (let i = 0; i < 37; i++) r.next();
    const saved = r.state();
    const tail = Array.from({ length: 20 }, () => r.normal());
    const r2 = new Rng(999);
    r2.setState(saved);
    expect(Array.from({ length: 20 }, () => r2.normal())).toEqual(tail);
  });

  it('rejects an all-zero or short state', () => {
    const r = new Rng(1);
    expect(() => r.setState([0, 0, 0, 0])).toThrow(RangeError);
    expect(() => r.setState([1, 2, 3])).toThrow(RangeError);
  });

  it('draws uniforms in [0, 1) with mean 1/2 and normals with mean 0 and std 1', () => {
    const r = new Rng(3);
    const n = 200_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      su += u;
      min = Math.min(min, u);
      max = Math.max(max, u);
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // Bounds of 5 standard errors: sd(U)/√n = 0.29/√n, sd(Z)/√n = 1/√n, sd(Z²)/√n = √2/√n.
    const se = 1 / Math.sqrt(n);
    expect(Math.abs(su / n - 0.5)).toBeLessThan(5 * 0.29 * se);
    expect(Math.abs(sn / n)).toBeLessThan(5 * se);
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(5 * Math.SQRT2 * se);
  });

  it('int(n) is uniform over [0, n) and permutation() is a permutation', () => {
    const r = new Rng(5);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const p = Array.from(r.permutation(1000));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(() => r.int(0)).toThrow(RangeError);
  });
});
