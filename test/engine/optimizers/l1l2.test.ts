import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../src/engine/errors.ts';
import type { Param } from '../../../src/engine/layers/layer.ts';
import { L1L2 } from '../../../src/engine/regularizers/l1l2.ts';

function p(name: string, values: number[], grads: number[], regularize: boolean): Param {
  return { name, shape: [values.length], value: new Float32Array(values), grad: new Float32Array(grads), regularize };
}

describe('L1L2', () => {
  it('penalty = l1·Σ|W| + ½·l2·ΣW² over regularized params only', () => {
    const w = p('weight', [1, -2, 0, 0.5], [0, 0, 0, 0], true);
    const b = p('bias', [10, -10], [0, 0], false);
    const gamma = p('gamma', [3], [0], false);
    // Σ|W| = 1 + 2 + 0 + 0.5 = 3.5;  ΣW² = 1 + 4 + 0 + 0.25 = 5.25
    expect(new L1L2({ l1: 0.1 }).penalty([w, b, gamma])).toBeCloseTo(0.35, 12);
    expect(new L1L2({ l2: 0.1 }).penalty([w, b, gamma])).toBeCloseTo(0.2625, 12); // ½·0.1·5.25
    expect(new L1L2({ l1: 0.1, l2: 0.1 }).penalty([w, b, gamma])).toBeCloseTo(0.6125, 12);
    expect(new L1L2().penalty([w])).toBe(0);
  });

  it('gradient += l1·sign(W) + l2·W with sign(0) = 0; biases and batchnorm params untouched', () => {
    const w = p('weight', [1, -2, 0, 0.5], [0.1, 0.1, 0.1, 0.1], true);
    const b = p('bias', [10, -10], [0.5, 0.5], false);
    const beta = p('beta', [3], [0.25], false);
    new L1L2({ l1: 0.01, l2: 0.1 }).addGradients([w, b, beta]);
    // 0.1 + 0.01·1 + 0.1·1 = 0.21;  0.1 − 0.01 − 0.2 = −0.11;  0.1 + 0 + 0 = 0.1;  0.1 + 0.01 + 0.05 = 0.16
    const g = Array.from(w.grad);
    [0.21, -0.11, 0.1, 0.16].forEach((e, i) => expect(g[i]).toBeCloseTo(e, 6));
    expect(Array.from(b.grad)).toEqual([0.5, 0.5]);
    expect(Array.from(beta.grad)).toEqual([0.25]);
  });

  it('refuses a negative or non-finite λ with the value in the message', () => {
    expect(() => new L1L2({ l1: -0.1 })).toThrow(SpecError);
    expect(() => new L1L2({ l2: Infinity })).toThrow(/l2 must be a finite number ≥ 0, got Infinity/);
  });
});
