/**
 * The kernel backend: every hot loop of the engine goes through one of these functions, so a faster
 * implementation (WebAssembly SIMD, threads) replaces them without touching any layer.
 *
 * Conventions:
 * - Matrices are row-major Float32Array views. A function never allocates its output: the caller passes it.
 * - Buffers that kernels touch should come from `alloc()`: the WebAssembly backend hands out views of its
 *   own (shared) memory, so its kernels read and write them in place with no copy. Layers allocate their
 *   buffers once per batch size and reuse them across batches (no allocation inside the training loop).
 * - Results must not depend on the number of threads: a backend splits work over output rows/columns,
 *   never over a reduction axis, so every output element is summed in the same order.
 */
export interface KernelBackend {
  /** A short name for logs and benchmarks, e.g. `js` or `wasm-simd`. */
  readonly name: string;

  /** A zero-filled Float32Array of `n` elements that this backend's kernels can use without copying. */
  alloc(n: number): Float32Array;
  /** Give back a buffer from `alloc` (the JS backend ignores it). */
  free(a: Float32Array): void;

  /**
   * C = op(A)·op(B) + beta·C, with op(X) = X or Xᵀ.
   * op(A) is M×K, op(B) is K×N, C is M×N. A is M×K (K×M when transA); B is K×N (N×K when transB).
   * beta is 0 (overwrite C; C's old contents, even NaN, are ignored) or 1 (accumulate into C).
   */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, beta: 0 | 1): void;

  /**
   * im2col for one NCHW batch x (N, C, H, W) into col (N·OH·OW, C·KH·KW) (COURSE.md B3 layout:
   * rows by image, output row, output column; columns by channel, kernel row, kernel column).
   * OH = ⌊(H + 2·PH − KH)/SH⌋ + 1, OW likewise. Zero padding.
   */
  im2col(x: Float32Array, g: ConvGeometry, col: Float32Array): void;

  /** The adjoint of im2col: dx (N, C, H, W) = Σ of every patch entry of dcol back at its pixel (overlaps summed). Overwrites dx. */
  col2im(dcol: Float32Array, g: ConvGeometry, dx: Float32Array): void;

  /** Let the backend split kernels over `threads` threads (1 = no threads). Results do not change. */
  setThreads?(threads: number): void;

  // Optional fast paths. Each has exactly the signature and semantics of the function of the same name in
  // kernels/elementwise.ts or kernels/pool.ts (results may differ in the last bits: float32 arithmetic,
  // other summation order), so a layer routes through them with `(be.reluForward ?? reluForward)(…)`.
  // The WebAssembly backend implements them with SIMD, in place on buffers from `alloc`.

  /** y = x > 0 ? x : 0 over n elements. */
  reluForward?(x: Float32Array, y: Float32Array, n: number): void;
  /** dx = y > 0 ? dout : 0 over n elements. */
  reluBackward?(y: Float32Array, dout: Float32Array, dx: Float32Array, n: number): void;
  /** out[n, c, p] += bias[c] for an (N, C, P) tensor. */
  addChannelBias?(out: Float32Array, bias: Float32Array, N: number, C: number, P: number): void;
  /** db[c] = Σ_{n,p} dout[n, c, p] (overwrites db). */
  sumChannels?(dout: Float32Array, N: number, C: number, P: number, db: Float32Array): void;
  /** out[r, c] += bias[c] for a (rows, cols) matrix. */
  addRowBias?(out: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  /** db[c] = Σ_r dout[r, c] (overwrites db). */
  sumRows?(dout: Float32Array, rows: number, cols: number, db: Float32Array): void;
  /** Max pooling forward; argmax[o] = flat index into x of the first maximum (see pool.ts). */
  maxPoolForward?(x: Float32Array, g: ConvGeometry, out: Float32Array, argmax: Int32Array): void;
  /**
   * Max pooling backward: dx = 0 (first `total` elements), then dx[argmax[o]] += dout[o]. With `planes`
   * (N·C), the argmax of each plane lie in that plane (as maxPoolForward writes them): planes may be split.
   */
  maxPoolBackward?(dout: Float32Array, argmax: Int32Array, outSize: number, total: number, dx: Float32Array, planes?: number): void;
  /** A zero-filled Int32Array the backend's kernels use without copying (e.g. max pooling's argmax). */
  allocInt32?(n: number): Int32Array;
  /** Give back a buffer from `allocInt32`. */
  freeInt32?(a: Int32Array): void;
  /**
   * The book's Adam step on n elements, in float32: m += (1−β1)(g − m); v += (1−β2)(g² − v);
   * w −= lrT·m/(√v + ε), with lrT = lr·√(1−β2ᵗ)/(1−β1ᵗ) computed by the caller.
   */
  adamUpdate?(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number, lrT: number, beta1: number, beta2: number, eps: number): void;
  /** SGD step on n elements, in float32: w −= lr·g. */
  sgdUpdate?(w: Float32Array, g: Float32Array, n: number, lr: number): void;
  /** The book's momentum step on n elements, in float32: v = μ·v − lr·g; w += v. */
  momentumUpdate?(w: Float32Array, g: Float32Array, v: Float32Array, n: number, lr: number, momentum: number): void;
  /** The book's Nesterov step on n elements, in float32: w += μ²·v − (1+μ)·lr·g, then v = μ·v − lr·g. */
  nesterovUpdate?(w: Float32Array, g: Float32Array, v: Float32Array, n: number, lr: number, momentum: number): void;
  /** AdaGrad step on n elements, in float32: h += g²; w −= lr·g/(√h + ε). */
  adagradUpdate?(w: Float32Array, g: Float32Array, h: Float32Array, n: number, lr: number, eps: number): void;
  /** RMSprop step on n elements, in float32: h = ρ·h + (1−ρ)·g²; w −= lr·g/(√h + ε), ρ = `decay`. */
  rmspropUpdate?(w: Float32Array, g: Float32Array, h: Float32Array, n: number, lr: number, decay: number, eps: number): void;
  /** Regularisation gradient on n elements (see elementwise.ts): g += l1·sign(w) + l2·w, sign(0) = 0. */
  addL1L2Gradient?(w: Float32Array, g: Float32Array, n: number, l1: number, l2: number): void;
  /**
   * LRN forward over an (N, C, P) tensor (see elementwise.ts): s = k + α·Σ_{window(c)} x², writes
   * scaleOut = s, powOut = s^(−β), y = x·s^(−β) (N·C·P each). Window [max(0, c−⌊size/2⌋), min(C−1, c+⌊size/2⌋)].
   */
  lrnForward?(x: Float32Array, N: number, C: number, P: number, size: number, alpha: number, beta: number, k: number, scaleOut: Float32Array, powOut: Float32Array, y: Float32Array): void;
  /**
   * LRN backward (see elementwise.ts): dx = dout·s^(−β) − 2αβ·x·Σ_{window(c)} dout·x·s^(−β−1), from the
   * forward's scale and pow; `t` is an N·C·P scratch tensor. Overwrites t and dx.
   */
  lrnBackward?(x: Float32Array, dout: Float32Array, scaleIn: Float32Array, powIn: Float32Array, N: number, C: number, P: number, size: number, alpha: number, beta: number, t: Float32Array, dx: Float32Array): void;

  // Optional whole-batch convolution (Conv2d routes through both when both are present). The backend
  // splits images over its threads; the results must not depend on the thread count (dW and db are reduced
  // over the batch in an order fixed by N alone).

  /**
   * Conv2d forward over a batch: g describes the whole input (N, C, H, W) with C all channels; F filters in
   * `groups` groups (Cg = C/groups, Fg = F/groups, Kg = Cg·KH·KW, P = OH·OW).
   * y[n, g·Fg + f, p] = Σ_k W[g·Fg + f, k] · im2col(x[n, group g])[p, k] + b[g·Fg + f] (b null: no bias).
   * Shapes: x (N, C, H, W), weight (F, Cg, KH, KW), bias (F) or null, y (N, F, OH, OW) overwritten.
   * Nothing is kept: `conv2dBackward` gets x again.
   */
  conv2dForward?(x: Float32Array, weight: Float32Array, bias: Float32Array | null, g: ConvGeometry, F: number, groups: number, y: Float32Array): void;
  /**
   * Conv2d backward from the forward's input x (N, C, H, W) (unchanged since) and dout (N, F, OH, OW):
   * dW (F, Cg, KH, KW) = Σ_n dout_ng (Fg × P) · im2col(x[n, group g]) (P × Kg), overwritten;
   * db (F) = Σ_{n,p} dout[n, f, p], overwritten (skipped when null);
   * dx (N, C, H, W) = col2im(dout_ngᵀ · W_g) per image and group, overwritten (skipped when null).
   */
  conv2dBackward?(x: Float32Array, dout: Float32Array, weight: Float32Array, g: ConvGeometry, F: number, groups: number, dW: Float32Array, db: Float32Array | null, dx: Float32Array | null): void;
}

/** Geometry of a convolution or pooling window over an NCHW batch. */
export interface ConvGeometry {
  /** Batch size. */ N: number;
  /** Input channels. */ C: number;
  /** Input height and width. */ H: number; W: number;
  /** Window (kernel) height and width. */ KH: number; KW: number;
  /** Strides. */ SH: number; SW: number;
  /** Zero padding on each side. */ PH: number; PW: number;
  /** Output height and width: ⌊(H + 2·PH − KH)/SH⌋ + 1, ⌊(W + 2·PW − KW)/SW⌋ + 1. */
  OH: number; OW: number;
}

/** Build a `ConvGeometry`, computing OH and OW. Throws RangeError when the window does not fit. */
export function convGeometry(N: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number): ConvGeometry {
  const OH = Math.floor((H + 2 * PH - KH) / SH) + 1;
  const OW = Math.floor((W + 2 * PW - KW) / SW) + 1;
  if (OH < 1 || OW < 1) throw new RangeError(`window ${KH}×${KW} (stride ${SH}×${SW}, padding ${PH}×${PW}) does not fit input ${H}×${W}`);
  return { N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW };
}

let current: KernelBackend | undefined;
let fallback: (() => KernelBackend) | undefined;

/** The backend in use. The reference JS backend unless `setBackend` chose another. */
export function backend(): KernelBackend {
  if (!current) {
    if (!fallback) throw new Error('no kernel backend registered (import src/engine/index.ts)');
    current = fallback();
  }
  return current;
}

/** Choose the backend for every layer built from now on. */
export function setBackend(b: KernelBackend): void {
  current = b;
}

/** Registers the default (reference) backend factory; called once by kernels/reference.ts. */
export function registerDefaultBackend(factory: () => KernelBackend): void {
  fallback = factory;
}
