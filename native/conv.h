// keiko's native whole-batch convolution (optional addon, see keiko.cc). Why a batch kernel: Conv2d's
// per-image GEMMs (deep: 16×784×144, SimpleConvNet: 30×576×25) are too small to split over threads, so
// splitting the *images* is what lets a second core help; and doing im2col → GEMM → bias per image while
// that image's columns are still in cache saves passes over memory.
//
// No column matrix is kept between forward and backward: backward rebuilds each image's columns from x
// (which the caller keeps unchanged, as Dense keeps its input) into a thread-local buffer that stays in
// L2. Keeping them (deep's conv2: 45 MB per batch) made forward write and backward read them through
// DRAM, which cost more than the im2col itself. Column layout: colT, Kg × P per image and group (Kg =
// Cg·KH·KW rows by channel, kernel row, kernel column; P = OH·OW columns by output row, column), the
// transpose of the engine's im2col: the GEMMs read it row by row (packing is a memcpy) and im2col moves
// contiguous runs of output columns.
//
// Determinism: forward and dx are per image (no reduction across images). dW and db are reduced over the
// batch in a fixed order that does not depend on the thread count: the batch is cut into
// min(N, CHUNKS) chunks of consecutive images (a function of N only); each chunk sums its images in order
// into its own partial; the partials are then added in chunk order.
#pragma once
#include <immintrin.h>
#include <omp.h>
#include <algorithm>
#include <cstring>
#include <vector>
#include "gemm.h"

namespace keiko {

struct ConvGeom {
  int N, C, H, W, F, G, KH, KW, SH, SW, PH, PW, OH, OW;
  int Cg() const { return C / G; }
  int Fg() const { return F / G; }
  int Kg() const { return Cg() * KH * KW; }
  int P() const { return OH * OW; }
};

/** Fixed number of dW/db partials (independent of the thread count). */
constexpr int CONV_CHUNKS = 16;

static inline float* conv_scratch() {
  static thread_local std::vector<float> s;
  if (s.empty()) s.resize(SCRATCH_FLOATS + 64);
  return s.data();
}

// One thread-local buffer per Tag (the calling thread holds the partials and, as OpenMP's thread 0, also
// a dcolT: they must not share storage).
template <int Tag>
static inline float* conv_local(size_t n) {
  static thread_local std::vector<float> s;
  if (s.size() < n) s.resize(n);
  return s.data();
}

// Range of output columns ow whose input column iw = ow·SW − PW + kw lies in [0, W).
static inline void valid_cols(int OW, int W, int SW, int PW, int kw, int* lo, int* hi) {
  int off = kw - PW;  // iw = ow·SW + off
  int l = off >= 0 ? 0 : (-off + SW - 1) / SW;
  int h = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / SW + 1;  // first ow with iw ≥ W
  h = std::min(h, OW);
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/**
 * colT (Kg × P) of one image and group: x (Cg, H, W). Rows are short (OW = 8–28 in deep), so the
 * zero/copy loops must stay inline loops: GCC otherwise turns them into memset/memcpy calls, which
 * cost 17% of a deep step in calls on 1–28 floats (perf).
 */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void im2colT(const ConvGeom& g, const float* x, float* colT) {
  const int Cg = g.Cg(), P = g.P();
  float* row = colT;
  for (int c = 0; c < Cg; c++) {
    const float* xc = x + (size_t)c * g.H * g.W;
    for (int kh = 0; kh < g.KH; kh++) {
      for (int kw = 0; kw < g.KW; kw++, row += P) {
        int lo, hi;
        valid_cols(g.OW, g.W, g.SW, g.PW, kw, &lo, &hi);
        float* o = row;
        for (int oh = 0; oh < g.OH; oh++, o += g.OW) {
          int ih = oh * g.SH - g.PH + kh;
          const bool in = ih >= 0 && ih < g.H;
          const float* xr = xc + (size_t)(in ? ih : 0) * g.W + kw - g.PW;
#if defined(__AVX512F__)
          // One masked load/store per 16 outputs: lanes outside [lo, hi) (padding) load as zero and are
          // never read (masked loads do not fault); lanes past OW are not stored.
          if (g.SW == 1) {
            const int vlo = in ? lo : 0, vhi = in ? hi : 0;
            for (int ow = 0; ow < g.OW; ow += 16) {
              auto bits = [](int a, int b) -> unsigned {  // lanes [a, b) ∩ [0, 16)
                a = std::max(a, 0); b = std::min(b, 16);
                return b <= a ? 0u : ((b == 16 ? 0xFFFFu : ((1u << b) - 1)) & ~((1u << a) - 1));
              };
              __mmask16 ld = (__mmask16)bits(vlo - ow, vhi - ow), st = (__mmask16)bits(0, g.OW - ow);
              _mm512_mask_storeu_ps(o + ow, st, _mm512_maskz_loadu_ps(ld, xr + ow));
            }
            continue;
          }
#endif
          if (!in) { for (int ow = 0; ow < g.OW; ow++) o[ow] = 0.f; continue; }
          for (int ow = 0; ow < lo; ow++) o[ow] = 0.f;
          if (g.SW == 1) { for (int ow = lo; ow < hi; ow++) o[ow] = xr[ow]; }
          else for (int ow = lo; ow < hi; ow++) o[ow] = xr[(size_t)ow * g.SW];
          for (int ow = hi; ow < g.OW; ow++) o[ow] = 0.f;
        }
      }
    }
  }
}

/** dx (Cg, H, W) = col2im of dcolT (Kg × P), overwriting dx. */
static void col2imT(const ConvGeom& g, const float* dcolT, float* dx) {
  const int Cg = g.Cg(), P = g.P();
  std::memset(dx, 0, (size_t)Cg * g.H * g.W * sizeof(float));
  const float* row = dcolT;
  for (int c = 0; c < Cg; c++) {
    float* dc = dx + (size_t)c * g.H * g.W;
    for (int kh = 0; kh < g.KH; kh++) {
      for (int kw = 0; kw < g.KW; kw++, row += P) {
        int lo, hi;
        valid_cols(g.OW, g.W, g.SW, g.PW, kw, &lo, &hi);
        const float* o = row;
        for (int oh = 0; oh < g.OH; oh++, o += g.OW) {
          int ih = oh * g.SH - g.PH + kh;
          if (ih < 0 || ih >= g.H) continue;
          float* dr = dc + (size_t)ih * g.W + kw - g.PW;
          if (g.SW == 1) { for (int ow = lo; ow < hi; ow++) dr[ow] += o[ow]; }
          else for (int ow = lo; ow < hi; ow++) dr[(size_t)ow * g.SW] += o[ow];
        }
      }
    }
  }
}

// dW without packing. dW[f, k] = Σ_n Σ_p dout_n[f, p] · colT_n[k, p]: both operands are read along p,
// where they are contiguous, so a tile of FT × KT outputs keeps FT·KT vector accumulators over p (and over
// all the chunk's images), summed across lanes once at the end. The generic GEMM would instead transpose-
// pack colT for every image (scattered 4-byte stores, as costly as the multiply-adds when F is 16–64).
#if defined(__AVX512F__)
constexpr int DW_VL = 16;
#else
constexpr int DW_VL = 8;
#endif
typedef float dwv __attribute__((vector_size(DW_VL * 4), aligned(4)));
typedef float dwva __attribute__((vector_size(DW_VL * 4)));
constexpr int DW_FT = 4, DW_KT = 4;  // 16 accumulators + 4 colT rows + 1 dout vector

/** out[i] = Σ lanes of v[i], i < 16, in a fixed tree: 15 shuffle pairs instead of 16 scalar lane loops. */
static inline void hsum16(const dwva* v, float* out) {
#if defined(__AVX512F__)
  typedef int dwi __attribute__((vector_size(64)));
  const dwi l1a = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}, l1b = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
  const dwi l2a = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27}, l2b = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
  const dwi l3a = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29}, l3b = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31};
  const dwi l4a = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}, l4b = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  dwva u[8], x[4], y[2];
  for (int i = 0; i < 8; i++) u[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], l1a) + __builtin_shuffle(v[2 * i], v[2 * i + 1], l1b);
  for (int i = 0; i < 4; i++) x[i] = __builtin_shuffle(u[2 * i], u[2 * i + 1], l2a) + __builtin_shuffle(u[2 * i], u[2 * i + 1], l2b);
  for (int i = 0; i < 2; i++) y[i] = __builtin_shuffle(x[2 * i], x[2 * i + 1], l3a) + __builtin_shuffle(x[2 * i], x[2 * i + 1], l3b);
  dwva z = __builtin_shuffle(y[0], y[1], l4a) + __builtin_shuffle(y[0], y[1], l4b);
  std::memcpy(out, &z, 16 * sizeof(float));
#else
  for (int i = 0; i < 16; i++) {
    float l[DW_VL];
    std::memcpy(l, &v[i], sizeof l);
    for (int w = DW_VL / 2; w >= 1; w /= 2) for (int q = 0; q < w; q++) l[q] += l[q + w];
    out[i] = l[0];
  }
#endif
}

/**
 * dw (Fg × Kg, row stride ldw) (+)= Σ_{n in [n0, n1)} dout_n (Fg × P) · colT_nᵀ, overwriting dw unless
 * `acc`. Image n's blocks start at dout + n·dstride and col + n·cstride. Sums run over images in order,
 * lanes fixed.
 */
static void dw_inner(int Fg, int Kg, int P, const float* dout, size_t dstride, const float* col, size_t cstride,
                     int n0, int n1, float* dw, int ldw, bool accum) {
  const int Pv = P / DW_VL * DW_VL, tail = P - Pv;
  for (int k0 = 0; k0 < Kg; k0 += DW_KT) {
    const int kt = std::min(DW_KT, Kg - k0);
    for (int f0 = 0; f0 < Fg; f0 += DW_FT) {
      const int ft = std::min(DW_FT, Fg - f0);
      dwva acc[DW_FT * DW_KT];
      for (int i = 0; i < DW_FT * DW_KT; i++) acc[i] = dwva{};
      for (int n = n0; n < n1; n++) {
        // Rows past the edge repeat the last valid row: computed, never stored.
        const float* dr[DW_FT];
        const float* cr[DW_KT];
        for (int i = 0; i < DW_FT; i++) dr[i] = dout + n * dstride + (size_t)(f0 + std::min(i, ft - 1)) * P;
        for (int j = 0; j < DW_KT; j++) cr[j] = col + n * cstride + (size_t)(k0 + std::min(j, kt - 1)) * P;
        for (int p = 0; p < Pv; p += DW_VL) {
          dwva c[DW_KT];
          for (int j = 0; j < DW_KT; j++) c[j] = *(const dwv*)(cr[j] + p);
          for (int i = 0; i < DW_FT; i++) {
            dwva d = *(const dwv*)(dr[i] + p);
            for (int j = 0; j < DW_KT; j++) acc[i * DW_KT + j] += d * c[j];
          }
        }
        if (tail) {
          float cb[DW_KT][DW_VL] = {}, db[DW_VL] = {};
          for (int j = 0; j < DW_KT; j++) for (int q = 0; q < tail; q++) cb[j][q] = cr[j][Pv + q];
          for (int i = 0; i < DW_FT; i++) {
            for (int q = 0; q < tail; q++) db[q] = dr[i][Pv + q];
            dwva d = *(const dwv*)db;
            for (int j = 0; j < DW_KT; j++) acc[i * DW_KT + j] += d * *(const dwv*)cb[j];
          }
        }
      }
      float sum[16];
      hsum16(acc, sum);
      for (int i = 0; i < ft; i++) {
        for (int j = 0; j < kt; j++) {
          float* o = dw + (size_t)(f0 + i) * ldw + k0 + j;
          *o = accum ? *o + sum[i * DW_KT + j] : sum[i * DW_KT + j];
        }
      }
    }
  }
}

/**
 * Stride-1 dx as a convolution: dx[c, ih, iw] = Σ_{f, kh, kw} dout[f, ih + PH − kh, iw + PW − kw] · W[f, c, kh, kw]
 * is a stride-1 convolution of dout (padding KH−1−PH, KW−1−PW) with Wt[c, f, kh', kw'] = W[f, c, KH−1−kh', KW−1−kw'].
 * So dx = Wt (Cg × Fg·KH·KW) · im2colT(dout): a GEMM with K = Fg·KH·KW that writes dx directly, instead of
 * dcolT = Wᵀ·dout (K = Fg only: 16 for deep's first layers, mostly load/store of C) followed by col2im.
 */
static ConvGeom dx_geom(const ConvGeom& g) {
  ConvGeom t = g;
  t.N = 1; t.C = g.Fg(); t.G = 1; t.F = g.Cg();
  t.H = g.OH; t.W = g.OW; t.SH = 1; t.SW = 1;
  t.PH = g.KH - 1 - g.PH; t.PW = g.KW - 1 - g.PW;  // may be negative (padding larger than the kernel): a crop
  t.OH = g.H; t.OW = g.W;
  return t;
}

/** Wt per group (G blocks of Cg × Fg·KH·KW) from W (F, Cg, KH, KW). */
static void flip_weights(const ConvGeom& g, const float* w, float* wt) {
  const int Fg = g.Fg(), Cg = g.Cg(), KK = g.KH * g.KW;
  for (int gi = 0; gi < g.G; gi++) {
    const float* wg = w + (size_t)gi * Fg * Cg * KK;
    float* tg = wt + (size_t)gi * Cg * Fg * KK;
    for (int c = 0; c < Cg; c++)
      for (int f = 0; f < Fg; f++)
        for (int k = 0; k < KK; k++) tg[((size_t)c * Fg + f) * KK + k] = wg[((size_t)f * Cg + c) * KK + (KK - 1 - k)];
  }
}

static inline int conv_threads(int threads, int work) {
  int t = threads < 1 ? 1 : threads;
  return std::max(1, std::min(t, work));
}

/** y (N, F, P) = W_g (Fg × Kg) · colT_ng + b for every image n and group g; images split over threads. */
static void conv_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, int threads) {
  const int Fg = g.Fg(), Kg = g.Kg(), P = g.P(), G = g.G;
  const size_t xg = (size_t)g.Cg() * g.H * g.W;
  int t = conv_threads(threads, g.N);
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
  for (int n = 0; n < g.N; n++) {
    float* s = conv_scratch();
    float* colT = conv_local<1>((size_t)Kg * P);
    for (int gi = 0; gi < G; gi++) {
      size_t blk = (size_t)n * G + gi;
      im2colT(g, x + blk * xg, colT);
      float* yb = y + blk * Fg * P;
      gemm(false, false, Fg, P, Kg, w + (size_t)gi * Fg * Kg, colT, yb, false, 0, Fg, 0, P, s);
      if (b) {
        for (int f = 0; f < Fg; f++) {
          float bv = b[gi * Fg + f];
          float* r = yb + (size_t)f * P;
          for (int p = 0; p < P; p++) r[p] += bv;
        }
      }
    }
  }
}

/**
 * From x (unchanged since forward) and dout (N, F, P): dW (F, Kg) = Σ_n dout_ng · colT_ngᵀ; db (F) =
 * Σ_{n,p} dout; dx (N, C, H, W) = the adjoint of the forward per image (skipped when dx is null; db
 * skipped when null). dW and db are overwritten and summed in the fixed chunk order described at the top.
 * Within a chunk, images go by groups of `m` whose columns fit in L2 (a function of the geometry only):
 * columns rebuilt, dW accumulated over the group, then dx.
 */
static void conv_backward(const ConvGeom& g, const float* x, const float* dout, const float* w, float* dw, float* db, float* dx, int threads) {
  const int Fg = g.Fg(), Kg = g.Kg(), P = g.P(), G = g.G, N = g.N;
  const size_t xg = (size_t)g.Cg() * g.H * g.W;
  const size_t wsz = (size_t)g.F * Kg;  // dW of all groups (F × Kg)
  const size_t colsz = (size_t)Kg * P;
  const int chunks = std::min(N, CONV_CHUNKS);
  // Images per column group: the whole chunk up to 8 MiB of columns (measured on deep: rebuilding the
  // columns of 1–4 images at a time and summing dW lanes per group cost 15–50% more), at least one image.
  const int m = (int)std::max<size_t>(1, ((size_t)2 << 20) / std::max<size_t>(1, colsz * G));
  const bool direct = g.SH == 1 && g.SW == 1;  // dx as a stride-1 convolution (see dx_geom)
  const ConvGeom tg = dx_geom(g);
  const int Kt = Fg * g.KH * g.KW;  // K of the dx GEMM on the direct path
  // Partials of dW and db per chunk, on the calling thread (reused across calls).
  float* part = conv_local<0>((size_t)chunks * (wsz + g.F));
  float* wt = nullptr;
  if (dx && direct) {
    wt = conv_local<2>((size_t)g.G * g.Cg() * Kt);
    flip_weights(g, w, wt);
  }
  int t = conv_threads(threads, chunks);
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
  for (int ch = 0; ch < chunks; ch++) {
    int n0 = (int)((long)N * ch / chunks), n1 = (int)((long)N * (ch + 1) / chunks);
    float* pw = part + (size_t)ch * (wsz + g.F);
    float* pb = pw + wsz;
    float* s = conv_scratch();
    float* cols = conv_local<1>(colsz * G * std::min(m, n1 - n0));
    float* tmp = dx ? conv_local<3>(direct ? (size_t)Kt * g.H * g.W : colsz) : nullptr;
    for (int a = n0; a < n1; a += m) {
      const int b = std::min(n1, a + m);
      for (int n = a; n < b; n++)
        for (int gi = 0; gi < G; gi++) im2colT(g, x + ((size_t)n * G + gi) * xg, cols + ((size_t)(n - a) * G + gi) * colsz);
      for (int gi = 0; gi < G; gi++) {
        dw_inner(Fg, Kg, P, dout + (size_t)a * g.F * P + (size_t)gi * Fg * P, (size_t)G * Fg * P, cols + (size_t)gi * colsz, (size_t)G * colsz,
                 0, b - a, pw + (size_t)gi * Fg * Kg, Kg, a > n0);
      }
      if (!dx) continue;
      for (int n = a; n < b; n++) {
        for (int gi = 0; gi < G; gi++) {
          size_t blk = (size_t)n * G + gi;
          const float* d = dout + blk * Fg * P;
          if (direct) {
            im2colT(tg, d, tmp);
            gemm(false, false, g.Cg(), g.H * g.W, Kt, wt + (size_t)gi * g.Cg() * Kt, tmp, dx + blk * xg, false, 0, g.Cg(), 0, g.H * g.W, s);
          } else {
            gemm(true, false, Kg, P, Fg, w + (size_t)gi * Fg * Kg, d, tmp, false, 0, Kg, 0, P, s);
            col2imT(g, tmp, dx + blk * xg);
          }
        }
      }
    }
    if (db) {
      for (int f = 0; f < g.F; f++) pb[f] = 0.f;
      for (int n = n0; n < n1; n++) {
        for (int f = 0; f < g.F; f++) {
          const float* r = dout + ((size_t)n * g.F + f) * P;
          // 16 lanes summed in a fixed pattern: vectorisable without -ffast-math, and deterministic.
          float lane[16] = {};
          int p = 0;
          for (; p + 16 <= P; p += 16) for (int l = 0; l < 16; l++) lane[l] += r[p + l];
          float acc = 0.f;
          for (int l = 0; l < 16; l++) acc += lane[l];
          for (; p < P; p++) acc += r[p];
          pb[f] += acc;
        }
      }
    }
  }
  // Reduce the partials in chunk order; elements are split over threads (each summed in the same order).
  size_t total = wsz + (db ? g.F : 0);
  int tr = total * chunks < (1u << 16) ? 1 : conv_threads(threads, 64);
#pragma omp parallel for num_threads(tr) schedule(static) if (tr > 1)
  for (long i = 0; i < (long)total; i++) {
    float acc = part[i];
    for (int ch = 1; ch < chunks; ch++) acc += part[(size_t)ch * (wsz + g.F) + i];
    if ((size_t)i < wsz) dw[i] = acc;
    else db[i - wsz] = acc;
  }
}

}  // namespace keiko
