// keiko's WebAssembly SIMD kernels (AssemblyScript, compiled by scripts/build-wasm.mjs).
//
// Every function works on raw byte addresses in the (shared, imported) linear memory: the JavaScript side
// owns allocation, so no AssemblyScript runtime or managed object is used here. Each kernel takes a range
// of the output it writes (rows, columns or images) so that worker threads can split one call between them
// without ever splitting a reduction axis: every output element is summed in the same order whatever the
// thread count (results are bit-identical with 1 or N threads).
//
// 128-bit lanes, separate multiply and add (no fused multiply-add: relaxed SIMD needs a flag on Node 20).

// ---------------------------------------------------------------------------------------------------------
// GEMM: C = op(A)·op(B) (+ C), Goto/BLIS structure: B is packed into KC×NR micro-panels (L1-resident),
// A into MR×KC micro-panels of an MC×KC block (L2-resident); the micro-kernel keeps an MR×NR tile of C in
// registers. 4×8 (8 accumulators of 4 lanes) measured best: 40 GFLOP/s on 1024³ against 27 for 6×8 and
// 20 for 4×12, whose 12 accumulators V8 spills (it has 16 xmm registers on x64); 2×16 ties with 4×8.

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128; // multiple of MR
const NC: i32 = 1024; // multiple of NR

/** Bytes of private scratch one thread needs for gemm: the packed A block, the packed B block and an edge tile. */
export const GEMM_SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR) * 4 + 64;

// Pack op(A)[i0 .. i0+mc, p0 .. p0+kc] into ceil(mc/MR) panels, each kc × MR (row-major over k), zero padded.
function packA(transA: i32, A: usize, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const mr = min(MR, mc - ip);
    if (transA) {
      // A is K×M: op(A)[i, k] = A[k, i]; MR consecutive i are contiguous.
      let src = A + ((<usize>p0 * lda + i0 + ip) << 2);
      if (mr == MR) {
        for (let k = 0; k < kc; k++) {
          v128.store(dst, v128.load(src));
          src += <usize>lda << 2;
          dst += MR << 2;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          for (let r = 0; r < MR; r++) store<f32>(dst + (r << 2), r < mr ? load<f32>(src + (r << 2)) : 0);
          src += <usize>lda << 2;
          dst += MR << 2;
        }
      }
    } else {
      // A is M×K: row i contiguous over k.
      for (let r = 0; r < MR; r++) {
        let d = dst + (r << 2);
        if (r < mr) {
          let src = A + ((<usize>(i0 + ip + r) * lda + p0) << 2);
          for (let k = 0; k < kc; k++) {
            store<f32>(d, load<f32>(src));
            src += 4;
            d += MR << 2;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            store<f32>(d, 0);
            d += MR << 2;
          }
        }
      }
      dst += <usize>(kc * MR) << 2;
    }
  }
}

// Pack op(B)[p0 .. p0+kc, j0 .. j0+nc] into ceil(nc/NR) panels, each kc × NR, zero padded.
function packB(transB: i32, B: usize, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const nr = min(NR, nc - jp);
    if (!transB) {
      // B is K×N: NR consecutive j contiguous.
      let src = B + ((<usize>p0 * ldb + j0 + jp) << 2);
      if (nr == NR) {
        for (let k = 0; k < kc; k++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          src += <usize>ldb << 2;
          dst += NR << 2;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          for (let c = 0; c < NR; c++) store<f32>(dst + (c << 2), c < nr ? load<f32>(src + (c << 2)) : 0);
          src += <usize>ldb << 2;
          dst += NR << 2;
        }
      }
    } else {
      // B is N×K: op(B)[k, j] = B[j, k]; column j of op(B) is row j of B, contiguous over k.
      for (let c = 0; c < NR; c++) {
        let d = dst + (c << 2);
        if (c < nr) {
          let src = B + ((<usize>(j0 + jp + c) * ldb + p0) << 2);
          for (let k = 0; k < kc; k++) {
            store<f32>(d, load<f32>(src));
            src += 4;
            d += NR << 2;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            store<f32>(d, 0);
            d += NR << 2;
          }
        }
      }
      dst += <usize>(kc * NR) << 2;
    }
  }
}

// The MR×NR micro-kernel: tile (at C, row stride ldcBytes) = [tile +] Σ_k a[k]ᵀ·b[k], k increasing.
// @inline so that V8 sees one straight loop with the 12 accumulators in registers.
// @ts-ignore: decorator
@inline
function micro(kc: i32, pa: usize, pb: usize, C: usize, ldcBytes: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += MR << 2;
    pb += NR << 2;
  }
  let c = C;
  if (accumulate) {
    v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += ldcBytes;
    v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += ldcBytes;
    v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += ldcBytes;
    v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
  } else {
    v128.store(c, c00); v128.store(c, c01, 16); c += ldcBytes;
    v128.store(c, c10); v128.store(c, c11, 16); c += ldcBytes;
    v128.store(c, c20); v128.store(c, c21, 16); c += ldcBytes;
    v128.store(c, c30); v128.store(c, c31, 16);
  }
}

/**
 * C[m0..m1, n0..n1] = op(A)·op(B) (+ C when beta = 1). A is M×K (K×M when transA), B is K×N (N×K when
 * transB), C is M×N, all row-major at byte addresses. `scratch` is GEMM_SCRATCH_BYTES private to the caller.
 * The sum over k runs in KC blocks in increasing order, each block summed in increasing k: independent of
 * the [m0, m1) × [n0, n1) split, hence of the thread count.
 */
export function gemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, A: usize, B: usize, C: usize, beta: i32,
  m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize): void {
  if (m1 <= m0 || n1 <= n0) return;
  const lda = transA ? M : K;
  const ldb = transB ? K : N;
  const ldcBytes = <usize>N << 2;
  if (K == 0) {
    if (!beta) for (let i = m0; i < m1; i++) memory.fill(C + ((<usize>i * N + n0) << 2), 0, <usize>(n1 - n0) << 2);
    return;
  }
  const Ap = (scratch + 63) & ~(<usize>63);
  const Bp = Ap + (<usize>(MC * KC) << 2);
  const tile = Bp + (<usize>(KC * NC) << 2);
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const acc = beta != 0 || pc > 0;
      packB(transB, B, ldb, pc, kc, jc, nc, Bp);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(transA, A, lda, ic, mc, pc, kc, Ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = Bp + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const pa = Ap + (<usize>(ir * kc) << 2);
            const c = C + ((<usize>(ic + ir) * N + jc + jr) << 2);
            if (mr == MR && nr == NR) {
              micro(kc, pa, pb, c, ldcBytes, acc);
            } else {
              // Edge: full tile into scratch, then the valid part into C.
              micro(kc, pa, pb, tile, NR << 2, false);
              for (let r = 0; r < mr; r++) {
                const crow = c + <usize>r * ldcBytes;
                const trow = tile + (<usize>(r * NR) << 2);
                for (let q = 0; q < nr; q++) {
                  const v = load<f32>(trow + (q << 2));
                  store<f32>(crow + (q << 2), acc ? load<f32>(crow + (q << 2)) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// im2col / col2im over images [n0, n1) (COURSE.md B3 layout: rows (n, oy, ox), columns (c, ky, kx)).

/**
 * im2col of images n0..n1 of x (N, C, H, W) into their rows of col (N·OH·OW, C·KH·KW); zero padding.
 * Loop order: image, output row, then (channel, kernel row) — one input row — and output columns inside,
 * so the inner loop reads one input row forward and writes the KW-wide segment of each output column's row.
 * The col rows of one output row (OW·C·KH·KW floats) stay in L1 while every segment is filled.
 * (Measured 3× faster than the patch-by-patch order for deep's 3×3 convolutions.)
 */
export function im2col(x: usize, C: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32,
  OH: i32, OW: i32, col: usize, n0: i32, n1: i32): void {
  const rowLen = C * KH * KW;
  const rowBytes = <usize>rowLen << 2;
  // Output columns whose window lies inside [0, W): ox in [oxLo, oxHi).
  let oxLo = (PW + SW - 1) / SW;
  if (oxLo > OW) oxLo = OW;
  let oxHi = W + PW - KW >= 0 ? (W + PW - KW) / SW + 1 : 0;
  if (oxHi > OW) oxHi = OW;
  if (oxHi < oxLo) oxHi = oxLo;
  for (let n = n0; n < n1; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const rowBase = col + (<usize>((n * OH + oy) * OW) * rowBytes);
      for (let c = 0; c < C; c++) {
        const plane = x + ((<usize>(n * C + c) * H * W) << 2);
        for (let ky = 0; ky < KH; ky++) {
          const seg = (c * KH + ky) * KW;
          const last = seg + KW == rowLen;
          let d = rowBase + (<usize>seg << 2);
          const iy = oy * SH - PH + ky;
          if (iy < 0 || iy >= H) {
            for (let ox = 0; ox < OW; ox++, d += rowBytes) for (let kx = 0; kx < KW; kx++) store<f32>(d + (kx << 2), 0);
            continue;
          }
          const src = plane + ((<usize>iy * W) << 2);
          let ox = 0;
          for (; ox < oxLo; ox++, d += rowBytes) {
            const x0 = ox * SW - PW;
            for (let kx = 0; kx < KW; kx++) {
              const ix = x0 + kx;
              store<f32>(d + (kx << 2), ix >= 0 && ix < W ? load<f32>(src + (<usize>ix << 2)) : 0);
            }
          }
          let s = src + (<usize>(ox * SW - PW) << 2);
          const sStep = <usize>SW << 2;
          if (KW == 3 && !last) {
            // 4 lanes written, the 4th lands in the next segment of the same row, which is written later.
            for (; ox < oxHi; ox++, d += rowBytes, s += sStep) v128.store(d, v128.load(s));
          } else if (KW == 5 && !last) {
            for (; ox < oxHi; ox++, d += rowBytes, s += sStep) {
              v128.store(d, v128.load(s));
              v128.store(d, v128.load(s, 16), 16);
            }
          } else {
            for (; ox < oxHi; ox++, d += rowBytes, s += sStep) {
              let kx = 0;
              for (; kx + 4 <= KW; kx += 4) v128.store(d + (kx << 2), v128.load(s + (kx << 2)));
              for (; kx < KW; kx++) store<f32>(d + (kx << 2), load<f32>(s + (kx << 2)));
            }
          }
          for (; ox < OW; ox++, d += rowBytes) {
            const x0 = ox * SW - PW;
            for (let kx = 0; kx < KW; kx++) {
              const ix = x0 + kx;
              store<f32>(d + (kx << 2), ix >= 0 && ix < W ? load<f32>(src + (<usize>ix << 2)) : 0);
            }
          }
        }
      }
    }
  }
}

/**
 * col2im of images n0..n1: dx[n] = Σ of every patch entry back at its pixel (overwrites those images of dx).
 * Same loop order as im2col; each pixel still receives its contributions by increasing (oy, ox), the
 * reference's order, so the float32 sums are the same.
 */
export function col2im(dcol: usize, C: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32,
  OH: i32, OW: i32, dx: usize, n0: i32, n1: i32): void {
  const rowLen = C * KH * KW;
  const rowBytes = <usize>rowLen << 2;
  memory.fill(dx + ((<usize>n0 * C * H * W) << 2), 0, <usize>(n1 - n0) * C * H * W << 2);
  for (let n = n0; n < n1; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const rowBase = dcol + (<usize>((n * OH + oy) * OW) * rowBytes);
      for (let c = 0; c < C; c++) {
        const plane = dx + ((<usize>(n * C + c) * H * W) << 2);
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH - PH + ky;
          if (iy < 0 || iy >= H) continue;
          const dst = plane + ((<usize>iy * W) << 2);
          let s = rowBase + (<usize>((c * KH + ky) * KW) << 2);
          let ox = 0;
          if (KW == 3 && SW == 1) {
            // Pixels in registers: at column ox the window's left pixel receives its last contribution
            // (kx = 0), so it is stored; no load-after-store chains through memory. Same order of sums.
            for (; ox < OW && ox - PW < 0; ox++, s += rowBytes) {
              for (let kx = 0; kx < 3; kx++) {
                const ix = ox - PW + kx;
                if (ix >= 0 && ix < W) {
                  const p = dst + (<usize>ix << 2);
                  store<f32>(p, load<f32>(p) + load<f32>(s + (kx << 2)));
                }
              }
            }
            if (ox < OW && ox - PW + 3 <= W) {
              let p = dst + (<usize>(ox - PW) << 2);
              let r0 = load<f32>(p);
              let r1 = load<f32>(p, 4);
              for (; ox < OW && ox - PW + 3 <= W; ox++, s += rowBytes, p += 4) {
                r0 += load<f32>(s);
                store<f32>(p, r0);
                r0 = r1 + load<f32>(s, 4);
                r1 = load<f32>(p, 8) + load<f32>(s, 8);
              }
              store<f32>(p, r0);
              store<f32>(p, r1, 4);
            }
          }
          for (; ox < OW; ox++, s += rowBytes) {
            const x0 = ox * SW - PW;
            if (x0 >= 0 && x0 + KW <= W) {
              const p = dst + (<usize>x0 << 2);
              for (let kx = 0; kx < KW; kx++) store<f32>(p + (kx << 2), load<f32>(p + (kx << 2)) + load<f32>(s + (kx << 2)));
            } else {
              for (let kx = 0; kx < KW; kx++) {
                const ix = x0 + kx;
                if (ix >= 0 && ix < W) {
                  const p = dst + (<usize>ix << 2);
                  store<f32>(p, load<f32>(p) + load<f32>(s + (kx << 2)));
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Elementwise and per-channel kernels (same semantics as src/engine/kernels/elementwise.ts and pool.ts).
// Ranges [i0, i1) are element indices (multiples of 4 except at the end) or, for per-channel kernels,
// channel / plane / image ranges, so that threads split outputs, never a sum.

/** y[i] = max(x[i], 0) for i in [i0, i1): ½(x + |x|) as the reference (NaN stays NaN, −0 → +0). */
export function reluForward(x: usize, y: usize, i0: i32, i1: i32): void {
  let i = i0;
  const z = f32x4.splat(0);
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    // wasm's f32x4.max propagates NaN and orders −0 < +0: exactly ½(x + |x|).
    v128.store(y + p, f32x4.max(v128.load(x + p), z));
  }
  for (; i < i1; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), max<f32>(v, 0));
  }
}

/** dx[i] = dout[i]·[y[i] > 0] for i in [i0, i1) (a product, as the reference: −3·0 = −0, NaN·0 = NaN). */
export function reluBackward(y: usize, dout: usize, dx: usize, i0: i32, i1: i32): void {
  let i = i0;
  const z = f32x4.splat(0);
  const one = f32x4.splat(1);
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    v128.store(dx + p, f32x4.mul(v128.load(dout + p), v128.and(f32x4.gt(v128.load(y + p), z), one)));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    store<f32>(dx + p, load<f32>(dout + p) * (load<f32>(y + p) > 0 ? <f32>1 : <f32>0));
  }
}

/** out[n, c, p] += bias[c] for planes (n·C + c) in [q0, q1) of an (N, C, P) tensor. */
export function addChannelBias(out: usize, bias: usize, C: i32, P: i32, q0: i32, q1: i32): void {
  for (let q = q0; q < q1; q++) {
    const b = load<f32>(bias + (<usize>(q % C) << 2));
    const bv = f32x4.splat(b);
    let o = out + (<usize>q * P << 2);
    let p = 0;
    for (; p + 4 <= P; p += 4, o += 16) v128.store(o, f32x4.add(v128.load(o), bv));
    for (; p < P; p++, o += 4) store<f32>(o, load<f32>(o) + b);
  }
}

/** db[c] = Σ_{n,p} dout[n, c, p] for channels c in [c0, c1) (float64 accumulation per plane, as the reference). */
export function sumChannels(dout: usize, N: i32, C: i32, P: i32, db: usize, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    let s: f64 = 0;
    for (let n = 0; n < N; n++) {
      let o = dout + (<usize>(n * C + c) * P << 2);
      let acc = f32x4.splat(0);
      let p = 0;
      for (; p + 4 <= P; p += 4, o += 16) acc = f32x4.add(acc, v128.load(o));
      let t: f64 = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
      for (; p < P; p++, o += 4) t += <f64>load<f32>(o);
      s += t;
    }
    store<f32>(db + (<usize>c << 2), <f32>s);
  }
}

/** out[r, c] += bias[c] for rows [r0, r1) of a (rows, cols) matrix. */
export function addRowBias(out: usize, bias: usize, cols: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    let o = out + (<usize>r * cols << 2);
    let b = bias;
    let c = 0;
    for (; c + 4 <= cols; c += 4, o += 16, b += 16) v128.store(o, f32x4.add(v128.load(o), v128.load(b)));
    for (; c < cols; c++, o += 4, b += 4) store<f32>(o, load<f32>(o) + load<f32>(b));
  }
}

/** db[c] = Σ_r dout[r, c] for columns [c0, c1) (4 columns at a time, rows in increasing order). */
export function sumRows(dout: usize, rows: i32, cols: i32, db: usize, c0: i32, c1: i32): void {
  let c = c0;
  for (; c + 4 <= c1; c += 4) {
    let acc = f32x4.splat(0);
    let o = dout + (<usize>c << 2);
    for (let r = 0; r < rows; r++, o += <usize>cols << 2) acc = f32x4.add(acc, v128.load(o));
    v128.store(db + (<usize>c << 2), acc);
  }
  for (; c < c1; c++) {
    let s: f32 = 0;
    let o = dout + (<usize>c << 2);
    for (let r = 0; r < rows; r++, o += <usize>cols << 2) s += load<f32>(o);
    store<f32>(db + (<usize>c << 2), s);
  }
}

/**
 * Max pooling forward over planes [q0, q1) (q = n·C + c): out (…, OH, OW), argmax = flat index into x of
 * the first maximum in row-major window order (padding never chosen; NaN/−∞ windows take their first pixel).
 */
export function maxPoolForward(x: usize, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32,
  OH: i32, OW: i32, out: usize, argmax: usize, q0: i32, q1: i32): void {
  if (KH == 2 && KW == 2 && SH == 2 && SW == 2 && PH == 0 && PW == 0) {
    maxPool2x2(x, H, W, OH, OW, out, argmax, q0, q1);
    return;
  }
  if (KH == 3 && KW == 3 && SH == 2 && SW == 2 && PH == 0 && PW == 0) {
    maxPool3x3s2(x, H, W, OH, OW, out, argmax, q0, q1);
    return;
  }
  let o = <usize>q0 * OH * OW;
  for (let q = q0; q < q1; q++) {
    const plane = q * H * W;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * SH - PH;
      const yLo = max(0, y0);
      const yHi = min(H, y0 + KH);
      for (let ox = 0; ox < OW; ox++, o++) {
        const x0 = ox * SW - PW;
        const xLo = max(0, x0);
        const xHi = min(W, x0 + KW);
        // Branch-free (select → cmov): on random activations a data-dependent branch mispredicts half
        // the time (measured 5× slower). The first pixel seeds the maximum, so a NaN or −∞ first pixel is
        // kept unless a later one is strictly greater (the reference's `v > best || bi < 0`).
        let bi = -1;
        let best: f32 = -Infinity;
        if (yLo < yHi && xLo < xHi) {
          bi = plane + yLo * W + xLo;
          best = load<f32>(x + (<usize>bi << 2));
        }
        for (let iy = yLo; iy < yHi; iy++) {
          const row = plane + iy * W;
          for (let ix = xLo; ix < xHi; ix++) {
            const v = load<f32>(x + (<usize>(row + ix) << 2));
            const take = v > best;
            best = select<f32>(v, best, take);
            bi = select<i32>(row + ix, bi, take);
          }
        }
        store<f32>(out + (o << 2), best);
        store<i32>(argmax + (o << 2), bi);
      }
    }
  }
}

// 2×2 stride 2 without padding (SimpleConvNet, DeepConvNet): 4 outputs per step. Each input row pair is
// loaded as 8 floats and split into even/odd columns; the running maximum and its index are chosen with
// lane masks in the window order (0,0), (0,1), (1,0), (1,1), strictly greater only: the scalar rule.
// (The scalar loop took ~16 ns per output here: its compare→select chain serialises every window.)
function maxPool2x2(x: usize, H: i32, W: i32, OH: i32, OW: i32, out: usize, argmax: usize, q0: i32, q1: i32): void {
  let o = <usize>q0 * OH * OW;
  const step = i32x4(0, 2, 4, 6);
  for (let q = q0; q < q1; q++) {
    const plane = q * H * W;
    for (let oy = 0; oy < OH; oy++) {
      const r0 = plane + 2 * oy * W;
      const p0 = x + (<usize>r0 << 2);
      const p1 = p0 + (<usize>W << 2);
      let ox = 0;
      for (; ox + 4 <= OW; ox += 4, o += 4) {
        const off = <usize>(2 * ox) << 2;
        const lo0 = v128.load(p0 + off), hi0 = v128.load(p0 + off, 16);
        const lo1 = v128.load(p1 + off), hi1 = v128.load(p1 + off, 16);
        const a = v128.shuffle<f32>(lo0, hi0, 0, 2, 4, 6);
        const b = v128.shuffle<f32>(lo0, hi0, 1, 3, 5, 7);
        const c = v128.shuffle<f32>(lo1, hi1, 0, 2, 4, 6);
        const d = v128.shuffle<f32>(lo1, hi1, 1, 3, 5, 7);
        const i0 = i32x4.add(i32x4.splat(r0 + 2 * ox), step);
        let best = a;
        let bi = i0;
        let t = f32x4.gt(b, best);
        best = v128.bitselect(b, best, t);
        bi = v128.bitselect(i32x4.add(i0, i32x4.splat(1)), bi, t);
        t = f32x4.gt(c, best);
        best = v128.bitselect(c, best, t);
        bi = v128.bitselect(i32x4.add(i0, i32x4.splat(W)), bi, t);
        t = f32x4.gt(d, best);
        best = v128.bitselect(d, best, t);
        bi = v128.bitselect(i32x4.add(i0, i32x4.splat(W + 1)), bi, t);
        v128.store(out + (o << 2), best);
        v128.store(argmax + (o << 2), bi);
      }
      for (; ox < OW; ox++, o++) {
        const i0 = r0 + 2 * ox;
        let best = load<f32>(x + (<usize>i0 << 2));
        let bi = i0;
        for (let k = 1; k < 4; k++) {
          const idx = i0 + (k >> 1) * W + (k & 1);
          const v = load<f32>(x + (<usize>idx << 2));
          const t = v > best;
          best = select<f32>(v, best, t);
          bi = select<i32>(idx, bi, t);
        }
        store<f32>(out + (o << 2), best);
        store<i32>(argmax + (o << 2), bi);
      }
    }
  }
}

// 3×3 stride 2 without padding (AlexNet's overlapping pools): 4 outputs per step. Each of the three rows
// of the windows is loaded as 12 floats (columns 2·ox … 2·ox + 11, the last three unused) and split into the
// kx = 0, 1, 2 columns of the 4 windows (even, odd, even shifted by one); maximum and index chosen with lane
// masks in row-major window order, strictly greater only, the first pixel seeding it: the scalar rule.
// (The scalar loop: 19.6 ms for AlexNet's first pool at batch 8, its 9 compare→select steps serialised.)
function maxPool3x3s2(x: usize, H: i32, W: i32, OH: i32, OW: i32, out: usize, argmax: usize, q0: i32, q1: i32): void {
  let o = <usize>q0 * OH * OW;
  const step = i32x4(0, 2, 4, 6);
  const one = i32x4.splat(1), two = i32x4.splat(2);
  for (let q = q0; q < q1; q++) {
    const plane = q * H * W;
    for (let oy = 0; oy < OH; oy++) {
      const r0 = plane + 2 * oy * W;
      let ox = 0;
      for (; ox + 4 <= OW; ox += 4, o += 4) {
        const r = r0 + 2 * ox;
        let p = x + (<usize>r << 2);
        let lo = v128.load(p), hi = v128.load(p, 16), hi2 = v128.load(p, 32);
        let a = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6);
        let b = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
        let c = v128.shuffle<f32>(a, hi2, 1, 2, 3, 4);
        let ia = i32x4.add(i32x4.splat(r), step);
        let best = a;
        let bi = ia;
        let t = f32x4.gt(b, best);
        best = v128.bitselect(b, best, t);
        bi = v128.bitselect(i32x4.add(ia, one), bi, t);
        t = f32x4.gt(c, best);
        best = v128.bitselect(c, best, t);
        bi = v128.bitselect(i32x4.add(ia, two), bi, t);
        // Rows 1 and 2 of the windows: the same three columns, each strictly greater than the best so far.
        for (let ky = 1; ky < 3; ky++) {
          p += <usize>W << 2;
          ia = i32x4.add(ia, i32x4.splat(W));
          lo = v128.load(p);
          hi = v128.load(p, 16);
          hi2 = v128.load(p, 32);
          a = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6);
          b = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
          c = v128.shuffle<f32>(a, hi2, 1, 2, 3, 4);
          t = f32x4.gt(a, best);
          best = v128.bitselect(a, best, t);
          bi = v128.bitselect(ia, bi, t);
          t = f32x4.gt(b, best);
          best = v128.bitselect(b, best, t);
          bi = v128.bitselect(i32x4.add(ia, one), bi, t);
          t = f32x4.gt(c, best);
          best = v128.bitselect(c, best, t);
          bi = v128.bitselect(i32x4.add(ia, two), bi, t);
        }
        v128.store(out + (o << 2), best);
        v128.store(argmax + (o << 2), bi);
      }
      for (; ox < OW; ox++, o++) {
        const i0 = r0 + 2 * ox;
        let best = load<f32>(x + (<usize>i0 << 2));
        let bi = i0;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const idx = i0 + ky * W + kx;
            const v = load<f32>(x + (<usize>idx << 2));
            const tk = v > best;
            best = select<f32>(v, best, tk);
            bi = select<i32>(idx, bi, tk);
          }
        }
        store<f32>(out + (o << 2), best);
        store<i32>(argmax + (o << 2), bi);
      }
    }
  }
}

/**
 * Max pooling backward for planes [q0, q1): zero those planes of dx, then dx[argmax[o]] += dout[o].
 * Every argmax of plane q points into plane q, so planes split between threads never collide.
 * Plane by plane (zero it, then scatter into it while it is in L1): zeroing the whole tensor first and
 * scattering after read it from memory twice.
 */
export function maxPoolBackward(dout: usize, argmax: usize, planeIn: i32, planeOut: i32, dx: usize, q0: i32, q1: i32): void {
  for (let q = q0; q < q1; q++) {
    memory.fill(dx + (<usize>q * planeIn << 2), 0, <usize>planeIn << 2);
    const o1 = <usize>(q + 1) * planeOut;
    for (let o = <usize>q * planeOut; o < o1; o++) {
      const i = load<i32>(argmax + (o << 2));
      if (i >= 0) {
        const p = dx + (<usize>i << 2);
        store<f32>(p, load<f32>(p) + load<f32>(dout + (o << 2)));
      }
    }
  }
}

/**
 * Adam (the book's form, as src/engine/optimizers/adam.ts) on elements [i0, i1), in float32:
 * m += (1−β1)(g − m); v += (1−β2)(g² − v); w −= lrT·m / (√v + ε).
 */
export function adamUpdate(w: usize, g: usize, m: usize, v: usize, lrT: f32, b1: f32, b2: f32, eps: f32, i0: i32, i1: i32): void {
  let i = i0;
  const B1 = f32x4.splat(b1), B2 = f32x4.splat(b2), L = f32x4.splat(lrT), E = f32x4.splat(eps);
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    const gi = v128.load(g + p);
    let mi = v128.load(m + p);
    let vi = v128.load(v + p);
    mi = f32x4.add(mi, f32x4.mul(B1, f32x4.sub(gi, mi)));
    vi = f32x4.add(vi, f32x4.mul(B2, f32x4.sub(f32x4.mul(gi, gi), vi)));
    v128.store(m + p, mi);
    v128.store(v + p, vi);
    v128.store(w + p, f32x4.sub(v128.load(w + p), f32x4.div(f32x4.mul(L, mi), f32x4.add(f32x4.sqrt(vi), E))));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const gi = load<f32>(g + p);
    let mi = load<f32>(m + p);
    let vi = load<f32>(v + p);
    mi += b1 * (gi - mi);
    vi += b2 * (gi * gi - vi);
    store<f32>(m + p, mi);
    store<f32>(v + p, vi);
    store<f32>(w + p, load<f32>(w + p) - lrT * mi / (sqrt<f32>(vi) + eps));
  }
}

/** SGD on elements [i0, i1): w −= lr·g. */
export function sgdUpdate(w: usize, g: usize, lr: f32, i0: i32, i1: i32): void {
  let i = i0;
  const L = f32x4.splat(lr);
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    v128.store(w + p, f32x4.sub(v128.load(w + p), f32x4.mul(L, v128.load(g + p))));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    store<f32>(w + p, load<f32>(w + p) - lr * load<f32>(g + p));
  }
}

/** Momentum (the book's form) on elements [i0, i1): v = μ·v − lr·g; w += v. */
export function momentumUpdate(w: usize, g: usize, v: usize, lr: f32, mu: f32, i0: i32, i1: i32): void {
  let i = i0;
  const L = f32x4.splat(lr), M = f32x4.splat(mu);
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    const vi = f32x4.sub(f32x4.mul(M, v128.load(v + p)), f32x4.mul(L, v128.load(g + p)));
    v128.store(v + p, vi);
    v128.store(w + p, f32x4.add(v128.load(w + p), vi));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const vi = mu * load<f32>(v + p) - lr * load<f32>(g + p);
    store<f32>(v + p, vi);
    store<f32>(w + p, load<f32>(w + p) + vi);
  }
}

/** Nesterov (the book's order) on elements [i0, i1): w += μ²·v − (1+μ)·lr·g, then v = μ·v − lr·g. mu2 = μ², c = (1+μ)·lr. */
export function nesterovUpdate(w: usize, g: usize, v: usize, lr: f32, mu: f32, mu2: f32, c: f32, i0: i32, i1: i32): void {
  let i = i0;
  const L = f32x4.splat(lr), M = f32x4.splat(mu), M2 = f32x4.splat(mu2), Cv = f32x4.splat(c);
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    const gi = v128.load(g + p);
    const vi = v128.load(v + p);
    v128.store(w + p, f32x4.sub(f32x4.add(v128.load(w + p), f32x4.mul(M2, vi)), f32x4.mul(Cv, gi)));
    v128.store(v + p, f32x4.sub(f32x4.mul(M, vi), f32x4.mul(L, gi)));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const gi = load<f32>(g + p);
    const vi = load<f32>(v + p);
    store<f32>(w + p, load<f32>(w + p) + mu2 * vi - c * gi);
    store<f32>(v + p, mu * vi - lr * gi);
  }
}

/**
 * AdaGrad (decay = 0: h += g²) or RMSprop (h = ρ·h + (1−ρ)·g², with rho = ρ, oneMinusRho = 1 − ρ) on
 * elements [i0, i1), then w −= lr·g/(√h + ε). `rms` = 0 selects AdaGrad.
 */
export function adaptiveUpdate(w: usize, g: usize, h: usize, lr: f32, rms: i32, rho: f32, oneMinusRho: f32, eps: f32, i0: i32, i1: i32): void {
  let i = i0;
  const L = f32x4.splat(lr), R = f32x4.splat(rho), R1 = f32x4.splat(oneMinusRho), E = f32x4.splat(eps);
  if (rms) {
    for (; i + 4 <= i1; i += 4) {
      const p = <usize>i << 2;
      const gi = v128.load(g + p);
      const hi = f32x4.add(f32x4.mul(R, v128.load(h + p)), f32x4.mul(f32x4.mul(R1, gi), gi));
      v128.store(h + p, hi);
      v128.store(w + p, f32x4.sub(v128.load(w + p), f32x4.div(f32x4.mul(L, gi), f32x4.add(f32x4.sqrt(hi), E))));
    }
  } else {
    for (; i + 4 <= i1; i += 4) {
      const p = <usize>i << 2;
      const gi = v128.load(g + p);
      const hi = f32x4.add(v128.load(h + p), f32x4.mul(gi, gi));
      v128.store(h + p, hi);
      v128.store(w + p, f32x4.sub(v128.load(w + p), f32x4.div(f32x4.mul(L, gi), f32x4.add(f32x4.sqrt(hi), E))));
    }
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const gi = load<f32>(g + p);
    const hi: f32 = rms ? rho * load<f32>(h + p) + oneMinusRho * gi * gi : load<f32>(h + p) + gi * gi;
    store<f32>(h + p, hi);
    store<f32>(w + p, load<f32>(w + p) - lr * gi / (sqrt<f32>(hi) + eps));
  }
}

/** Regularisation gradient on elements [i0, i1): g += l1·sign(w) + l2·w (sign(0) = sign(NaN) = 0). */
export function addL1L2Gradient(w: usize, g: usize, l1: f32, l2: f32, i0: i32, i1: i32): void {
  let i = i0;
  const A = f32x4.splat(l1), B = f32x4.splat(l2), Z = f32x4.splat(0);
  if (l1 == 0) {
    // The common case (weight decay only): no sign.
    for (; i + 4 <= i1; i += 4) {
      const p = <usize>i << 2;
      v128.store(g + p, f32x4.add(v128.load(g + p), f32x4.mul(B, v128.load(w + p))));
    }
  } else {
    for (; i + 4 <= i1; i += 4) {
      const p = <usize>i << 2;
      const wi = v128.load(w + p);
      // +l1 where w > 0, −l1 where w < 0, 0 elsewhere: the l1 bits masked, the sign bit of w added.
      const mag = v128.and(v128.or(f32x4.gt(wi, Z), f32x4.lt(wi, Z)), A);
      const s = v128.or(mag, v128.and(wi, i32x4.splat(0x80000000)));
      v128.store(g + p, f32x4.add(f32x4.add(v128.load(g + p), s), f32x4.mul(B, wi)));
    }
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const x = load<f32>(w + p);
    const s: f32 = x > 0 ? l1 : x < 0 ? -l1 : 0;
    store<f32>(g + p, load<f32>(g + p) + s + l2 * x);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Local response normalisation across channels (AlexNet), (N, C, P) tensors, planes q = n·C + c.
// Every output plane is computed from its own window in a fixed order (j increasing), so any split of the
// planes between threads gives the same bits.

// s^(−β) for 4 lanes. β = 0.75 (AlexNet), 0.5 and 1 with square roots and a division (a few ulps, and
// ~20× faster than pow); other β with f64 pow per lane, as the reference.
// @ts-ignore: decorator
@inline
function negPow4(s: v128, beta: f32, mode: i32): v128 {
  const one = f32x4.splat(1);
  if (mode == 1) {
    const r = f32x4.sqrt(s);
    return f32x4.div(one, f32x4.mul(r, f32x4.sqrt(r)));
  }
  if (mode == 2) return f32x4.div(one, f32x4.sqrt(s));
  if (mode == 3) return f32x4.div(one, s);
  const b = -<f64>beta;
  return f32x4(
    <f32>Math.pow(<f64>f32x4.extract_lane(s, 0), b), <f32>Math.pow(<f64>f32x4.extract_lane(s, 1), b),
    <f32>Math.pow(<f64>f32x4.extract_lane(s, 2), b), <f32>Math.pow(<f64>f32x4.extract_lane(s, 3), b));
}

// @ts-ignore: decorator
@inline
function negPow1(s: f32, beta: f32, mode: i32): f32 {
  if (mode == 1) {
    const r = sqrt<f32>(s);
    return <f32>1 / (r * sqrt<f32>(r));
  }
  if (mode == 2) return <f32>1 / sqrt<f32>(s);
  if (mode == 3) return <f32>1 / s;
  return <f32>Math.pow(<f64>s, -<f64>beta);
}

function powMode(beta: f32): i32 {
  return beta == 0.75 ? 1 : beta == 0.5 ? 2 : beta == 1 ? 3 : 0;
}

/**
 * LRN forward for planes [q0, q1): s = k + α·Σ_{j ∈ window(c)} x_j², scale = s, pow = s^(−β), y = x·pow.
 * half = ⌊size/2⌋; the window is [max(0, c − half), min(C − 1, c + half)].
 */
export function lrnForward(x: usize, C: i32, P: i32, half: i32, alpha: f32, beta: f32, k: f32, sc: usize, pw: usize, y: usize, q0: i32, q1: i32): void {
  const mode = powMode(beta);
  const planeBytes = <usize>P << 2;
  const A = f32x4.splat(alpha), K = f32x4.splat(k);
  for (let q = q0; q < q1; q++) {
    const n = q / C;
    const c = q - n * C;
    const lo = max(0, c - half);
    const cnt = min(C - 1, c + half) - lo + 1;
    const win = x + <usize>(n * C + lo) * planeBytes;
    const o = <usize>q * planeBytes;
    let p = 0;
    for (; p + 4 <= P; p += 4) {
      const off = <usize>p << 2;
      let s = f32x4.splat(0);
      let src = win + off;
      for (let j = 0; j < cnt; j++, src += planeBytes) {
        const a = v128.load(src);
        s = f32x4.add(s, f32x4.mul(a, a));
      }
      s = f32x4.add(K, f32x4.mul(A, s));
      const r = negPow4(s, beta, mode);
      v128.store(sc + o + off, s);
      v128.store(pw + o + off, r);
      v128.store(y + o + off, f32x4.mul(v128.load(x + o + off), r));
    }
    for (; p < P; p++) {
      const off = <usize>p << 2;
      let s: f32 = 0;
      let src = win + off;
      for (let j = 0; j < cnt; j++, src += planeBytes) {
        const a = load<f32>(src);
        s += a * a;
      }
      s = k + alpha * s;
      const r = negPow1(s, beta, mode);
      store<f32>(sc + o + off, s);
      store<f32>(pw + o + off, r);
      store<f32>(y + o + off, load<f32>(x + o + off) * r);
    }
  }
}

// t = dout·x·pow/scale for one plane (at byte offset o), elements [p, P) in 4-lane steps then scalar.
function lrnT(x: usize, dout: usize, sc: usize, pw: usize, t: usize, o: usize, P: i32): void {
  let p = 0;
  for (; p + 4 <= P; p += 4) {
    const a = o + (<usize>p << 2);
    v128.store(t + a, f32x4.div(f32x4.mul(f32x4.mul(v128.load(dout + a), v128.load(x + a)), v128.load(pw + a)), v128.load(sc + a)));
  }
  for (; p < P; p++) {
    const a = o + (<usize>p << 2);
    store<f32>(t + a, load<f32>(dout + a) * load<f32>(x + a) * load<f32>(pw + a) / load<f32>(sc + a));
  }
}

/**
 * LRN backward for planes [q0, q1): dx = dout·pow − f·x·Σ_{j ∈ window(c)} t_j with t = dout·x·pow/scale
 * and f = 2αβ. This call writes t only for its own planes (just ahead of their first use, while the
 * planes are still in cache); a window plane that belongs to another thread's range is recomputed on the
 * fly with the same float32 operations, so the result is the same whatever the split.
 */
export function lrnBackward(x: usize, dout: usize, sc: usize, pw: usize, C: i32, P: i32, half: i32, f: f32, t: usize, dx: usize, q0: i32, q1: i32): void {
  const planeBytes = <usize>P << 2;
  const F = f32x4.splat(f);
  let tNext = q0; // first own plane whose t is not written yet
  for (let q = q0; q < q1; q++) {
    const n = q / C;
    const c = q - n * C;
    const jLo = n * C + max(0, c - half);
    const jHi = n * C + min(C - 1, c + half);
    const last = min(jHi, q1 - 1);
    for (; tNext <= last; tNext++) lrnT(x, dout, sc, pw, t, <usize>tNext * planeBytes, P);
    const o = <usize>q * planeBytes;
    let p = 0;
    for (; p + 4 <= P; p += 4) {
      const off = <usize>p << 2;
      let acc = f32x4.splat(0);
      for (let j = jLo; j <= jHi; j++) {
        const a = <usize>j * planeBytes + off;
        if (j >= q0 && j < q1) acc = f32x4.add(acc, v128.load(t + a));
        else acc = f32x4.add(acc, f32x4.div(f32x4.mul(f32x4.mul(v128.load(dout + a), v128.load(x + a)), v128.load(pw + a)), v128.load(sc + a)));
      }
      const a = o + off;
      v128.store(dx + a, f32x4.sub(f32x4.mul(v128.load(dout + a), v128.load(pw + a)), f32x4.mul(f32x4.mul(F, v128.load(x + a)), acc)));
    }
    for (; p < P; p++) {
      const off = <usize>p << 2;
      let acc: f32 = 0;
      for (let j = jLo; j <= jHi; j++) {
        const a = <usize>j * planeBytes + off;
        if (j >= q0 && j < q1) acc += load<f32>(t + a);
        else acc += load<f32>(dout + a) * load<f32>(x + a) * load<f32>(pw + a) / load<f32>(sc + a);
      }
      const a = o + off;
      store<f32>(dx + a, load<f32>(dout + a) * load<f32>(pw + a) - f * load<f32>(x + a) * acc);
    }
  }
}
