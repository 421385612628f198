// keiko's optional native kernels: a Node-API addon built at install by scripts/build-native.mjs with
// `g++ -O3 -march=native -pthread` (no node-gyp, no download: Node's own headers). It exists because
// WebAssembly's 128-bit lanes without fused multiply-add top out near 40 GFLOP/s here, where the course's
// widest networks need the ~100+ GFLOP/s of 512-bit FMA (docs/PERFORMANCE.md has the measurements).
//
// gemm(transA, transB, M, N, K, A, B, C, beta, threads): typed arrays of any backing store (ArrayBuffer,
// SharedArrayBuffer, wasm memory) are used in place. Threads split output rows or columns, never k.
//
// conv2dForward / conv2dBackward (conv.h): a whole batch of Conv2d, images split over threads (GemmPool).
#include <node_api.h>
#include <vector>
#include "gemm.h"
#include "conv.h"

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

// Optional Float32Array: null/undefined gives nullptr (ok), anything else must be a Float32Array.
static bool f32opt(napi_env env, napi_value v, float** data, size_t* len) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) { *data = nullptr; *len = 0; return true; }
  return f32(env, v, data, len);
}

// Reads the 12 geometry numbers N, C, H, W, F, G, KH, KW, SH, SW, PH, PW at a[0..12) and checks them.
static bool conv_geom(napi_env env, napi_value* a, keiko::ConvGeom* g) {
  int32_t v[12];
  for (int i = 0; i < 12; i++) if (napi_get_value_int32(env, a[i], &v[i]) != napi_ok) return false;
  *g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], 0, 0};
  if (g->N < 1 || g->C < 1 || g->H < 1 || g->W < 1 || g->F < 1 || g->G < 1 || g->KH < 1 || g->KW < 1 || g->SH < 1 ||
      g->SW < 1 || g->PH < 0 || g->PW < 0 || g->C % g->G || g->F % g->G) return false;
  g->OH = (g->H + 2 * g->PH - g->KH) / g->SH + 1;
  g->OW = (g->W + 2 * g->PW - g->KW) / g->SW + 1;
  return g->H + 2 * g->PH >= g->KH && g->W + 2 * g->PW >= g->KW;
}

// conv2dForward(x, w, b | null, y, N, C, H, W, F, G, KH, KW, SH, SW, PH, PW, threads)
static napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value a[17];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  keiko::ConvGeom g;
  int32_t threads;
  if (argc < 17 || !conv_geom(env, a + 4, &g) || napi_get_value_int32(env, a[16], &threads) != napi_ok) {
    napi_throw_type_error(env, nullptr, "conv2dForward: bad arguments");
    return nullptr;
  }
  float *x, *w, *b, *y;
  size_t lx, lw, lb, ly;
  if (!f32(env, a[0], &x, &lx) || !f32(env, a[1], &w, &lw) || !f32opt(env, a[2], &b, &lb) || !f32(env, a[3], &y, &ly)) {
    napi_throw_type_error(env, nullptr, "conv2dForward: x, w, y must be Float32Arrays (b too, or null)");
    return nullptr;
  }
  size_t P = (size_t)g.OH * g.OW, Kg = (size_t)g.Kg();
  if (lx < (size_t)g.N * g.C * g.H * g.W || lw < (size_t)g.F * Kg || (b && lb < (size_t)g.F) || ly < (size_t)g.N * g.F * P) {
    napi_throw_range_error(env, nullptr, "conv2dForward: array too short for the geometry");
    return nullptr;
  }
  keiko::conv_forward(g, x, w, b, y, threads);
  return nullptr;
}

// conv2dBackward(x, dout, w, dw, db | null, dx | null, N, C, H, W, F, G, KH, KW, SH, SW, PH, PW, threads)
static napi_value Conv2dBackward(napi_env env, napi_callback_info info) {
  size_t argc = 19;
  napi_value a[19];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  keiko::ConvGeom g;
  int32_t threads;
  if (argc < 19 || !conv_geom(env, a + 6, &g) || napi_get_value_int32(env, a[18], &threads) != napi_ok) {
    napi_throw_type_error(env, nullptr, "conv2dBackward: bad arguments");
    return nullptr;
  }
  float *x, *d, *w, *dw, *db, *dx;
  size_t lx, ld, lw, ldw, ldb, ldx;
  if (!f32(env, a[0], &x, &lx) || !f32(env, a[1], &d, &ld) || !f32(env, a[2], &w, &lw) || !f32(env, a[3], &dw, &ldw) ||
      !f32opt(env, a[4], &db, &ldb) || !f32opt(env, a[5], &dx, &ldx)) {
    napi_throw_type_error(env, nullptr, "conv2dBackward: x, dout, w, dw must be Float32Arrays (db, dx too, or null)");
    return nullptr;
  }
  size_t P = (size_t)g.OH * g.OW, Kg = (size_t)g.Kg(), nx = (size_t)g.N * g.C * g.H * g.W;
  if (lx < nx || ld < (size_t)g.N * g.F * P || lw < (size_t)g.F * Kg || ldw < (size_t)g.F * Kg || (db && ldb < (size_t)g.F) ||
      (dx && ldx < nx)) {
    napi_throw_range_error(env, nullptr, "conv2dBackward: array too short for the geometry");
    return nullptr;
  }
  keiko::conv_backward(g, x, d, w, dw, db, dx, threads);
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
    {"conv2dForward", nullptr, Conv2dForward, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"conv2dBackward", nullptr, Conv2dBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(d) / sizeof(d[0]), d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
