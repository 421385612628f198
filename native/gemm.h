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
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>
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
/** Floats of packed B for nc columns: the panel widths summed. */
static inline size_t paddedWidth(int nc) {
  size_t w = 0;
  for (int left = nc; left > 0; left -= panelWidth(left)) w += panelWidth(left);
  return w;
}

/**
 * Rows [m0, m1) × columns [jc, jc + nc) for k block [pc, pc + kc) from packed panels `Bp` of those columns
 * (C = product when !acc, C += product when acc).
 */
static inline void gemmBlock(bool tA, int M, int N, int K, const float* A, const float* Bp, float* C, bool acc,
                             int m0, int m1, int jc, int nc, int pc, int kc) {
  int lda = tA ? M : K;
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

static inline void zeroRows(float* C, int N, int m0, int m1, int n0, int n1) {
  for (int i = m0; i < m1; i++) std::memset(C + (size_t)i * N + n0, 0, (n1 - n0) * sizeof(float));
}

/**
 * C[m0..m1) × [n0..n1) = op(A)·op(B), plus C when `beta`. op(A) is M×K (A is K×M when tA), op(B) is K×N
 * (B is N×K when tB), C is M×N, all row-major and dense. `scratch` holds SCRATCH_FLOATS floats.
 */
static void gemm(bool tA, bool tB, int M, int N, int K, const float* A, const float* B, float* C, bool beta,
                 int m0, int m1, int n0, int n1, float* scratch) {
  if (m1 <= m0 || n1 <= n0) return;
  int ldb = tB ? K : N;
  if (K == 0) { if (!beta) zeroRows(C, N, m0, m1, n0, n1); return; }
  float* Bp = (float*)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  for (int jc = n0; jc < n1; jc += NC) {
    int nc = std::min(NC, n1 - jc);
    for (int pc = 0; pc < K; pc += KC) {
      int kc = std::min(KC, K - pc);
      packB(tB, B, ldb, pc, kc, jc, nc, Bp);
      gemmBlock(tA, M, N, K, A, Bp, C, beta || pc > 0, m0, m1, jc, nc, pc, kc);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Threads. Why not OpenMP's `parallel for`: its region ends in a barrier, so the calling thread waits until
// every team thread has woken up, even when it arrives too late to have anything left to do. On a busy
// 2-core machine the second thread is often not running (woken through the kernel, or preempted): mlp with
// 2 threads measured slower than with 1 (per-GEMM medians of 1–2 ms for a 0.1 ms product). Here the product
// is cut into a fixed number of chunks (rows or columns, micro-tile aligned) that threads *claim*; the caller
// claims chunks too and waits only for chunks another thread has already started. A late helper finds
// nothing to do, so 2 threads cost at most one wake-up call more than 1 thread.
// Chunks compute their own output rows or columns with the same kernels and k order, so results are those
// of any other split (see "Determinism" above).

/** Helper threads for gemm_threads(): started on first use, never stopped (idle ones sleep). */
class GemmPool {
 public:
  static GemmPool& get() {
    static GemmPool* p = new GemmPool();  // leaked: detached threads may outlive static destructors
    return *p;
  }

  /** Run chunk(i) for i in [0, n) on the caller and up to `helpers` helper threads; returns when all are done. */
  template <class F>
  void run(int n, int helpers, F&& chunk) {
    // One caller at a time (several JavaScript threads may share the addon): a second one runs alone.
    if (busy_.exchange(true, std::memory_order_acquire)) {
      for (int i = 0; i < n; i++) chunk(i);
      return;
    }
    ensure(helpers);
    fn_ = [](void* ctx, int i) { (*static_cast<typename std::remove_reference<F>::type*>(ctx))(i); };
    ctx_ = &chunk;
    n_.store(n, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    uint64_t gen = (state_.load(std::memory_order_relaxed) >> 32) + 1;
    state_.store(gen << 32, std::memory_order_seq_cst);  // publishes fn_, ctx_, n_ (release)
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> l(m_);
      cv_.notify_all();
    }
    int mine = 0;
    for (int i; (i = claim(gen)) >= 0;) { chunk(i); mine++; }
    // Only chunks a helper has claimed remain: they are running, wait for them.
    done_.fetch_add(mine, std::memory_order_acq_rel);
    while (done_.load(std::memory_order_acquire) < n) pause();
    busy_.store(false, std::memory_order_release);
  }

 private:
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  std::atomic<int> n_{0};
  std::atomic<bool> busy_{false};
  /** (generation << 32) | next chunk index. */
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::mutex m_;
  std::condition_variable cv_;
  int started_ = 0;

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  /** Claim the next chunk of generation `gen`, or −1 when there is none (or the job is no longer `gen`). */
  int claim(uint64_t gen) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((s >> 32) != gen || (int)(uint32_t)s >= n_.load(std::memory_order_relaxed)) return -1;
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return (int)(uint32_t)s;
    }
  }

  void ensure(int helpers) {
    // A thread that cannot be created (resource limits) only means fewer helpers: the caller does the rest.
    for (; started_ < helpers; started_++) {
      try {
        std::thread([this] { loop(); }).detach();
      } catch (...) {
        started_ = 1 << 20;  // do not retry on every call
        return;
      }
    }
  }

  void loop() {
    uint64_t seen = state_.load(std::memory_order_acquire) >> 32;
    for (;;) {
      // Spin briefly (the mlp's products come every few microseconds), then sleep.
      auto t0 = std::chrono::steady_clock::now();
      int spins = 0;
      while ((state_.load(std::memory_order_acquire) >> 32) == seen) {
        pause();
        if (++spins % 64 == 0 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(SPIN_US)) {
          std::unique_lock<std::mutex> l(m_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          while ((state_.load(std::memory_order_seq_cst) >> 32) == seen) cv_.wait(l);
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
        }
      }
      seen = state_.load(std::memory_order_acquire) >> 32;
      int mine = 0;
      for (int i; (i = claim(seen)) >= 0;) { fn_(ctx_, i); mine++; }
      if (mine) done_.fetch_add(mine, std::memory_order_acq_rel);
    }
  }

 public:
  /** How long an idle helper spins before sleeping, in microseconds. */
  static constexpr int SPIN_US = 100;
};

/**
 * gemm() of the whole product over `threads` threads (the caller and threads − 1 helpers): the larger output
 * side is cut into micro-tile-aligned chunks that the threads claim. Products below `minMacs` multiply-adds
 * stay on the caller: 8M, because the mlp's largest product (100×784×100, 7.8M) split over 2 threads made
 * its training step slower, not faster (quiet machine: 120–125k samples/s with 2 threads against 172k with 1
 * at a 256K threshold; 170–175k with both at 8M; simple, deep and alexnet unchanged within noise).
 * Bit-identical to gemm(…, 0, M, 0, N, …) for any thread count and timing.
 * `scratch()` returns the calling thread's SCRATCH_FLOATS floats.
 */
static void gemm_threads(bool tA, bool tB, int M, int N, int K, const float* A, const float* B, float* C, bool beta,
                         int threads, float* (*scratch)(), double minMacs = 8388608) {
  if (M <= 0 || N <= 0) return;
  double macs = (double)M * N * K;
  if (threads <= 1 || macs < minMacs || K == 0) { gemm(tA, tB, M, N, K, A, B, C, beta, 0, M, 0, N, scratch()); return; }
  bool byRows = (double)M / MR >= (double)N / NR;
  size_t packed = (size_t)K * paddedWidth(N);
  if (byRows && N <= NC && packed <= (size_t)KC * NC) {
    // Row chunks share one packing of all of op(B) (every k block, the caller's scratch): packing it per chunk
    // cost 6 µs of each 100×100×784 chunk. A few chunks per thread, so that a late helper still finds a
    // share; not more, because each chunk streams all of packed B again (100×100×784 in 12-row chunks lost
    // 10 µs to that).
    float* Bp = (float*)(((uintptr_t)scratch() + 63) & ~(uintptr_t)63);
    int ldb = tB ? K : N;
    size_t wN = paddedWidth(N);
    for (int pc = 0; pc < K; pc += KC) packB(tB, B, ldb, pc, std::min(KC, K - pc), 0, N, Bp + (size_t)pc * wN);
    int want = threads * (macs >= 4e6 ? 2 : 4);
    int step = std::max(2 * MR, ((M + want - 1) / want + MR - 1) / MR * MR), chunks = (M + step - 1) / step;
    GemmPool::get().run(chunks, threads - 1, [&](int i) {
      int s = i * step, e = std::min(M, s + step);
      for (int pc = 0; pc < K; pc += KC) gemmBlock(tA, M, N, K, A, Bp + (size_t)pc * wN, C, beta || pc > 0, s, e, 0, N, pc, std::min(KC, K - pc));
    });
    return;
  }
  // Otherwise each chunk packs what it needs (columns: only its own panels).
  int n = byRows ? M : N, align = byRows ? MR : NR;
  int want = threads * (macs >= 4e6 ? 2 : 1);
  int step = ((n + want - 1) / want + align - 1) / align * align;
  int chunks = (n + step - 1) / step;
  if (chunks <= 1) { gemm(tA, tB, M, N, K, A, B, C, beta, 0, M, 0, N, scratch()); return; }
  GemmPool::get().run(chunks, threads - 1, [&](int i) {
    int s = i * step, e = std::min(n, s + step);
    if (byRows) gemm(tA, tB, M, N, K, A, B, C, beta, s, e, 0, N, scratch());
    else gemm(tA, tB, M, N, K, A, B, C, beta, 0, M, s, e, scratch());
  });
}

}  // namespace keiko
