import { describe, expect, it } from 'vitest';
import { convGeometry } from '../../../src/engine/kernels/backend.ts';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from '../../../src/engine/kernels/pool.ts';

describe('pool kernels', () => {
  it('max pool 2×2 s2 picks window maxima and sends gradients to them', () => {
    const x = Float32Array.of(1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, 9, 0, 1, 2);
    const g = convGeometry(1, 1, 4, 4, 2, 2, 2, 2, 0, 0);
    const y = new Float32Array(4);
    const arg = new Int32Array(4);
    maxPoolForward(x, g, y, arg);
    expect(Array.from(y)).toEqual([5, 8, 9, 2]);
    expect(Array.from(arg)).toEqual([1, 6, 12, 15]);
    const dx = new Float32Array(16).fill(3);
    maxPoolBackward(Float32Array.of(1, 2, 3, 4), arg, 4, 16, dx);
    expect(Array.from(dx)).toEqual([0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 4]);
  });

  it('max pool ties go to the first position in row-major window order', () => {
    const x = Float32Array.of(7, 7, 7, 7);
    const arg = new Int32Array(1);
    maxPoolForward(x, convGeometry(1, 1, 2, 2, 2, 2, 2, 2, 0, 0), new Float32Array(1), arg);
    expect(arg[0]).toBe(0);
    const x2 = Float32Array.of(1, 6, 6, 2);
    maxPoolForward(x2, convGeometry(1, 1, 2, 2, 2, 2, 2, 2, 0, 0), new Float32Array(1), arg);
    expect(arg[0]).toBe(1);
  });

  it('overlapping max pool 3×3 s2 sums gradients where windows share the argmax', () => {
    // 5×5 with its maximum in the centre (index 12): all four 3×3 s2 windows contain it.
    const x = Float32Array.from({ length: 25 }, (_, i) => (i === 12 ? 100 : i));
    const g = convGeometry(1, 1, 5, 5, 3, 3, 2, 2, 0, 0);
    const y = new Float32Array(4);
    const arg = new Int32Array(4);
    maxPoolForward(x, g, y, arg);
    expect(Array.from(y)).toEqual([100, 100, 100, 100]);
    const dx = new Float32Array(25);
    maxPoolBackward(Float32Array.of(1, 2, 3, 4), arg, 4, 25, dx);
    expect(dx[12]).toBe(10);
    expect(dx.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('max pool padding is −∞: negative inputs win over the padded border', () => {
    const x = Float32Array.of(-1, -2, -3, -4);
    const g = convGeometry(1, 1, 2, 2, 2, 2, 2, 2, 1, 1);
    const y = new Float32Array(4);
    maxPoolForward(x, g, y, new Int32Array(4));
    expect(Array.from(y)).toEqual([-1, -2, -3, -4]);
  });

  it('avg pool counts padded zeros (count_include_pad) and spreads gradients evenly', () => {
    const x = Float32Array.of(1, 2, 3, 4);
    const g = convGeometry(1, 1, 2, 2, 2, 2, 2, 2, 1, 1);
    const y = new Float32Array(4);
    avgPoolForward(x, g, y);
    expect(Array.from(y)).toEqual([0.25, 0.5, 0.75, 1]);
    const g2 = convGeometry(1, 1, 3, 3, 2, 2, 1, 1, 0, 0);
    const dx = new Float32Array(9);
    avgPoolBackward(Float32Array.of(4, 4, 4, 4), g2, dx);
    expect(Array.from(dx)).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
  });
});
