// keiko's optional native kernels: a Node-API addon built at install by scripts/build-native.mjs with
// `g++ -O3 -march=native -fopenmp` (no node-gyp, no download: Node's own headers). It exists because
// WebAssembly's 128-bit lanes without fused multiply-add top out near 40 GFLOP/s here, where the course's
// widest networks need the ~100+ GFLOP/s of 512-bit FMA (docs/PERFORMANCE.md has the measurements).
//
// gemm(transA, transB, M, N, K, A, B, C, beta, threads): typed arrays of any backing store (ArrayBuffer,
// SharedArrayBuffer, wasm memory) are used in place. Threads split output rows or columns, never k.
#include <node_api.h>
#include <omp.h>
#include <vector>
#include "gemm.h"

static thread_local std::vector<float> tls_scratch;

static float* scratch() {
  if (tls_scratch.empty()) tls_scratch.resize(keiko::SCRATCH_FLOATS + 64);
  return tls_scratch.data();
}

static bool f32(napi_env env, napi_value v, float** data, size_t* len) {
  napi_typedarray_type t;
  void* d;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok || t != napi_float32_array) return false;
  *data = static_cast<float*>(d);
  return true;
}

static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value a[10];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  if (argc < 10) { napi_throw_type_error(env, nullptr, "gemm: 10 arguments expected"); return nullptr; }
  bool tA, tB;
  int32_t M, N, K, beta, threads;
  napi_get_value_bool(env, a[0], &tA);
  napi_get_value_bool(env, a[1], &tB);
  napi_get_value_int32(env, a[2], &M);
  napi_get_value_int32(env, a[3], &N);
  napi_get_value_int32(env, a[4], &K);
  napi_get_value_int32(env, a[8], &beta);
  napi_get_value_int32(env, a[9], &threads);
  float *A, *B, *C;
  size_t la, lb, lc;
  if (!f32(env, a[5], &A, &la) || !f32(env, a[6], &B, &lb) || !f32(env, a[7], &C, &lc)) {
    napi_throw_type_error(env, nullptr, "gemm: A, B and C must be Float32Arrays");
    return nullptr;
  }
  if (M < 0 || N < 0 || K < 0 || la < (size_t)M * K || lb < (size_t)K * N || lc < (size_t)M * N) {
    napi_throw_range_error(env, nullptr, "gemm: array too short for M, N, K");
    return nullptr;
  }
  if (M == 0 || N == 0) return nullptr;
  // Threads claim micro-tile-aligned chunks of the larger output side (gemm.h: gemm_threads); the caller
  // never waits for a helper that has not started, so a second thread cannot make a product slower.
  keiko::gemm_threads(tA, tB, M, N, K, A, B, C, beta != 0, threads < 1 ? 1 : threads, scratch);
  return nullptr;
}

static napi_value Info(napi_env env, napi_callback_info) {
  napi_value s;
#if defined(__AVX512F__)
  const char* isa = "avx512";
#elif defined(__AVX2__)
  const char* isa = "avx2";
#else
  const char* isa = "generic";
#endif
  napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"isa", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 2, d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
