/**
 * Worker threads for the WebAssembly kernels. Lives outside the engine because it needs
 * `node:worker_threads` (the engine imports no `node:*`). Each worker instantiates the kernels module on
 * the backend's shared memory, then waits on a shared control block: the caller writes one argument list
 * per worker, bumps a generation counter and runs its own part; workers run theirs and count down.
 *
 * Synchronisation is Atomics only (no message passing per call): a short spin first, because the calls
 * are 10 µs – 10 ms long and waking a sleeping thread through the kernel costs tens of microseconds, then
 * `Atomics.wait` so idle workers do not burn a core that other processes need.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { setBackend } from '../engine/kernels/backend.ts';
import { type KernelName, PARALLEL_KERNELS, type ParallelRunner, type WasmBackend, wasmBackend } from '../engine/kernels/wasm/index.ts';

/** Kernel ids in the control block: 1 + index in PARALLEL_KERNELS (0 = exit, −1 = no work). */
const KERNEL_ID = Object.fromEntries(PARALLEL_KERNELS.map((k, i) => [k, i + 1])) as Record<KernelName, number>;
/** Float64 argument slots per worker (the longest kernel signature has 15). */
const ARGS = 16;
// Control words: [0] generation, [1] workers still running, [2] error flag, then per worker [kernel id, argc].
const GEN = 0;
const PENDING = 1;
const ERROR = 2;
const SLOT = 4;

// The worker is plain JavaScript evaluated from a string: it needs no TypeScript loader (tsx does not reach
// into worker_threads on Node 20) and no file next to the compiled output.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctlBuf, argBuf, index, gen0, spin } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(ctlBuf);
const args = new Float64Array(argBuf);
const fns = [null, ...${JSON.stringify(PARALLEL_KERNELS)}.map((k) => ex[k])];
let seen = gen0;
for (;;) {
  let n = 0;
  while (Atomics.load(ctl, ${GEN}) === seen) {
    if (++n > spin) { Atomics.wait(ctl, ${GEN}, seen); n = 0; }
  }
  seen = Atomics.load(ctl, ${GEN});
  const id = ctl[${SLOT} + 2 * index];
  if (id === 0) break;
  if (id > 0) {
    const b = index * ${ARGS};
    const a = args.subarray(b, b + ctl[${SLOT} + 2 * index + 1]);
    try { fns[id](...a); } catch (e) { Atomics.store(ctl, ${ERROR}, 1); }
  }
  if (Atomics.sub(ctl, ${PENDING}, 1) === 1) Atomics.notify(ctl, ${PENDING});
}
`;

/** A pool of `threads − 1` workers plus the calling thread, running one backend's kernels. */
export class KernelThreadPool implements ParallelRunner {
  readonly threads: number;
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly spin: number;
  private closed = false;
  /** Calls split over the workers so far (for tests and benchmarks). */
  dispatches = 0;

  /**
   * @param backend the backend whose memory and module the workers share
   * @param threads total threads (≥ 2), including the caller
   * @param spin busy-wait iterations before sleeping (caller and workers)
   */
  constructor(backend: WasmBackend, threads: number, spin = 20000) {
    this.threads = threads;
    this.spin = spin;
    const workers = threads - 1;
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * (SLOT + 2 * workers)));
    this.args = new Float64Array(new SharedArrayBuffer(8 * ARGS * workers));
    for (let i = 0; i < workers; i++) {
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: backend.module, memory: backend.memory, ctlBuf: this.ctl.buffer, argBuf: this.args.buffer, index: i, gen0: 0, spin },
      });
      w.unref(); // an idle pool never keeps the process alive
      this.workers.push(w);
    }
  }

  dispatch(kernel: KernelName, parts: readonly (readonly number[])[]): void {
    if (this.closed) throw new Error('kernel thread pool is closed');
    this.dispatches++;
    const workers = this.workers.length;
    for (let w = 0; w < workers; w++) {
      const part = parts[w + 1];
      if (part) {
        this.ctl[SLOT + 2 * w] = KERNEL_ID[kernel];
        this.ctl[SLOT + 2 * w + 1] = part.length;
        this.args.set(part, w * ARGS);
      } else this.ctl[SLOT + 2 * w] = -1; // nothing for this worker this time: it only counts down
    }
    Atomics.store(this.ctl, PENDING, workers);
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
  }

  join(): void {
    let n = 0;
    for (;;) {
      const left = Atomics.load(this.ctl, PENDING);
      if (left === 0) break;
      if (++n > this.spin) {
        Atomics.wait(this.ctl, PENDING, left, 1000);
        n = 0;
      }
    }
    if (Atomics.exchange(this.ctl, ERROR, 0) !== 0) throw new Error('a kernel failed in a worker thread');
  }

  /** Stop the workers (they exit at their next wake-up). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (let w = 0; w < this.workers.length; w++) this.ctl[SLOT + 2 * w] = 0;
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let pool: KernelThreadPool | null = null;

/** The number of threads this machine can run at once (the cap for `installThreads`). */
export function maxThreads(): number {
  return availableParallelism();
}

/**
 * Make the WebAssembly backend the engine's backend, splitting large kernels over `threads` threads
 * (capped at the core count; 1 = no workers). Replaces any pool installed before. Results do not depend on
 * the thread count. Returns the backend and the thread count actually used.
 */
export async function installThreads(threads: number, backend: WasmBackend = wasmBackend()): Promise<{ backend: WasmBackend; threads: number }> {
  const t = Math.max(1, Math.min(Math.floor(threads), maxThreads()));
  if (pool && (pool.threads !== t || t === 1)) {
    backend.setRunner(null);
    await pool.close();
    pool = null;
  }
  if (t > 1 && !pool) {
    pool = new KernelThreadPool(backend, t);
    backend.setRunner(pool);
  }
  setBackend(backend);
  return { backend, threads: t };
}

/**
 * Install the fastest kernels this machine has: the native GEMM (AVX-512/AVX2 addon built at install)
 * over the WebAssembly kernels when available and `native` is not false, else WebAssembly alone; split
 * over `threads` (capped at the core count). Returns the backend's name and the threads used.
 */
export async function installKernels(opts: { threads?: number; native?: boolean } = {}): Promise<{ backend: WasmBackend; threads: number }> {
  const { nativeBackend } = await import('../native/index.ts');
  const nb = opts.native === false ? null : nativeBackend();
  const r = await installThreads(opts.threads ?? 1, nb ?? wasmBackend());
  if (nb) nb.gemmThreads = r.threads;
  return r;
}

/** Stop the worker pool, if any; the backend goes on with one thread. */
export async function shutdownThreads(backend: WasmBackend = wasmBackend()): Promise<void> {
  if (!pool) return;
  backend.setRunner(null);
  await pool.close();
  pool = null;
}
