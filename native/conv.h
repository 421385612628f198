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
// Measured and dropped (deep and alexnet, per-layer times): a packing-free dW kernel (inner products along
// P with lane-parallel accumulators) and dx computed as a stride-1 convolution of dout with flipped
// weights were both slower than the GEMMs below (alexnet's backward 2× slower; deep's 15% slower), and
// keeping the columns of a whole chunk of images instead of one image cost 3–4%.
//
// Determinism: forward and dx are per image (no reduction across images). dW and db are reduced over the
// batch in a fixed order that does not depend on the thread count: the batch is cut into
// min(N, CHUNKS) chunks of consecutive images (a function of N only); each chunk sums its images in order
// into its own partial; the partials are then added in chunk order.
#pragma once
#include <immintrin.h>
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

// One thread-local buffer per Tag (the calling thread holds the partials and, running chunks itself, also
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

#if defined(__AVX512F__)
/** Lanes [a, b) ∩ [0, 16) as a mask. */
static inline __mmask16 lanes(int a, int b) {
  a = std::max(a, 0);
  b = std::min(b, 16);
  return (__mmask16)(b <= a ? 0u : ((b == 16 ? 0xFFFFu : ((1u << b) - 1)) & ~((1u << a) - 1)));
}
#endif

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
#if defined(__AVX512F__)
        // Stride 1, OW ≤ 64: the masks depend on kw only, so they are computed once per kernel column, not
        // per output row (the per-row mask arithmetic was most of im2colT's instructions, perf).
        if (g.SW == 1 && g.OW <= 64) {
          const int nb = (g.OW + 15) >> 4;
          __mmask16 ldm[4], stm[4];
          for (int bI = 0; bI < nb; bI++) { ldm[bI] = lanes(lo - 16 * bI, hi - 16 * bI); stm[bI] = lanes(0, g.OW - 16 * bI); }
          const __m512 z = _mm512_setzero_ps();
          for (int oh = 0; oh < g.OH; oh++, o += g.OW) {
            int ih = oh * g.SH - g.PH + kh;
            if (ih < 0 || ih >= g.H) {
              for (int bI = 0; bI < nb; bI++) _mm512_mask_storeu_ps(o + 16 * bI, stm[bI], z);
              continue;
            }
            const float* xr = xc + (size_t)ih * g.W + kw - g.PW;
            for (int bI = 0; bI < nb; bI++) _mm512_mask_storeu_ps(o + 16 * bI, stm[bI], _mm512_maskz_loadu_ps(ldm[bI], xr + 16 * bI));
          }
          continue;
        }
#endif
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
              __mmask16 ld = lanes(vlo - ow, vhi - ow), st = lanes(0, g.OW - ow);
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
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void col2imT(const ConvGeom& g, const float* dcolT, float* dx) {
  const int Cg = g.Cg(), P = g.P();
#if defined(__AVX512F__)
  // Stride 1: each 16-wide block of dx is summed in a register over (kh, kw) and stored once, instead of
  // KH·KW masked read-modify-writes of dx (each one reloading what the previous one stored). The terms
  // are added in the same (kh, kw) order starting from 0, so the values are those of the loop below.
  if (g.SH == 1 && g.SW == 1 && g.W <= 64 && g.KW <= 16) {
    const int nb = (g.W + 15) >> 4, KK = g.KH * g.KW;
    __mmask16 m[16][4], st[4];
    for (int b = 0; b < nb; b++) {
      st[b] = lanes(0, g.W - 16 * b);
      for (int kw = 0; kw < g.KW; kw++) {
        const int off = g.PW - kw;  // ow = iw + off
        m[kw][b] = lanes(-off - 16 * b, g.OW - off - 16 * b) & st[b];
      }
    }
    for (int c = 0; c < Cg; c++) {
      const float* base = dcolT + (size_t)c * KK * P;
      float* dc = dx + (size_t)c * g.H * g.W;
      for (int ih = 0; ih < g.H; ih++) {
        for (int b = 0; b < nb; b++) {
          __m512 acc = _mm512_setzero_ps();
          for (int kh = 0; kh < g.KH; kh++) {
            const int oh = ih + g.PH - kh;
            if (oh < 0 || oh >= g.OH) continue;
            const float* r = base + (size_t)kh * g.KW * P + (size_t)oh * g.OW + 16 * b + g.PW;
            for (int kw = 0; kw < g.KW; kw++, r += P - 1)
              acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m[kw][b], r));
          }
          _mm512_mask_storeu_ps(dc + (size_t)ih * g.W + 16 * b, st[b], acc);
        }
      }
    }
    return;
  }
#endif
  std::memset(dx, 0, (size_t)Cg * g.H * g.W * sizeof(float));
  const float* row = dcolT;
  for (int c = 0; c < Cg; c++) {
    float* dc = dx + (size_t)c * g.H * g.W;
    for (int kh = 0; kh < g.KH; kh++) {
      for (int kw = 0; kw < g.KW; kw++, row += P) {
        int lo, hi;
        valid_cols(g.OW, g.W, g.SW, g.PW, kw, &lo, &hi);
        const float* o = row;
#if defined(__AVX512F__)
        // Stride 1, OW ≤ 64: masks per kernel column, as in im2colT.
        if (g.SW == 1 && g.OW <= 64) {
          const int b0 = lo >> 4, b1 = (hi + 15) >> 4;
          __mmask16 m[4];
          for (int bI = b0; bI < b1; bI++) m[bI] = lanes(lo - 16 * bI, hi - 16 * bI);
          for (int oh = 0; oh < g.OH; oh++, o += g.OW) {
            int ih = oh * g.SH - g.PH + kh;
            if (ih < 0 || ih >= g.H) continue;
            float* dr = dc + (size_t)ih * g.W + kw - g.PW;
            for (int bI = b0; bI < b1; bI++) {
              float* q = dr + 16 * bI;
              _mm512_mask_storeu_ps(q, m[bI], _mm512_add_ps(_mm512_maskz_loadu_ps(m[bI], q), _mm512_maskz_loadu_ps(m[bI], o + 16 * bI)));
            }
          }
          continue;
        }
#endif
        for (int oh = 0; oh < g.OH; oh++, o += g.OW) {
          int ih = oh * g.SH - g.PH + kh;
          if (ih < 0 || ih >= g.H) continue;
          float* dr = dc + (size_t)ih * g.W + kw - g.PW;
#if defined(__AVX512F__)
          if (g.SW == 1) {  // masked: lanes outside [lo, hi) are neither read nor written
            for (int ow = lo & ~15; ow < hi; ow += 16) {
              __mmask16 m = lanes(lo - ow, hi - ow);
              _mm512_mask_storeu_ps(dr + ow, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dr + ow), _mm512_maskz_loadu_ps(m, o + ow)));
            }
            continue;
          }
#endif
          if (g.SW == 1) { for (int ow = lo; ow < hi; ow++) dr[ow] += o[ow]; }
          else for (int ow = lo; ow < hi; ow++) dr[(size_t)ow * g.SW] += o[ow];
        }
      }
    }
  }
}

/**
 * f(i) for i in [0, n) on the caller and up to threads − 1 helpers of gemm.h's GemmPool, which claim
 * indices (no end barrier: a helper that is not running on a busy machine delays nothing, where OpenMP's
 * `parallel for` made the caller wait for it). Each index writes its own outputs, so results do not depend
 * on who runs it.
 */
template <class F>
static void conv_parallel(int n, int threads, F&& f) {
  if (threads <= 1 || n <= 1) { for (int i = 0; i < n; i++) f(i); return; }
  GemmPool::get().run(n, std::min(threads, n) - 1, f);
}


/** y (N, F, P) = W_g (Fg × Kg) · colT_ng + b for every image n and group g; images split over threads. */
static void conv_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, int threads) {
  const int Fg = g.Fg(), Kg = g.Kg(), P = g.P(), G = g.G;
  // yᵀ (P × Fg) = colTᵀ · Wᵀ, then transposed into y: the GEMM reads colT in place (op(A) = colTᵀ is k-major:
  // no packing of the large operand) and tiles P rows, where W · colT packs colT and tiles only Fg = 16–64
  // rows. Measured per deep layer (batch 100, 1 thread): 16→16 on 28×28 5.4 → 4.9 ms, 16→32 on 14×14
  // 2.05 → 1.76, 32→32 on 16×16 4.55 → 3.96; slower for P = 64 (8×8: +3%) and for Kg = 9 or 25 (the
  // transpose outweighs a GEMM that small: 2×), hence the thresholds; with Fg > 64 (AlexNet) W · colT
  // already tiles enough rows (not measured transposed).
  const bool transposed = Kg >= 64 && P >= 128 && Fg <= 64;
  const size_t xg = (size_t)g.Cg() * g.H * g.W;
  conv_parallel(g.N, threads, [&](int n) {
    float* s = conv_scratch();
    float* colT = conv_local<1>((size_t)Kg * P);
    for (int gi = 0; gi < G; gi++) {
      size_t blk = (size_t)n * G + gi;
      im2colT(g, x + blk * xg, colT);
      float* yb = y + blk * Fg * P;
      if (transposed) {
        float* yT = conv_local<4>((size_t)P * Fg);
        gemm(true, true, P, Fg, Kg, colT, w + (size_t)gi * Fg * Kg, yT, false, 0, P, 0, Fg, s);
        for (int f = 0; f < Fg; f++) {
          float bv = b ? b[gi * Fg + f] : 0.f;
          float* r = yb + (size_t)f * P;
          for (int p = 0; p < P; p++) r[p] = yT[(size_t)p * Fg + f] + bv;
        }
        continue;
      }
      gemm(false, false, Fg, P, Kg, w + (size_t)gi * Fg * Kg, colT, yb, false, 0, Fg, 0, P, s);
      if (b) {
        for (int f = 0; f < Fg; f++) {
          float bv = b[gi * Fg + f];
          float* r = yb + (size_t)f * P;
          for (int p = 0; p < P; p++) r[p] += bv;
        }
      }
    }
  });
}

/**
 * From x (unchanged since forward) and dout (N, F, P): dW (F, Kg) = Σ_n dout_ng · colT_ngᵀ; db (F) =
 * Σ_{n,p} dout; dx (N, C, H, W) = col2im(W_gᵀ · dout_ng) per image (skipped when dx is null; db skipped
 * when null). dW and db are overwritten and summed in the fixed chunk order described at the top.
 * Per image, while its columns are in L2: rebuild colT, dW += dout·colTᵀ, dcolT = Wᵀ·dout, col2im.
 */
static void conv_backward(const ConvGeom& g, const float* x, const float* dout, const float* w, float* dw, float* db, float* dx, int threads) {
  const int Fg = g.Fg(), Kg = g.Kg(), P = g.P(), G = g.G, N = g.N;
  const size_t xg = (size_t)g.Cg() * g.H * g.W;
  const size_t wsz = (size_t)g.F * Kg;  // dW of all groups (F × Kg)
  const size_t colsz = (size_t)Kg * P;
  const int chunks = std::min(N, CONV_CHUNKS);
  // dWᵀ (Kg × Fg) = colT · doutᵀ on the same shapes as the forward's transposed form (see conv_forward): the
  // GEMM reads colT in place instead of transpose-packing it for 16–64 rows. Measured per deep layer (batch
  // 100, 1 thread, dW only): 28×28 16→16 5.6 → 4.8 ms, 14×14 16→32 2.0 → 1.8, 16×16 32→32 4.6 → 4.25;
  // 8×8 layers unchanged (±2%).
  const bool dwT = Kg >= 64 && P >= 128 && Fg <= 64;
  // Partials of dW and db per chunk, on the calling thread (reused across calls).
  float* part = conv_local<0>((size_t)chunks * (wsz + g.F));
  conv_parallel(chunks, threads, [&](int ch) {
    int n0 = (int)((long)N * ch / chunks), n1 = (int)((long)N * (ch + 1) / chunks);
    float* pw = part + (size_t)ch * (wsz + g.F);
    float* pb = pw + wsz;
    float* s = conv_scratch();
    float* colT = conv_local<1>(colsz);
    float* dcolT = dx ? conv_local<3>(colsz) : nullptr;
    for (int n = n0; n < n1; n++) {
      for (int gi = 0; gi < G; gi++) {
        size_t blk = (size_t)n * G + gi;
        const float* d = dout + blk * Fg * P;
        im2colT(g, x + blk * xg, colT);
        // The chunk's first image overwrites its partial, the others accumulate (images in order).
        if (dwT) gemm(false, true, Kg, Fg, P, colT, d, pw + (size_t)gi * Fg * Kg, n > n0, 0, Kg, 0, Fg, s);
        else gemm(false, true, Fg, Kg, P, d, colT, pw + (size_t)gi * Fg * Kg, n > n0, 0, Fg, 0, Kg, s);
        if (dx) {
          gemm(true, false, Kg, P, Fg, w + (size_t)gi * Fg * Kg, d, dcolT, false, 0, Kg, 0, P, s);
          col2imT(g, dcolT, dx + blk * xg);
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
  });
  // Reduce the partials in chunk order; elements are split over threads (each summed in the same order).
  const size_t total = wsz + (db ? g.F : 0), step = 16384;
  conv_parallel(total * chunks < (1u << 16) ? 1 : (int)((total + step - 1) / step), threads, [&](int c) {
    for (size_t i = c * step, e = std::min(total, i + step); i < e; i++) {
      // dwT partials hold each group's dWᵀ (Kg × Fg): read element (f, k) of group gi at (gi, k, f).
      size_t j = i;
      if (dwT && i < wsz) {
        size_t gi = i / ((size_t)Fg * Kg), r = i % ((size_t)Fg * Kg), f = r / Kg, k = r % Kg;
        j = gi * Fg * Kg + k * Fg + f;
      }
      float acc = part[j];
      for (int ch = 1; ch < chunks; ch++) acc += part[(size_t)ch * (wsz + g.F) + j];
      if (i < wsz) dw[i] = acc;
      else db[i - wsz] = acc;
    }
  });
}

}  // namespace keiko
