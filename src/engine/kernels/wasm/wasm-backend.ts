import type { ConvGeometry, KernelBackend } from '../backend.ts';
import { RangeAllocator } from './allocator.ts';
import { kernelsWasmBase64 } from './kernels.generated.ts';

/**
 * The WebAssembly SIMD kernel backend (`wasm-simd`): GEMM, im2col and col2im compiled from
 * `assembly/kernels.ts` (AssemblyScript, 128-bit lanes) by `scripts/build-wasm.mjs`.
 *
 * Memory: one shared `WebAssembly.Memory` with a maximum (4 GiB). Shared memory never detaches its buffer
 * when it grows, so the Float32Array views `alloc` hands out stay valid for the life of the process, and
 * worker threads (src/parallel/) can run the same kernels on the same memory. Arrays that are not views of
 * this memory still work: they are copied into temporary blocks and the output copied back.
 *
 * Threads: with a {@link ParallelRunner} installed, large calls are split over output rows or columns
 * (GEMM) or images (im2col/col2im), never over a reduction axis, so results are bit-identical whatever the
 * thread count.
 */

/** The kernels exported by the WebAssembly module (byte addresses into the shared memory). */
export interface KernelExports {
  gemm(transA: number, transB: number, M: number, N: number, K: number, A: number, B: number, C: number, beta: number,
    m0: number, m1: number, n0: number, n1: number, scratch: number): void;
  im2col(x: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number,
    OH: number, OW: number, col: number, n0: number, n1: number): void;
  col2im(dcol: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number,
    OH: number, OW: number, dx: number, n0: number, n1: number): void;
  reluForward(x: number, y: number, i0: number, i1: number): void;
  reluBackward(y: number, dout: number, dx: number, i0: number, i1: number): void;
  addChannelBias(out: number, bias: number, C: number, P: number, q0: number, q1: number): void;
  sumChannels(dout: number, N: number, C: number, P: number, db: number, c0: number, c1: number): void;
  addRowBias(out: number, bias: number, cols: number, r0: number, r1: number): void;
  sumRows(dout: number, rows: number, cols: number, db: number, c0: number, c1: number): void;
  maxPoolForward(x: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number,
    OH: number, OW: number, out: number, argmax: number, q0: number, q1: number): void;
  maxPoolBackward(dout: number, argmax: number, planeIn: number, planeOut: number, dx: number, q0: number, q1: number): void;
  adamUpdate(w: number, g: number, m: number, v: number, lrT: number, b1: number, b2: number, eps: number, i0: number, i1: number): void;
  sgdUpdate(w: number, g: number, lr: number, i0: number, i1: number): void;
  momentumUpdate(w: number, g: number, v: number, lr: number, mu: number, i0: number, i1: number): void;
  nesterovUpdate(w: number, g: number, v: number, lr: number, mu: number, mu2: number, c: number, i0: number, i1: number): void;
  adaptiveUpdate(w: number, g: number, h: number, lr: number, rms: number, rho: number, oneMinusRho: number, eps: number, i0: number, i1: number): void;
  addL1L2Gradient(w: number, g: number, l1: number, l2: number, i0: number, i1: number): void;
  lrnForward(x: number, C: number, P: number, half: number, alpha: number, beta: number, k: number, scale: number, pow: number, y: number, q0: number, q1: number): void;
  lrnBackward(x: number, dout: number, scale: number, pow: number, C: number, P: number, half: number, f: number, t: number, dx: number, q0: number, q1: number): void;
  GEMM_SCRATCH_BYTES: WebAssembly.Global;
}

/** Kernels a {@link ParallelRunner} can run in a worker; a worker maps an index in this list to an export. */
export const PARALLEL_KERNELS = ['gemm', 'im2col', 'col2im', 'reluForward', 'reluBackward', 'addChannelBias', 'sumChannels', 'addRowBias', 'sumRows', 'maxPoolForward', 'maxPoolBackward', 'adamUpdate', 'sgdUpdate', 'momentumUpdate',
  'nesterovUpdate', 'adaptiveUpdate', 'addL1L2Gradient', 'lrnForward', 'lrnBackward'] as const;
/** Names of the kernels a {@link ParallelRunner} can run in a worker. */
export type KernelName = (typeof PARALLEL_KERNELS)[number];

/**
 * Runs parts of one kernel call on worker threads that share this backend's memory and module
 * (implemented outside the engine, in src/parallel/, because it needs `node:worker_threads`).
 */
export interface ParallelRunner {
  /** Total threads including the caller's (≥ 2). */
  readonly threads: number;
  /** Start `parts[i]` (i ≥ 1) on worker i − 1: `exports[kernel](...parts[i])`. Returns at once. */
  dispatch(kernel: KernelName, parts: readonly (readonly number[])[]): void;
  /** Wait until every dispatched part has finished. */
  join(): void;
}

/** The module's first 1 MiB is left to AssemblyScript (it uses none today); the allocator starts above. */
const HEAP_BASE = 1 << 20;
const PAGE = 65536;
const MAX_PAGES = 65536;
/** Below this many multiply-adds a call runs on one thread: waking a worker costs more than it saves. */
const PARALLEL_MIN_MACS = 1 << 20;
/** Below this much work (elements, weighted by kernel) an elementwise call runs on one thread. */
const PARALLEL_MIN_ELEMS = 1 << 16;
/**
 * The optimizer and regulariser updates count as 1/UPDATE_WEIGHT of an element each, so they split only
 * from 4 × PARALLEL_MIN_ELEMS elements: they are memory-bound (an SGD pass over 78,400 weights takes
 * ~10 µs) while handing a part to a worker costs 5–20 µs on a quiet machine and 20–300 µs when the second
 * core is busy. Split from 65,536 elements, the mlp's optimizer step took 175–313 µs with 2 threads against
 * 20 µs with 1, which made the mlp slower with 2 threads than with 1.
 */
const UPDATE_WEIGHT = 4;
const MR = 4;
const NR = 8;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  // atob exists in browsers and Node ≥ 16; the engine may not import node:buffer.
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Split [0, n) into at most `parts` ranges whose starts are multiples of `align`. */
function splitRange(n: number, parts: number, align: number): [number, number][] {
  const step = Math.ceil(n / parts / align) * align;
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(n, s + step)]);
  return out;
}

/** The WebAssembly SIMD backend. Create it with {@link createWasmBackend} or use {@link wasmBackend}. */
export class WasmBackend implements KernelBackend {
  readonly name: string = 'wasm-simd';
  /** The shared memory every buffer from `alloc` lives in. */
  readonly memory: WebAssembly.Memory;
  /** The compiled module, for worker threads to instantiate on the same memory. */
  readonly module: WebAssembly.Module;
  readonly exports: KernelExports;
  private readonly allocator: RangeAllocator;
  /** Every SharedArrayBuffer object `memory.buffer` has returned (growth returns a new object each time). */
  private readonly buffers = new Set<ArrayBufferLike>();
  private heap: Float32Array;
  /** Private GEMM scratch per thread (index 0 = the calling thread). */
  private readonly scratch: number[] = [];
  private runner: ParallelRunner | null = null;
  private threads = 1;

  constructor(module: WebAssembly.Module) {
    this.module = module;
    this.memory = new WebAssembly.Memory({ initial: HEAP_BASE / PAGE + 16, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as KernelExports;
    this.heap = this.refresh();
    this.allocator = new RangeAllocator(HEAP_BASE, (blockEnd) => {
      // 64 bytes of slack past the last block: some kernels load a full v128 that ends past a row.
      const end = blockEnd + 64;
      const have = this.memory.buffer.byteLength;
      if (end > have) {
        const pages = Math.ceil((end - have) / PAGE);
        if (have / PAGE + pages > MAX_PAGES) throw new RangeError(`wasm-simd: out of memory (${end} bytes requested, 4 GiB maximum)`);
        this.memory.grow(pages);
        this.refresh();
      }
    });
    this.scratch.push(this.allocator.alloc(this.exports.GEMM_SCRATCH_BYTES.value as number));
  }

  private refresh(): Float32Array {
    const buf = this.memory.buffer;
    this.buffers.add(buf);
    this.heap = new Float32Array(buf);
    return this.heap;
  }

  private view(): Float32Array {
    if (this.heap.byteLength !== this.memory.buffer.byteLength) this.refresh();
    return this.heap;
  }

  /** True when `a` is a view of this backend's memory (its kernels use it in place). */
  owns(a: Float32Array): boolean {
    return this.buffers.has(a.buffer) || (a.buffer === this.memory.buffer && (this.refresh(), true));
  }

  /** Bytes of the memory the allocator has ever used (its high-water mark). */
  get reservedBytes(): number {
    return this.allocator.highWater;
  }

  /** Bytes currently allocated. */
  get liveBytes(): number {
    return this.allocator.liveBytes;
  }

  alloc(n: number): Float32Array {
    const off = this.allocator.alloc(n * 4);
    const heap = this.view();
    const a = new Float32Array(heap.buffer, off, n);
    a.fill(0);
    return a;
  }

  free(a: Float32Array): void {
    if (this.owns(a)) this.allocator.free(a.byteOffset);
  }

  /** Install (or remove, with null) the worker pool that splits large calls. Results do not change. */
  setRunner(runner: ParallelRunner | null): void {
    this.runner = runner;
    this.threads = runner ? runner.threads : 1;
    while (this.scratch.length < this.threads) {
      this.scratch.push(this.allocator.alloc(this.exports.GEMM_SCRATCH_BYTES.value as number));
    }
  }

  /** The number of threads large calls are split over (1 without a runner). */
  get threadCount(): number {
    return this.threads;
  }

  /**
   * Worker threads cannot be started from the engine (no `node:worker_threads` here): they are installed
   * from outside with `installKernels({ threads })` (src/parallel/pool.ts). This only records the request;
   * results are the same with any thread count, so a run asking for more threads than installed is slower,
   * never different.
   */
  setThreads(threads: number): void {
    this.requestedThreads = Math.max(1, Math.floor(threads));
  }

  /** The last count passed to `setThreads` (1 by default). */
  requestedThreads = 1;

  // Copy-in / copy-out for arrays outside the memory: a temporary block, freed after the call.
  private temps: number[] = [];

  private addr(a: Float32Array, n: number, copyIn: boolean): number {
    if (this.owns(a)) return a.byteOffset;
    const off = this.allocator.alloc(n * 4);
    this.temps.push(off);
    if (copyIn) this.view().set(a.subarray(0, n), off >> 2);
    return off;
  }

  private copyOut(a: Float32Array, off: number, n: number): void {
    if (off !== a.byteOffset || !this.owns(a)) a.set(this.view().subarray(off >> 2, (off >> 2) + n));
  }

  private releaseTemps(): void {
    for (const off of this.temps) this.allocator.free(off);
    this.temps.length = 0;
  }

  /** Run `parts` of a kernel, part 0 here and the others on the runner's workers. */
  private runParts(kernel: KernelName, parts: number[][]): void {
    const r = this.runner;
    if (!r || parts.length === 1) {
      (this.exports[kernel] as (...a: number[]) => void)(...parts[0]!);
      return;
    }
    r.dispatch(kernel, parts);
    try {
      (this.exports[kernel] as (...a: number[]) => void)(...parts[0]!);
    } finally {
      r.join();
    }
  }

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, beta: 0 | 1): void {
    if (M === 0 || N === 0) return;
    const pa = this.addr(A, M * K, true);
    const pb = this.addr(B, K * N, true);
    const pc = this.addr(C, M * N, beta === 1);
    try {
      const ta = transA ? 1 : 0;
      const tb = transB ? 1 : 0;
      if (this.threads > 1 && M * N * K >= PARALLEL_MIN_MACS) {
        // Split the larger output side (aligned to the micro-tile); K is never split.
        const byRows = M / MR >= N / NR;
        const ranges = splitRange(byRows ? M : N, this.threads, byRows ? MR : NR);
        const parts = ranges.map(([s, e], i) => byRows
          ? [ta, tb, M, N, K, pa, pb, pc, beta, s, e, 0, N, this.scratch[i]!]
          : [ta, tb, M, N, K, pa, pb, pc, beta, 0, M, s, e, this.scratch[i]!]);
        this.runParts('gemm', parts);
      } else {
        this.exports.gemm(ta, tb, M, N, K, pa, pb, pc, beta, 0, M, 0, N, this.scratch[0]!);
      }
      if (pc !== C.byteOffset || !this.owns(C)) this.copyOut(C, pc, M * N);
    } finally {
      this.releaseTemps();
    }
  }

  private convCall(kernel: 'im2col' | 'col2im', src: number, g: ConvGeometry, dst: number): void {
    const { N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW } = g;
    const work = N * C * OH * OW * KH * KW;
    const ranges = this.threads > 1 && N > 1 && work >= PARALLEL_MIN_MACS / 4 ? splitRange(N, this.threads, 1) : [[0, N] as [number, number]];
    this.runParts(kernel, ranges.map(([s, e]) => [src, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW, dst, s, e]));
  }

  im2col(x: Float32Array, g: ConvGeometry, col: Float32Array): void {
    const nx = g.N * g.C * g.H * g.W;
    const ncol = g.N * g.OH * g.OW * g.C * g.KH * g.KW;
    const px = this.addr(x, nx, true);
    const pcol = this.addr(col, ncol, false);
    try {
      this.convCall('im2col', px, g, pcol);
      if (pcol !== col.byteOffset || !this.owns(col)) this.copyOut(col, pcol, ncol);
    } finally {
      this.releaseTemps();
    }
  }

  col2im(dcol: Float32Array, g: ConvGeometry, dx: Float32Array): void {
    const nx = g.N * g.C * g.H * g.W;
    const ncol = g.N * g.OH * g.OW * g.C * g.KH * g.KW;
    const pcol = this.addr(dcol, ncol, true);
    const px = this.addr(dx, nx, false);
    try {
      this.convCall('col2im', pcol, g, px);
      if (px !== dx.byteOffset || !this.owns(dx)) this.copyOut(dx, px, nx);
    } finally {
      this.releaseTemps();
    }
  }

  /**
   * Run `kernel` over [0, n) split in aligned ranges when threads are on and `work` is large enough;
   * `args(s, e)` builds one part's arguments.
   */
  private split(kernel: KernelName, n: number, work: number, align: number, args: (s: number, e: number) => number[]): void {
    const ranges = this.threads > 1 && n > align && work >= PARALLEL_MIN_ELEMS ? splitRange(n, this.threads, align) : [[0, n] as [number, number]];
    this.runParts(kernel, ranges.map(([s, e]) => args(s, e)));
  }

  /**
   * True when a call over [0, n) with `work` elements runs on this thread alone (what `split` decides).
   * With every array already in the memory, such a call goes straight to the kernel: the staging path
   * costs 3–8 µs per call in closures and argument arrays, which small layers and biases pay many times
   * per batch (mlp: ~25 calls).
   */
  private solo(n: number, work: number, align: number): boolean {
    return this.threads <= 1 || n <= align || work < PARALLEL_MIN_ELEMS;
  }

  /**
   * Stage the arrays of one call: `ins` are read (copied in when foreign), `outs` written (copied back
   * when foreign; `[array, n, true]` also copies in, for read-modify-write). Temporaries are freed after.
   */
  private staged(ins: [Float32Array, number][], outs: [Float32Array, number, boolean?][], body: (p: number[]) => void): void {
    try {
      const p = [...ins.map(([a, n]) => this.addr(a, n, true)), ...outs.map(([a, n, rw]) => this.addr(a, n, rw === true))];
      body(p);
      outs.forEach(([a, n], i) => {
        const off = p[ins.length + i]!;
        if (off !== a.byteOffset || !this.owns(a)) this.copyOut(a, off, n);
      });
    } finally {
      this.releaseTemps();
    }
  }

  reluForward(x: Float32Array, y: Float32Array, n: number): void {
    if (this.solo(n, n, 16) && this.owns(x) && this.owns(y)) return this.exports.reluForward(x.byteOffset, y.byteOffset, 0, n);
    this.staged([[x, n]], [[y, n]], ([px, py]) => this.split('reluForward', n, n, 16, (s, e) => [px!, py!, s, e]));
  }

  reluBackward(y: Float32Array, dout: Float32Array, dx: Float32Array, n: number): void {
    if (this.solo(n, n, 16) && this.owns(y) && this.owns(dout) && this.owns(dx)) return this.exports.reluBackward(y.byteOffset, dout.byteOffset, dx.byteOffset, 0, n);
    this.staged([[y, n], [dout, n]], [[dx, n]], ([py, pd, px]) => this.split('reluBackward', n, n, 16, (s, e) => [py!, pd!, px!, s, e]));
  }

  addChannelBias(out: Float32Array, bias: Float32Array, N: number, C: number, P: number): void {
    if (this.solo(N * C, N * C * P, 1) && this.owns(out) && this.owns(bias)) return this.exports.addChannelBias(out.byteOffset, bias.byteOffset, C, P, 0, N * C);
    const n = N * C * P;
    this.staged([[bias, C]], [[out, n, true]], ([pb, po]) => this.split('addChannelBias', N * C, n, 1, (s, e) => [po!, pb!, C, P, s, e]));
  }

  sumChannels(dout: Float32Array, N: number, C: number, P: number, db: Float32Array): void {
    if (this.solo(C, N * C * P, 1) && this.owns(dout) && this.owns(db)) return this.exports.sumChannels(dout.byteOffset, N, C, P, db.byteOffset, 0, C);
    this.staged([[dout, N * C * P]], [[db, C]], ([pd, pb]) => this.split('sumChannels', C, N * C * P, 1, (s, e) => [pd!, N, C, P, pb!, s, e]));
  }

  addRowBias(out: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    if (this.solo(rows, rows * cols, 1) && this.owns(out) && this.owns(bias)) return this.exports.addRowBias(out.byteOffset, bias.byteOffset, cols, 0, rows);
    this.staged([[bias, cols]], [[out, rows * cols, true]], ([pb, po]) => this.split('addRowBias', rows, rows * cols, 1, (s, e) => [po!, pb!, cols, s, e]));
  }

  sumRows(dout: Float32Array, rows: number, cols: number, db: Float32Array): void {
    if (this.solo(cols, rows * cols, 4) && this.owns(dout) && this.owns(db)) return this.exports.sumRows(dout.byteOffset, rows, cols, db.byteOffset, 0, cols);
    this.staged([[dout, rows * cols]], [[db, cols]], ([pd, pb]) => this.split('sumRows', cols, rows * cols, 4, (s, e) => [pd!, rows, cols, pb!, s, e]));
  }

  maxPoolForward(x: Float32Array, g: ConvGeometry, out: Float32Array, argmax: Int32Array): void {
    const planes = g.N * g.C;
    const nOut = planes * g.OH * g.OW;
    const am = this.asF32(argmax);
    this.staged([[x, planes * g.H * g.W]], [[out, nOut], [am, nOut]], ([px, po, pa]) =>
      this.split('maxPoolForward', planes, planes * g.H * g.W, 1, (s, e) => [px!, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.OH, g.OW, po!, pa!, s, e]));
  }

  maxPoolBackward(dout: Float32Array, argmax: Int32Array, outSize: number, total: number, dx: Float32Array, planes = 1): void {
    // Without `planes` (or when it does not divide both sizes) the tensor is one plane: one thread.
    const P = Number.isInteger(planes) && planes >= 1 && outSize % planes === 0 && total % planes === 0 ? planes : 1;
    const planeIn = total / P;
    const planeOut = outSize / P;
    const am = this.asF32(argmax);
    this.staged([[dout, outSize], [am, outSize]], [[dx, total]], ([pd, pa, px]) =>
      this.split('maxPoolBackward', P, total, 1, (s, e) => [pd!, pa!, planeIn, planeOut, px!, s, e]));
  }

  /** The same bytes as a Float32Array (staging copies bytes, so int32 data passes through unchanged). */
  private asF32(a: Int32Array): Float32Array {
    return new Float32Array(a.buffer, a.byteOffset, a.length);
  }

  allocInt32(n: number): Int32Array {
    const f = this.alloc(n);
    return new Int32Array(f.buffer, f.byteOffset, n);
  }

  freeInt32(a: Int32Array): void {
    this.free(this.asF32(a));
  }

  adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number, lrT: number, beta1: number, beta2: number, eps: number): void {
    if (this.solo(n, n / UPDATE_WEIGHT, 16) && this.owns(w) && this.owns(g) && this.owns(m) && this.owns(v)) return this.exports.adamUpdate(w.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, lrT, 1 - beta1, 1 - beta2, eps, 0, n);
    // The kernel takes (1 − β) as the reference's update does.
    this.staged([[g, n]], [[w, n, true], [m, n, true], [v, n, true]], ([pg, pw, pm, pv]) =>
      this.split('adamUpdate', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, pm!, pv!, lrT, 1 - beta1, 1 - beta2, eps, s, e]));
  }

  sgdUpdate(w: Float32Array, g: Float32Array, n: number, lr: number): void {
    if (this.solo(n, n / UPDATE_WEIGHT, 16) && this.owns(w) && this.owns(g)) return this.exports.sgdUpdate(w.byteOffset, g.byteOffset, lr, 0, n);
    this.staged([[g, n]], [[w, n, true]], ([pg, pw]) => this.split('sgdUpdate', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, lr, s, e]));
  }

  momentumUpdate(w: Float32Array, g: Float32Array, v: Float32Array, n: number, lr: number, momentum: number): void {
    if (this.solo(n, n / UPDATE_WEIGHT, 16) && this.owns(w) && this.owns(g) && this.owns(v)) return this.exports.momentumUpdate(w.byteOffset, g.byteOffset, v.byteOffset, lr, momentum, 0, n);
    this.staged([[g, n]], [[w, n, true], [v, n, true]], ([pg, pw, pv]) =>
      this.split('momentumUpdate', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, pv!, lr, momentum, s, e]));
  }

  nesterovUpdate(w: Float32Array, g: Float32Array, v: Float32Array, n: number, lr: number, momentum: number): void {
    // μ² and (1+μ)·lr computed once here in float64, as the reference's per-element expression would.
    const mu2 = momentum * momentum;
    const c = (1 + momentum) * lr;
    this.staged([[g, n]], [[w, n, true], [v, n, true]], ([pg, pw, pv]) =>
      this.split('nesterovUpdate', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, pv!, lr, momentum, mu2, c, s, e]));
  }

  adagradUpdate(w: Float32Array, g: Float32Array, h: Float32Array, n: number, lr: number, eps: number): void {
    if (this.solo(n, n / UPDATE_WEIGHT, 16) && this.owns(w) && this.owns(g) && this.owns(h)) return this.exports.adaptiveUpdate(w.byteOffset, g.byteOffset, h.byteOffset, lr, 0, 0, 1, eps, 0, n);
    this.staged([[g, n]], [[w, n, true], [h, n, true]], ([pg, pw, ph]) =>
      this.split('adaptiveUpdate', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, ph!, lr, 0, 0, 1, eps, s, e]));
  }

  rmspropUpdate(w: Float32Array, g: Float32Array, h: Float32Array, n: number, lr: number, decay: number, eps: number): void {
    if (this.solo(n, n / UPDATE_WEIGHT, 16) && this.owns(w) && this.owns(g) && this.owns(h)) return this.exports.adaptiveUpdate(w.byteOffset, g.byteOffset, h.byteOffset, lr, 1, decay, 1 - decay, eps, 0, n);
    this.staged([[g, n]], [[w, n, true], [h, n, true]], ([pg, pw, ph]) =>
      this.split('adaptiveUpdate', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, ph!, lr, 1, decay, 1 - decay, eps, s, e]));
  }

  addL1L2Gradient(w: Float32Array, g: Float32Array, n: number, l1: number, l2: number): void {
    if (this.solo(n, n / UPDATE_WEIGHT, 16) && this.owns(w) && this.owns(g)) return this.exports.addL1L2Gradient(w.byteOffset, g.byteOffset, l1, l2, 0, n);
    this.staged([[w, n]], [[g, n, true]], ([pw, pg]) => this.split('addL1L2Gradient', n, n / UPDATE_WEIGHT, 16, (s, e) => [pw!, pg!, l1, l2, s, e]));
  }

  lrnForward(x: Float32Array, N: number, C: number, P: number, size: number, alpha: number, beta: number, k: number, scaleOut: Float32Array, powOut: Float32Array, y: Float32Array): void {
    const n = N * C * P;
    const half = Math.floor(size / 2);
    // Planes split between threads: each output plane is computed from its own window (thread-independent).
    this.staged([[x, n]], [[scaleOut, n], [powOut, n], [y, n]], ([px, ps, pp, py]) =>
      this.split('lrnForward', N * C, n * size, 1, (s, e) => [px!, C, P, half, alpha, beta, k, ps!, pp!, py!, s, e]));
  }

  lrnBackward(x: Float32Array, dout: Float32Array, scaleIn: Float32Array, powIn: Float32Array, N: number, C: number, P: number, size: number, alpha: number, beta: number, t: Float32Array, dx: Float32Array): void {
    const n = N * C * P;
    const half = Math.floor(size / 2);
    this.staged([[x, n], [dout, n], [scaleIn, n], [powIn, n]], [[t, n], [dx, n]], ([px, pd, ps, pp, pt, pdx]) =>
      this.split('lrnBackward', N * C, n * size, 1, (s, e) => [px!, pd!, ps!, pp!, C, P, half, 2 * alpha * beta, pt!, pdx!, s, e]));
  }
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernels module, or null when the build produced none (no assemblyscript at install). */
export function kernelsModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    compiled = kernelsWasmBase64 === null ? null : new WebAssembly.Module(decodeBase64(kernelsWasmBase64));
  }
  return compiled;
}

/** True when the WebAssembly kernels were built and this runtime can run them (SIMD, shared memory). */
export function wasmAvailable(): boolean {
  try {
    return kernelsModule() !== null;
  } catch {
    return false;
  }
}

/** A new backend with its own memory. Throws when the kernels are unavailable (see {@link wasmAvailable}). */
export function createWasmBackend(): WasmBackend {
  const m = kernelsModule();
  if (!m) throw new Error('wasm-simd: the kernels were not built (run `npm run prepare`)');
  return new WasmBackend(m);
}

let shared: WasmBackend | undefined;

/** The process-wide WebAssembly backend (one memory, shared with the worker pool when threads are on). */
export function wasmBackend(): WasmBackend {
  shared ??= createWasmBackend();
  return shared;
}
