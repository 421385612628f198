import { type ConvGeometry, type KernelBackend, registerDefaultBackend } from './backend.ts';

/**
 * The plain JavaScript kernel backend: the reference every faster backend is tested against.
 * Written for clarity first, but without allocation and with cache-friendly loop orders, so it is
 * also a usable fallback. Buffers are ordinary `Float32Array`s.
 */

/**
 * C (M×N) = op(A)·op(B) + beta·C, row-major. See {@link KernelBackend.gemm}.
 * Loop order i-k-j for the row-times-row cases (contiguous inner loop over C and B), dot products
 * for the Bᵀ cases (contiguous inner loop over A's row and B's row). Sums run over k in increasing order.
 */
function gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, beta: 0 | 1): void {
  // NOTE: fill first instead of scaling, so NaN/garbage in C is ignored when beta = 0 (BLAS semantics).
  if (beta === 0) C.fill(0, 0, M * N);
  if (!transB) {
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let k = 0; k < K; k++) {
        // A is M×K (row i, column k) or K×M when transposed (row k, column i).
        const a = transA ? A[k * M + i] : A[i * K + k];
        const bk = k * N;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
      }
    }
    return;
  }
  // B is N×K: C[i, j] = Σ_k op(A)[i, k] · B[j, k].
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let j = 0; j < N; j++) {
      const bj = j * K;
      let s = 0;
      if (transA) for (let k = 0; k < K; k++) s += A[k * M + i] * B[bj + k];
      else {
        const ai = i * K;
        for (let k = 0; k < K; k++) s += A[ai + k] * B[bj + k];
      }
      C[ci + j] = C[ci + j] + s;
    }
  }
}

/**
 * im2col: x (N, C, H, W) → col (N·OH·OW, C·KH·KW), zero padding (COURSE.md B3 layout).
 * Row r = (n·OH + oy)·OW + ox; column (c·KH + ky)·KW + kx holds x[n, c, oy·SH − PH + ky, ox·SW − PW + kx].
 */
function im2col(x: Float32Array, g: ConvGeometry, col: Float32Array): void {
  const { N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW } = g;
  let r = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++) {
          const plane = (n * C + c) * H;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * SH - PH + ky;
            const rowOk = iy >= 0 && iy < H;
            const xrow = (plane + iy) * W;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * SW - PW + kx;
              col[r++] = rowOk && ix >= 0 && ix < W ? x[xrow + ix] : 0;
            }
          }
        }
      }
    }
  }
}

/**
 * col2im, the adjoint of im2col: dx (N, C, H, W) = Σ over every col entry of its value at the pixel it was
 * read from (overlaps summed, padding dropped). Overwrites dx.
 */
function col2im(dcol: Float32Array, g: ConvGeometry, dx: Float32Array): void {
  const { N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW } = g;
  dx.fill(0, 0, N * C * H * W);
  let r = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++) {
          const plane = (n * C + c) * H;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * SH - PH + ky;
            const rowOk = iy >= 0 && iy < H;
            const xrow = (plane + iy) * W;
            for (let kx = 0; kx < KW; kx++, r++) {
              const ix = ox * SW - PW + kx;
              if (rowOk && ix >= 0 && ix < W) dx[xrow + ix] += dcol[r];
            }
          }
        }
      }
    }
  }
}

/** The reference (plain JavaScript, single-threaded) kernel backend, named `js`. */
export const referenceBackend: KernelBackend = {
  name: 'js',
  alloc: (n: number) => new Float32Array(n),
  free: () => {},
  gemm,
  im2col,
  col2im,
  setThreads: () => {},
};

registerDefaultBackend(() => referenceBackend);
