// keiko's native GEMM (optional: compiled at install when g++ is present, see scripts/build-native.mjs).
// C[m0..m1) = op(A)·op(B) (+ C): Goto/BLIS blocking like assembly/kernels.ts, with a 6×32 micro-kernel on
// GCC vector extensions, so the compiler emits 512-bit fused multiply-adds where -march=native has them
// (AVX-512) and 256-bit ones elsewhere. Sums over k run in KC blocks in increasing order: results do not
// depend on how rows/columns are split between threads.
#pragma once
#include <algorithm>
#include <cstring>
#include <cstddef>
#include <cstdint>

namespace keiko {

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef float v16a __attribute__((vector_size(64)));

constexpr int MR = 6, NR = 32, KC = 384, MC = 96, NC = 2048;

static inline void packA(bool tA, const float* A, int lda, int i0, int mc, int p0, int kc, float* dst) {
  for (int ip = 0; ip < mc; ip += MR) {
    int mr = std::min(MR, mc - ip);
    for (int k = 0; k < kc; k++) {
      for (int r = 0; r < MR; r++) {
        float v = 0;
        if (r < mr) v = tA ? A[(size_t)(p0 + k) * lda + i0 + ip + r] : A[(size_t)(i0 + ip + r) * lda + p0 + k];
        dst[r] = v;
      }
      dst += MR;
    }
  }
}

static inline void packB(bool tB, const float* B, int ldb, int p0, int kc, int j0, int nc, float* dst) {
  for (int jp = 0; jp < nc; jp += NR) {
    int nr = std::min(NR, nc - jp);
    if (!tB) {
      for (int k = 0; k < kc; k++) {
        const float* src = B + (size_t)(p0 + k) * ldb + j0 + jp;
        if (nr == NR) std::memcpy(dst, src, NR * sizeof(float));
        else { for (int c = 0; c < NR; c++) dst[c] = c < nr ? src[c] : 0.f; }
        dst += NR;
      }
    } else {
      for (int c = 0; c < NR; c++) {
        float* d = dst + c;
        if (c < nr) { const float* src = B + (size_t)(j0 + jp + c) * ldb + p0; for (int k = 0; k < kc; k++) d[(size_t)k * NR] = src[k]; }
        else for (int k = 0; k < kc; k++) d[(size_t)k * NR] = 0.f;
      }
      dst += (size_t)kc * NR;
    }
  }
}

static inline void micro(int kc, const float* __restrict pa, const float* __restrict pb, float* C, size_t ldc, bool acc) {
  v16a c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
  for (int k = 0; k < kc; k++) {
    v16a b0 = *(const v16*)(pb), b1 = *(const v16*)(pb + 16);
    float a0 = pa[0], a1 = pa[1], a2 = pa[2], a3 = pa[3], a4 = pa[4], a5 = pa[5];
    c00 += a0 * b0; c01 += a0 * b1;
    c10 += a1 * b0; c11 += a1 * b1;
    c20 += a2 * b0; c21 += a2 * b1;
    c30 += a3 * b0; c31 += a3 * b1;
    c40 += a4 * b0; c41 += a4 * b1;
    c50 += a5 * b0; c51 += a5 * b1;
    pa += MR; pb += NR;
  }
  v16a* rows[6][2] = {{&c00, &c01}, {&c10, &c11}, {&c20, &c21}, {&c30, &c31}, {&c40, &c41}, {&c50, &c51}};
  for (int r = 0; r < 6; r++) {
    v16* p0 = (v16*)(C + r * ldc);
    v16* p1 = (v16*)(C + r * ldc + 16);
    if (acc) { *p0 = *p0 + *rows[r][0]; *p1 = *p1 + *rows[r][1]; }
    else { *p0 = *rows[r][0]; *p1 = *rows[r][1]; }
  }
}

/** Bytes of scratch one thread needs. */
constexpr size_t SCRATCH_FLOATS = (size_t)MC * KC + (size_t)KC * NC + MR * NR + 64;

static void gemm(bool tA, bool tB, int M, int N, int K, const float* A, const float* B, float* C, bool beta,
                 int m0, int m1, int n0, int n1, float* scratch) {
  if (m1 <= m0 || n1 <= n0) return;
  int lda = tA ? M : K, ldb = tB ? K : N;
  if (K == 0) { if (!beta) for (int i = m0; i < m1; i++) std::memset(C + (size_t)i * N + n0, 0, (n1 - n0) * sizeof(float)); return; }
  float* Ap = (float*)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  float* Bp = Ap + (size_t)MC * KC;
  float* tile = Bp + (size_t)KC * NC;
  for (int jc = n0; jc < n1; jc += NC) {
    int nc = std::min(NC, n1 - jc);
    for (int pc = 0; pc < K; pc += KC) {
      int kc = std::min(KC, K - pc);
      bool acc = beta || pc > 0;
      packB(tB, B, ldb, pc, kc, jc, nc, Bp);
      for (int ic = m0; ic < m1; ic += MC) {
        int mc = std::min(MC, m1 - ic);
        packA(tA, A, lda, ic, mc, pc, kc, Ap);
        for (int jr = 0; jr < nc; jr += NR) {
          int nr = std::min(NR, nc - jr);
          const float* pb = Bp + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            int mr = std::min(MR, mc - ir);
            const float* pa = Ap + (size_t)ir * kc;
            float* c = C + (size_t)(ic + ir) * N + jc + jr;
            if (mr == MR && nr == NR) micro(kc, pa, pb, c, N, acc);
            else {
              micro(kc, pa, pb, tile, NR, false);
              for (int r = 0; r < mr; r++) for (int q = 0; q < nr; q++) {
                float v = tile[r * NR + q];
                c[(size_t)r * N + q] = acc ? c[(size_t)r * N + q] + v : v;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace keiko
