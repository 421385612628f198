/**
 * The optional native GEMM (build/keiko-native.node, built at install by scripts/build-native.mjs with
 * `g++ -march=native`: 512-bit fused multiply-adds where the CPU has AVX-512). Outside the engine because
 * loading an addon needs Node (`createRequire`); the engine sees only a `KernelBackend`.
 *
 * `NativeBackend` is the WebAssembly backend with `gemm` replaced: every other kernel (im2col, pooling,
 * elementwise) and the memory stay WebAssembly's, and the addon reads and writes the same buffers in place.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ConvGeometry } from '../engine/kernels/backend.ts';
import { kernelsModule, WasmBackend } from '../engine/kernels/wasm/index.ts';

/** The addon's exports. */
export interface NativeKernels {
  /** C = op(A)·op(B) (+ C when beta = 1), split over `threads` threads of the addon's pool (outputs only). */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, beta: number, threads: number): void;
  /** The instruction set it was compiled for: `avx512`, `avx2` or `generic`. */
  isa(): string;
  /**
   * Conv2d forward of a batch (native/conv.h): y (N, F, OH, OW) = W ⋆ x + b per group, images split over
   * `threads` threads. Absent from addons built before it existed.
   */
  conv2dForward?(x: Float32Array, w: Float32Array, b: Float32Array | null, y: Float32Array,
    N: number, C: number, H: number, W: number, F: number, G: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, threads: number): void;
  /** Conv2d backward of a batch from forward's x: dW, db (null: skipped), dx (null: skipped), all overwritten; thread-count independent. */
  conv2dBackward?(x: Float32Array, dout: Float32Array, w: Float32Array, dw: Float32Array, db: Float32Array | null, dx: Float32Array | null,
    N: number, C: number, H: number, W: number, F: number, G: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, threads: number): void;
}

let loaded: NativeKernels | null | undefined;

/** The addon, or null when it was not built (no g++, KEIKO_NATIVE=0) or does not load. */
export function loadNative(): NativeKernels | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.KEIKO_NATIVE === '0') return loaded;
  try {
    const path = fileURLToPath(new URL('../../build/keiko-native.node', import.meta.url));
    if (existsSync(path)) loaded = createRequire(import.meta.url)(path) as NativeKernels;
  } catch {
    loaded = null;
  }
  return loaded;
}

/** The WebAssembly backend with the native GEMM (named `native-<isa>+wasm`). */
export class NativeBackend extends WasmBackend {
  override readonly name: string;
  private readonly native: NativeKernels;
  /** Threads the native GEMM splits over (set with the worker pool by installKernels). */
  gemmThreads = 1;
  /**
   * Whole-batch Conv2d in the addon (see KernelBackend.conv2dForward); g.C counts all channels. Absent
   * when the addon predates it, or with KEIKO_NATIVE_CONV=0 (the per-image path, for A/B measurements).
   */
  conv2dForward?: (x: Float32Array, weight: Float32Array, bias: Float32Array | null, g: ConvGeometry, F: number, groups: number, y: Float32Array) => void;
  /** Whole-batch Conv2d backward in the addon (see KernelBackend.conv2dBackward); present with conv2dForward. */
  conv2dBackward?: (x: Float32Array, dout: Float32Array, weight: Float32Array, g: ConvGeometry, F: number, groups: number, dW: Float32Array, db: Float32Array | null, dx: Float32Array | null) => void;

  constructor(native: NativeKernels) {
    const m = kernelsModule();
    if (!m) throw new Error('native backend: the WebAssembly kernels were not built');
    super(m);
    this.native = native;
    this.name = `native-${native.isa()}+wasm`;
    const fwd = native.conv2dForward;
    const bwd = native.conv2dBackward;
    if (fwd && bwd && process.env.KEIKO_NATIVE_CONV !== '0') {
      this.conv2dForward = (x, weight, bias, g, F, groups, y) => {
        fwd(x, weight, bias, y, g.N, g.C, g.H, g.W, F, groups, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, this.gemmThreads);
      };
      this.conv2dBackward = (x, dout, weight, g, F, groups, dW, db, dx) => {
        bwd(x, dout, weight, dW, db, dx, g.N, g.C, g.H, g.W, F, groups, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, this.gemmThreads);
      };
    }
  }

  /** The native GEMM splits over up to `threads` threads (capped at the core count). */
  override setThreads(threads: number): void {
    super.setThreads(threads);
    this.gemmThreads = Math.max(1, Math.min(Math.floor(threads), availableParallelism()));
  }

  override gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, beta: 0 | 1): void {
    this.native.gemm(transA, transB, M, N, K, A, B, C, beta, this.gemmThreads);
  }
}

let shared: NativeBackend | null | undefined;

/** The process-wide native backend, or null when the addon is unavailable. */
export function nativeBackend(): NativeBackend | null {
  if (shared === undefined) {
    const n = loadNative();
    shared = n ? new NativeBackend(n) : null;
  }
  return shared;
}
