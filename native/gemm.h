// keiko's native GEMM (optional: compiled at install when g++ is present, see scripts/build-native.mjs).
// C[m0..m1, n0..n1) = op(A)·op(B) (+ C): Goto/BLIS blocking like assembly/kernels.ts, with micro-kernels on
// GCC vector extensions, so the compiler emits 512-bit fused multiply-adds where -march=native has them
// (AVX-512) and 256-bit ones elsewhere.
//
// Determinism: every C element is one accumulator that sums k in KC blocks in increasing order, one fused
// multiply-add per k, whatever kernel, tile or panel computes it. So results do not depend on how rows and
// columns are split between threads, nor on the shape-dependent choices below.
//
// Shape-dependent choices, measured on the mlp's products (100×100×100 in the three transposition cases,
// 100×100×784, 784×100×100, N = 10) with a standalone harness, 1 thread, min of 2,000 runs:
// - Column panels are 32 wide (6×32 tile: 12 accumulators, 2 B loads + 6 broadcasts per k) while more than
//   16 columns remain, then one 16-wide panel (8×16 tile): N = 100 computes 112 columns instead of 128, N = 10
//   16 instead of 32 (100×10×100: 7.6 → 2.6 µs).
// - Row edges run a kernel with exactly the remaining rows (templates 1..6 and 1..8): no padded rows, and
//   edge tiles store their valid lanes straight from the registers (no tile buffer, no copy loop).
// - A, the broadcast operand, is never packed: a tile reads its R rows in place (op(A) = Aᵀ is already
//   k-major). Packing A without transposition cost 23 µs of the 131 µs of 100×100×784 and was slower on
//   every shape measured up to 1024³ (Zen 5's L1/L2 prefetchers follow R row streams).
// - B is packed (zero-padded panels); Bᵀ is packed with 16×16 AVX-512 transposes (dx = dout·Wᵀ of
//   100×100×100: 19.2 → 11.5 µs; deep's dW 16×144×784: 64 → 26 µs).
// Per mlp batch the GEMMs took 508 µs before these changes and 356 µs after (same harness).
#pragma once
#include <algorithm>
#include <cstring>
#include <cstddef>
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace keiko {

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef float v16a __attribute__((vector_size(64)));

/** Row and column granularity of thread splits (keiko.cc aligns splits to these; any alignment is correct). */
constexpr int MR = 6, NR = 32;
constexpr int KC = 384, MC = 96, NC = 2048;
/** Rows of the 16-wide kernel. */
constexpr int MR16 = 8;

/**
 * Micro-kernel: an R×(16·V) tile of C from kc steps. A element (r, k) is at pa[r·ars + k·aks]; B row k of the
 * panel at pb + k·bs. Stores `nr` ≤ 16·V columns (the rest of the registers are padding).
 */
template <int R, int V>
static inline void micro(int kc, const float* __restrict pa, ptrdiff_t ars, ptrdiff_t aks, const float* __restrict pb,
                         ptrdiff_t bs, float* C, size_t ldc, bool acc, int nr) {
  v16a c[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 2
    for (int v = 0; v < V; v++) c[r][v] = v16a{};
  for (int k = 0; k < kc; k++) {
    v16a b[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; v++) b[v] = *(const v16*)(pb + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      float a = pa[r * ars];
#pragma GCC unroll 2
      for (int v = 0; v < V; v++) c[r][v] += a * b[v];
    }
    pa += aks;
    pb += bs;
  }
  if (nr == 16 * V) {
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
      for (int v = 0; v < V; v++) {
        v16* p = (v16*)(C + r * ldc + 16 * v);
        *p = acc ? *p + c[r][v] : c[r][v];
      }
  } else {
    for (int r = 0; r < R; r++)
      for (int q = 0; q < nr; q++) {
        float x = c[r][q >> 4][q & 15];
        float* p = C + r * ldc + q;
        *p = acc ? *p + x : x;
      }
  }
}

typedef void (*MicroFn)(int, const float*, ptrdiff_t, ptrdiff_t, const float*, ptrdiff_t, float*, size_t, bool, int);

// Kernels by row count (index = rows), for full tiles and row edges.
static const MicroFn MICRO32[MR + 1] = {nullptr, micro<1, 2>, micro<2, 2>, micro<3, 2>, micro<4, 2>, micro<5, 2>, micro<6, 2>};
static const MicroFn MICRO16[MR16 + 1] = {nullptr, micro<1, 1>, micro<2, 1>, micro<3, 1>, micro<4, 1>, micro<5, 1>, micro<6, 1>,
                                          micro<7, 1>, micro<8, 1>};

/**
 * dst[q·ld + r] = src[r·ls + q] for r < rows (0 for rows ≤ r < 16; those rows of src are not read), q < 16:
 * a 16×16 block transposed (AVX-512: 64 shuffles instead of 256 scattered scalar stores).
 */
static inline void transpose16(const float* src, size_t ls, int rows, float* dst, size_t ld) {
#if defined(__AVX512F__)
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_ps(src + i * ls) : _mm512_setzero_ps();
  for (int i = 0; i < 16; i += 2) { t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]); t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // r[4g + j] holds, in each 128-bit lane L, rows 4g..4g+3 of column 4L + j.
  for (int g = 0; g < 16; g += 8)
    for (int j = 0; j < 4; j++) {
      t[g + j] = _mm512_shuffle_f32x4(r[g + j], r[g + 4 + j], 0x88);      // lanes 0,2 of each: columns j, 8+j
      t[g + 4 + j] = _mm512_shuffle_f32x4(r[g + j], r[g + 4 + j], 0xdd);  // lanes 1,3: columns 4+j, 12+j
    }
  for (int j = 0; j < 4; j++) {
    _mm512_storeu_ps(dst + (size_t)j * ld, _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88));
    _mm512_storeu_ps(dst + (size_t)(8 + j) * ld, _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd));
    _mm512_storeu_ps(dst + (size_t)(4 + j) * ld, _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88));
    _mm512_storeu_ps(dst + (size_t)(12 + j) * ld, _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd));
  }
#else
  for (int i = 0; i < 16; i++)
    for (int q = 0; q < 16; q++) dst[(size_t)q * ld + i] = i < rows ? src[i * ls + q] : 0.f;
#endif
}

/** Width of the panel starting `left` columns before the end: 32 while more than 16 remain, else 16. */
static inline int panelWidth(int left) { return left > 16 ? 32 : 16; }

/**
 * Pack k [p0, p0+kc) × columns [j0, j0+nc) of op(B) into panels of panelWidth() columns, each kc × width,
 * zero-padded past nc.
 */
static inline void packB(bool tB, const float* B, int ldb, int p0, int kc, int j0, int nc, float* dst) {
  for (int jp = 0; jp < nc;) {
    int w = panelWidth(nc - jp), nr = std::min(w, nc - jp);
    if (!tB) {
      for (int k = 0; k < kc; k++) {
        const float* src = B + (size_t)(p0 + k) * ldb + j0 + jp;
        std::memcpy(dst, src, nr * sizeof(float));
        for (int c = nr; c < w; c++) dst[c] = 0.f;
        dst += w;
      }
    } else {
      // Column c of the panel is row j0 + jp + c of B: transpose 16×16 blocks so reads and writes stay
      // contiguous (the scalar scatter cost as much as the multiply-adds on deep's dW, 16×144×784).
      int k = 0;
      for (; k + 16 <= kc; k += 16) {
        float* d = dst + (size_t)k * w;
        for (int c0 = 0; c0 < w; c0 += 16) transpose16(B + (size_t)(j0 + jp + c0) * ldb + p0 + k, ldb, std::max(0, std::min(16, nr - c0)), d + c0, w);
      }
      for (; k < kc; k++) {
        float* d = dst + (size_t)k * w;
        for (int c = 0; c < w; c++) d[c] = c < nr ? B[(size_t)(j0 + jp + c) * ldb + p0 + k] : 0.f;
      }
      dst += (size_t)kc * w;
    }
    jp += w;
  }
}

/** Floats of scratch one thread needs (a packed B block and alignment slack; kept at its former size). */
constexpr size_t SCRATCH_FLOATS = (size_t)MC * KC + (size_t)KC * NC + MR * NR + 64;

/**
 * C[m0..m1) × [n0..n1) = op(A)·op(B), plus C when `beta`. op(A) is M×K (A is K×M when tA), op(B) is K×N
 * (B is N×K when tB), C is M×N, all row-major and dense. `scratch` holds SCRATCH_FLOATS floats.
 */
static void gemm(bool tA, bool tB, int M, int N, int K, const float* A, const float* B, float* C, bool beta,
                 int m0, int m1, int n0, int n1, float* scratch) {
  if (m1 <= m0 || n1 <= n0) return;
  int lda = tA ? M : K, ldb = tB ? K : N;
  if (K == 0) { if (!beta) for (int i = m0; i < m1; i++) std::memset(C + (size_t)i * N + n0, 0, (n1 - n0) * sizeof(float)); return; }
  float* Bp = (float*)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  for (int jc = n0; jc < n1; jc += NC) {
    int nc = std::min(NC, n1 - jc);
    for (int pc = 0; pc < K; pc += KC) {
      int kc = std::min(KC, K - pc);
      bool acc = beta || pc > 0;
      packB(tB, B, ldb, pc, kc, jc, nc, Bp);
      for (int ic = m0; ic < m1; ic += MC) {
        int mc = std::min(MC, m1 - ic);
        const float* a0;
        ptrdiff_t ars, aks;
        if (tA) { a0 = A + (size_t)pc * lda + ic; ars = 1; aks = lda; }
        else { a0 = A + (size_t)ic * lda + pc; ars = lda; aks = 1; }
        const float* pb = Bp;
        for (int jr = 0; jr < nc;) {
          int w = panelWidth(nc - jr), nr = std::min(w, nc - jr);
          int rows = w == 32 ? MR : MR16;
          const MicroFn* fn = w == 32 ? MICRO32 : MICRO16;
          for (int ir = 0; ir < mc; ir += rows) {
            int mr = std::min(rows, mc - ir);
            fn[mr](kc, a0 + ir * ars, ars, aks, pb, w, C + (size_t)(ic + ir) * N + jc + jr, N, acc, nr);
          }
          pb += (size_t)kc * w;
          jr += w;
        }
      }
    }
  }
}

}  // namespace keiko
