import { describe, expect, it } from 'vitest';
import { convGeometry } from '../../../src/engine/kernels/backend.ts';
import { referenceBackend as be } from '../../../src/engine/kernels/reference.ts';
import { Rng } from '../../../src/engine/random.ts';

function randArray(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Naive C = op(A)·op(B) (+ C0) in float64. */
function naiveGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C0?: Float32Array): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = C0 ? C0[i * N + j] : 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
      C[i * N + j] = s;
    }
  }
  return C;
}

describe('referenceBackend.gemm', () => {
  const cases = [
    [false, false], [true, false], [false, true], [true, true],
  ] as const;
  it.each(cases)('transA=%s transB=%s matches a naive triple loop on 7×5·5×9 (beta 0 and 1)', (tA, tB) => {
    const rng = new Rng(1);
    const M = 7, N = 9, K = 5;
    const A = randArray(M * K, rng);
    const B = randArray(K * N, rng);
    const C = new Float32Array(M * N).fill(Number.NaN); // beta 0 must ignore garbage in C
    be.gemm(tA, tB, M, N, K, A, B, C, 0);
    const want = naiveGemm(tA, tB, M, N, K, A, B);
    for (let i = 0; i < M * N; i++) expect(C[i]).toBeCloseTo(want[i], 5);
    const C0 = randArray(M * N, rng);
    const C1 = Float32Array.from(C0);
    be.gemm(tA, tB, M, N, K, A, B, C1, 1);
    const want1 = naiveGemm(tA, tB, M, N, K, A, B, C0);
    for (let i = 0; i < M * N; i++) expect(C1[i]).toBeCloseTo(want1[i], 5);
  });

  it('touches only the first M·N elements of a longer C', () => {
    const C = new Float32Array(10).fill(7);
    be.gemm(false, false, 2, 2, 1, Float32Array.of(1, 2), Float32Array.of(3, 4), C, 0);
    expect(Array.from(C)).toEqual([3, 4, 6, 8, 7, 7, 7, 7, 7, 7]);
  });
});

function im2col(x: Float32Array, N: number, C: number, H: number, W: number, KH: number, KW: number, S: number, P: number) {
  const g = convGeometry(N, C, H, W, KH, KW, S, S, P, P);
  const col = new Float32Array(N * g.OH * g.OW * C * KH * KW);
  be.im2col(x, g, col);
  return { g, col, rows: N * g.OH * g.OW, cols: C * KH * KW };
}

describe('referenceBackend.im2col / col2im (COURSE.md A9, B3)', () => {
  it.each([
    [[2, 1, 4, 4], 3, 3, 1, 0, [8, 9]],
    [[2, 1, 4, 4], 2, 2, 1, 0, [18, 4]],
    [[2, 1, 4, 4], 4, 4, 1, 0, [2, 16]],
    [[2, 1, 4, 4], 3, 3, 2, 0, [2, 9]],
    [[2, 1, 4, 4], 3, 3, 1, 1, [32, 9]],
    [[2, 1, 4, 4], 2, 2, 1, 1, [50, 4]],
    [[2, 1, 4, 4], 4, 3, 1, 0, [4, 12]],
    [[2, 1, 5, 5], 3, 3, 1, 0, [18, 9]],
    [[2, 1, 11, 11], 5, 5, 2, 2, [72, 25]],
    [[2, 2, 4, 4], 2, 2, 1, 0, [18, 8]],
  ] as [number[], number, number, number, number, number[]][])('input %j, %i×%i kernel, stride %i, pad %i → col %j', (shape, KH, KW, S, P, want) => {
    const [N, C, H, W] = shape as [number, number, number, number];
    const r = im2col(new Float32Array(N * C * H * W), N, C, H, W, KH, KW, S, P);
    expect([r.rows, r.cols]).toEqual(want);
  });

  it('row 0 of arange(16) as 4×4 with a 3×3 kernel is [0,1,2,4,5,6,8,9,10]', () => {
    const x = Float32Array.from({ length: 16 }, (_, i) => i);
    const { col } = im2col(x, 1, 1, 4, 4, 3, 3, 1, 0);
    expect(Array.from(col.subarray(0, 9))).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10]);
    expect(Array.from(col.subarray(27, 36))).toEqual([5, 6, 7, 9, 10, 11, 13, 14, 15]);
  });

  it('orders columns by channel, kernel row, kernel column and zero-pads', () => {
    // 2 channels of 2×2, 2×2 kernel, pad 1: first window covers padding except x[c,0,0] at kernel (1,1).
    const x = Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40);
    const { col, g } = im2col(x, 1, 2, 2, 2, 2, 2, 1, 1);
    expect([g.OH, g.OW]).toEqual([3, 3]);
    expect(Array.from(col.subarray(0, 8))).toEqual([0, 0, 0, 1, 0, 0, 0, 10]);
  });

  it('reproduces the golden col2im(im2col(x)) example (ffalo64, 3×3 S1 P0)', () => {
    const x = Float32Array.of(18, 98, 38, 4, 21, 97, 8, 26, 67, 44, 29, 15, 71, 51, 41, 33);
    const { g, col } = im2col(x, 1, 1, 4, 4, 3, 3, 1, 0);
    const back = new Float32Array(16).fill(-1);
    be.col2im(col, g, back);
    expect(Array.from(back)).toEqual([18, 196, 76, 4, 42, 388, 32, 52, 134, 176, 116, 30, 71, 102, 82, 33]);
  });

  it.each([
    [3, 1, 0, [1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1]],
    [2, 1, 0, [1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1]],
    [3, 1, 1, [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]],
  ])('coverage of a 4×4 input with %i×%i… kernel, stride %i, pad %i (col2im of im2col(ones))', (K, S, P, want) => {
    const { g, col } = im2col(new Float32Array(16).fill(1), 1, 1, 4, 4, K, K, S, P);
    const cov = new Float32Array(16);
    be.col2im(col, g, cov);
    expect(Array.from(cov)).toEqual(want);
  });

  it('col2im is the adjoint of im2col: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ on random geometries', () => {
    const rng = new Rng(12);
    for (let trial = 0; trial < 25; trial++) {
      const N = 1 + rng.int(2), C = 1 + rng.int(3), H = 3 + rng.int(6), W = 3 + rng.int(6);
      const KH = 1 + rng.int(Math.min(H, 4)), KW = 1 + rng.int(Math.min(W, 4));
      const S = 1 + rng.int(3), P = rng.int(3);
      const g = convGeometry(N, C, H, W, KH, KW, S, S, P, P);
      const x = randArray(N * C * H * W, rng);
      const c = randArray(N * g.OH * g.OW * C * KH * KW, rng);
      const col = new Float32Array(c.length);
      be.im2col(x, g, col);
      const dx = new Float32Array(x.length);
      be.col2im(c, g, dx);
      let lhs = 0, rhs = 0;
      for (let i = 0; i < c.length; i++) lhs += col[i] * c[i];
      for (let i = 0; i < x.length; i++) rhs += x[i] * dx[i];
      expect(Math.abs(lhs - rhs), `trial ${trial}: ${JSON.stringify(g)}`).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
    }
  });
});
