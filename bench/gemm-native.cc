// Standalone harness for native/gemm.h: times keiko::gemm on the mlp's products (and, with `big`, conv and
// square shapes), checks them against a float64 reference, and times gemm_threads with 1 and 2 threads.
// Minimum over many runs, so that other processes on the machine disturb it less than a training benchmark.
//
//   g++ -O3 -march=native -std=c++17 -pthread bench/gemm-native.cc -o /tmp/gemm-native && /tmp/gemm-native [reps] [big]
#include "../native/gemm.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <time.h>
#include <vector>
using namespace std;

static double now() { timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static thread_local vector<float> tls;
static float* scratch() { if (tls.empty()) tls.resize(keiko::SCRATCH_FLOATS + 64); return tls.data(); }

static void reference(bool tA, bool tB, int M, int N, int K, const float* A, const float* B, float* C, bool beta) {
  int lda = tA ? M : K, ldb = tB ? K : N;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)(tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) * (tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
      C[(size_t)i * N + j] = (float)((beta ? C[(size_t)i * N + j] : 0) + s);
    }
}

struct Shape { bool tA, tB; int M, N, K; int perBatch; const char* name; };

int main(int argc, char** argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 2000;
  bool big = argc > 2;
  // One mlp batch (784 → 6 × 100 → 10, batch 100): forward x·W, backward dW = xᵀ·dout and dx = dout·Wᵀ.
  vector<Shape> shapes = {
    {false, false, 100, 100, 784, 1, "fwd x.W 100x100x784"},
    {false, false, 100, 100, 100, 5, "fwd x.W 100x100x100"},
    {false, false, 100, 10, 100, 1, "fwd x.W 100x10x100"},
    {true, false, 100, 10, 100, 1, "dW xT.d 100x10x100"},
    {false, true, 100, 100, 10, 1, "dx d.WT 100x100x10"},
    {true, false, 100, 100, 100, 5, "dW xT.d 100x100x100"},
    {false, true, 100, 100, 100, 5, "dx d.WT 100x100x100"},
    {true, false, 784, 100, 100, 1, "dW xT.d 784x100x100"},
  };
  if (big) {
    reps = argc > 1 ? atoi(argv[1]) : 30;
    shapes = {
      {false, false, 16, 784, 144, 1, "deep conv fwd 16x784x144"},
      {false, true, 16, 144, 784, 1, "deep conv dW 16x144x784"},
      {true, false, 144, 784, 16, 1, "deep conv dcol 144x784x16"},
      {false, false, 64, 49, 576, 1, "deep conv fwd 64x49x576"},
      {false, false, 30, 576, 25, 1, "simple conv fwd 30x576x25"},
      {false, false, 100, 50, 3136, 1, "deep fc 100x50x3136"},
      {false, false, 96, 3025, 363, 1, "alexnet conv1 96x3025x363"},
      {false, false, 512, 512, 512, 1, "512^3"},
      {false, false, 1024, 1024, 1024, 1, "1024^3"},
    };
  }
  double total[3] = {0, 0, 0}, worst = 0;
  srand(1);
  printf("%-28s %10s %8s %10s %10s\n", "product", "1 thread", "GFLOP/s", "threads 1", "threads 2");
  for (auto& s : shapes) {
    vector<float> A((size_t)s.M * s.K), B((size_t)s.K * s.N), C((size_t)s.M * s.N), R;
    for (auto& v : A) v = rand() / (float)RAND_MAX - 0.5f;
    for (auto& v : B) v = rand() / (float)RAND_MAX - 0.5f;
    for (int beta = 0; beta < 2; beta++) {
      for (auto& v : C) v = 0.25f;
      R = C;
      keiko::gemm(s.tA, s.tB, s.M, s.N, s.K, A.data(), B.data(), C.data(), beta, 0, s.M, 0, s.N, scratch());
      reference(s.tA, s.tB, s.M, s.N, s.K, A.data(), B.data(), R.data(), beta);
      for (size_t i = 0; i < C.size(); i++) worst = max(worst, (double)fabs(C[i] - R[i]) / sqrt((double)s.K));
    }
    double best[3] = {1e9, 1e9, 1e9};
    for (int r = 0; r < reps; r++) {
      double t = now();
      keiko::gemm(s.tA, s.tB, s.M, s.N, s.K, A.data(), B.data(), C.data(), false, 0, s.M, 0, s.N, scratch());
      best[0] = min(best[0], now() - t);
    }
    for (int th = 1; th <= 2; th++)
      for (int r = 0; r < reps; r++) {
        double t = now();
        keiko::gemm_threads(s.tA, s.tB, s.M, s.N, s.K, A.data(), B.data(), C.data(), false, th, scratch);
        best[th] = min(best[th], now() - t);
      }
    for (int i = 0; i < 3; i++) total[i] += best[i] * s.perBatch;
    printf("%-28s %8.2f us %8.1f %8.2f us %8.2f us\n", s.name, best[0] * 1e6, 2.0 * s.M * s.N * s.K / best[0] * 1e-9, best[1] * 1e6, best[2] * 1e6);
  }
  printf("sum (x count per mlp batch): %.1f us, threads 1: %.1f us, threads 2: %.1f us; max error / sqrt(K) %.2e\n",
         total[0] * 1e6, total[1] * 1e6, total[2] * 1e6, worst);
}
