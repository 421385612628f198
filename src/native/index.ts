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
import { kernelsModule, WasmBackend } from '../engine/kernels/wasm/index.ts';

/** The addon's exports. */
export interface NativeKernels {
  /** C = op(A)·op(B) (+ C when beta = 1), split over `threads` OpenMP threads (outputs only). */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, beta: number, threads: number): void;
  /** The instruction set it was compiled for: `avx512`, `avx2` or `generic`. */
  isa(): string;
}

let loaded: NativeKernels | null | undefined;

/** The addon, or null when it was not built (no g++, KEIKO_NATIVE=0) or does not load. */
export function loadNative(): NativeKernels | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.KEIKO_NATIVE === '0') return loaded;
  try {
    const path = fileURLToPath(new URL('../../build/keiko-native.node', import.meta.url));
    // OpenMP's idle threads spin for a long time by default: on two cores they steal the time of the main
    // thread and of the WebAssembly workers between parallel GEMMs. Measured with 2 threads (samples/s):
    // default spin, busy machine: mlp 6,400; passive: mlp 70–75k, deep 730; a bounded spin of 50,000
    // iterations on a quiet machine: mlp 90k, simple 7,700, deep 906. keiko's default is the bounded spin;
    // on a machine shared with other busy processes set OMP_WAIT_POLICY=PASSIVE. libgomp reads these
    // when the addon loads.
    if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
      process.env.OMP_WAIT_POLICY = 'ACTIVE';
      process.env.GOMP_SPINCOUNT = '50000';
    }
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

  constructor(native: NativeKernels) {
    const m = kernelsModule();
    if (!m) throw new Error('native backend: the WebAssembly kernels were not built');
    super(m);
    this.native = native;
    this.name = `native-${native.isa()}+wasm`;
  }

  /** The native GEMM splits over up to `threads` OpenMP threads (capped at the core count). */
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
