import { afterAll, describe, expect, it } from 'vitest';
import { convGeometry, type ConvGeometry, type KernelBackend } from '../../../src/engine/kernels/backend.ts';
import { addChannelBias, addRowBias, reluBackward, reluForward, sumChannels, sumRows } from '../../../src/engine/kernels/elementwise.ts';
import { maxPoolBackward, maxPoolForward } from '../../../src/engine/kernels/pool.ts';
import { referenceBackend } from '../../../src/engine/kernels/reference.ts';
import { createWasmBackend, RangeAllocator, type WasmBackend } from '../../../src/engine/kernels/wasm/index.ts';
import { NativeBackend, loadNative } from '../../../src/native/index.ts';
import { KernelThreadPool } from '../../../src/parallel/pool.ts';

// The fast kernels against the reference kernels on random shapes (odd sizes, strides, paddings,
// channels), single-threaded and split over worker threads. Results must be close to the reference
// (different summation order) and bit-identical between 1 and 2 threads.

let seed = 12345;
function rand(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}
function randInt(lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}
function fill(a: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = rand() * 2 - 1;
  return a;
}
/** Bit-identical arrays (NaN included); reports the first difference (fast on large arrays, unlike toEqual). */
function expectSame(got: Float32Array | Int32Array, want: Float32Array | Int32Array): void {
  expect(got.length).toBe(want.length);
  const a = new Int32Array(got.buffer, got.byteOffset, got.length);
  const b = new Int32Array(want.buffer, want.byteOffset, want.length);
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    // Any NaN equals any NaN (payloads are not specified); everything else bit for bit (−0 ≠ +0).
    if (a[i] !== b[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]) && got instanceof Float32Array)) {
      first = i;
      break;
    }
  }
  expect(first === -1 ? 'identical' : `differs at ${first}: ${got[first]} vs ${want[first]}`).toBe('identical');
}
function expectClose(got: Float32Array, want: Float32Array, K: number): void {
  expect(got.length).toBe(want.length);
  // Float32 sums of K terms in a different order: error grows ~ √K·ε·|terms|.
  const tol = 1e-5 * Math.max(1, K);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue; // equal infinities too
    worst = Math.max(worst, Number.isFinite(got[i]!) ? Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)) : Infinity);
  }
  expect(worst).toBeLessThan(tol);
}

interface GemmCase { tA: boolean; tB: boolean; M: number; N: number; K: number; beta: 0 | 1 }
const gemmCases: GemmCase[] = [
  { tA: false, tB: false, M: 1, N: 1, K: 1, beta: 0 },
  { tA: false, tB: false, M: 100, N: 100, K: 784, beta: 0 },
  { tA: true, tB: false, M: 25, N: 30, K: 577, beta: 1 },
  { tA: false, tB: true, M: 30, N: 576, K: 25, beta: 0 },
  { tA: true, tB: true, M: 13, N: 17, K: 300, beta: 1 },
  { tA: false, tB: false, M: 131, N: 1030, K: 260, beta: 1 }, // crosses MC, NC and KC block edges
];
for (let i = 0; i < 24; i++) {
  gemmCases.push({ tA: rand() < 0.5, tB: rand() < 0.5, M: randInt(1, 70), N: randInt(1, 70), K: randInt(1, 300), beta: rand() < 0.5 ? 0 : 1 });
}

function runGemm(be: KernelBackend, c: GemmCase, A: Float32Array, B: Float32Array, C0: Float32Array, inMemory: boolean): Float32Array {
  const a = inMemory ? be.alloc(A.length) : new Float32Array(A.length);
  const b = inMemory ? be.alloc(B.length) : new Float32Array(B.length);
  const out = inMemory ? be.alloc(C0.length) : new Float32Array(C0.length);
  a.set(A);
  b.set(B);
  out.set(C0);
  be.gemm(c.tA, c.tB, c.M, c.N, c.K, a, b, out, c.beta);
  const res = out.slice();
  if (inMemory) for (const x of [a, b, out]) be.free(x);
  return res;
}

interface ConvCase { N: number; C: number; H: number; W: number; KH: number; KW: number; SH: number; SW: number; PH: number; PW: number }
const convCases: ConvCase[] = [
  { N: 2, C: 1, H: 28, W: 28, KH: 5, KW: 5, SH: 1, SW: 1, PH: 0, PW: 0 },
  { N: 3, C: 16, H: 14, W: 14, KH: 3, KW: 3, SH: 1, SW: 1, PH: 2, PW: 2 },
  { N: 1, C: 3, H: 31, W: 31, KH: 11, KW: 11, SH: 4, SW: 4, PH: 0, PW: 0 },
  { N: 2, C: 2, H: 7, W: 9, KH: 3, KW: 2, SH: 2, SW: 3, PH: 1, PW: 0 },
];
for (let i = 0; i < 12; i++) {
  const KH = randInt(1, 5);
  const KW = randInt(1, 6);
  const PH = randInt(0, 2);
  const PW = randInt(0, 2);
  convCases.push({ N: randInt(1, 5), C: randInt(1, 4), H: randInt(KH, 12), W: randInt(KW, 13), KH, KW, SH: randInt(1, 3), SW: randInt(1, 3), PH, PW });
}
function geom(c: ConvCase): ConvGeometry {
  return convGeometry(c.N, c.C, c.H, c.W, c.KH, c.KW, c.SH, c.SW, c.PH, c.PW);
}

describe('wasm-simd kernels against the reference', () => {
  const wasm: WasmBackend = createWasmBackend();

  it('gemm matches on every transposition case, in and out of wasm memory', () => {
    for (const c of gemmCases) {
      const A = fill(new Float32Array(c.M * c.K));
      const B = fill(new Float32Array(c.K * c.N));
      const C0 = fill(new Float32Array(c.M * c.N));
      const want = C0.slice();
      referenceBackend.gemm(c.tA, c.tB, c.M, c.N, c.K, A, B, want, c.beta);
      expectClose(runGemm(wasm, c, A, B, C0, true), want, c.K);
      expectClose(runGemm(wasm, c, A, B, C0, false), want, c.K);
    }
  });

  it('gemm with beta 0 ignores NaN already in C', () => {
    const A = fill(new Float32Array(6 * 5));
    const B = fill(new Float32Array(5 * 7));
    const C = wasm.alloc(6 * 7).fill(Number.NaN);
    wasm.gemm(false, false, 6, 7, 5, A, B, C, 0);
    const want = new Float32Array(42);
    referenceBackend.gemm(false, false, 6, 7, 5, A, B, want, 0);
    expectClose(C, want, 5);
  });

  it('im2col and col2im match, zero padding and overlaps included', () => {
    for (const c of convCases) {
      const g = geom(c);
      const x = fill(new Float32Array(g.N * g.C * g.H * g.W));
      const ncol = g.N * g.OH * g.OW * g.C * g.KH * g.KW;
      const want = new Float32Array(ncol);
      referenceBackend.im2col(x, g, want);
      const col = wasm.alloc(ncol).fill(7);
      const xm = wasm.alloc(x.length);
      xm.set(x);
      wasm.im2col(xm, g, col);
      expect(col).toEqual(want);
      const colOut = new Float32Array(ncol).fill(7);
      wasm.im2col(x, g, colOut); // not in wasm memory: copied in and out
      expect(colOut).toEqual(want);

      const dcol = fill(new Float32Array(ncol));
      const dxWant = new Float32Array(x.length).fill(3);
      referenceBackend.col2im(dcol, g, dxWant);
      const dx = new Float32Array(x.length).fill(3);
      wasm.col2im(dcol, g, dx);
      expectClose(dx, dxWant, c.KH * c.KW);
      for (const a of [col, xm]) wasm.free(a);
    }
  });
});

describe('wasm-simd with worker threads', () => {
  const single = createWasmBackend();
  const threaded = createWasmBackend();
  const pool = new KernelThreadPool(threaded, 2, 1000);
  threaded.setRunner(pool);
  afterAll(async () => {
    threaded.setRunner(null);
    await pool.close();
  });

  it('gemm is bit-identical with 1 and 2 threads on shapes large enough to be split', () => {
    const cases: GemmCase[] = [
      { tA: false, tB: false, M: 257, N: 65, K: 129, beta: 0 },
      { tA: true, tB: false, M: 25, N: 300, K: 577, beta: 1 },
      { tA: false, tB: true, M: 1000, N: 30, K: 75, beta: 0 },
      { tA: true, tB: true, M: 101, N: 99, K: 333, beta: 1 },
    ];
    const before = pool.dispatches;
    for (const c of cases) {
      const A = fill(new Float32Array(c.M * c.K));
      const B = fill(new Float32Array(c.K * c.N));
      const C0 = fill(new Float32Array(c.M * c.N));
      const one = runGemm(single, c, A, B, C0, true);
      const two = runGemm(threaded, c, A, B, C0, true);
      expectSame(two, one);
      const want = C0.slice();
      referenceBackend.gemm(c.tA, c.tB, c.M, c.N, c.K, A, B, want, c.beta);
      expectClose(two, want, c.K);
    }
    expect(pool.dispatches - before).toBe(cases.length);
  });

  it('im2col and col2im split over images give the reference result', () => {
    const g = convGeometry(9, 8, 24, 23, 3, 3, 1, 1, 1, 1);
    const before = pool.dispatches;
    const x = fill(threaded.alloc(g.N * g.C * g.H * g.W));
    const ncol = g.N * g.OH * g.OW * g.C * g.KH * g.KW;
    const col = threaded.alloc(ncol);
    threaded.im2col(x, g, col);
    const want = new Float32Array(ncol);
    referenceBackend.im2col(x, g, want);
    expect(col).toEqual(want);
    const dx = threaded.alloc(x.length);
    threaded.col2im(col, g, dx);
    const dxWant = new Float32Array(x.length);
    referenceBackend.col2im(want, g, dxWant);
    expectClose(dx, dxWant, 9);
    expect(pool.dispatches - before).toBe(2); // both calls were really split
  });
});

/** The optional elementwise / pooling / optimizer kernels against elementwise.ts and pool.ts. */
function checkExtras(be: WasmBackend, inMemory: boolean): void {
  const mk = (n: number): Float32Array => (inMemory ? be.alloc(n) : new Float32Array(n));
  for (const [N, C, P] of [[3, 5, 7], [10, 30, 576], [2, 1, 1], [7, 64, 64]] as const) {
    const n = N * C * P;
    const x = fill(mk(n));
    x[0] = Number.NaN;
    x[1] = -0;
    const want = new Float32Array(n);
    reluForward(x, want, n);
    const y = mk(n);
    be.reluForward(x, y, n);
    expectSame(y, want);
    const dout = fill(mk(n));
    dout[2] = Number.POSITIVE_INFINITY;
    const dxWant = new Float32Array(n);
    reluBackward(want, dout, dxWant, n);
    const dx = mk(n);
    be.reluBackward(y, dout, dx, n);
    expectSame(dx, dxWant);

    const bias = fill(mk(C));
    const o1 = fill(mk(n));
    const o2 = Float32Array.from(o1);
    addChannelBias(o2, bias, N, C, P);
    be.addChannelBias(o1, bias, N, C, P);
    expectSame(o1, o2);
    const db = mk(C);
    const dbWant = new Float32Array(C);
    sumChannels(dout, N, C, P, dbWant);
    be.sumChannels(dout, N, C, P, db);
    expectClose(db, dbWant, N * P);

    const rows = N * C;
    const cols = P;
    const r1 = fill(mk(rows * cols));
    const r2 = Float32Array.from(r1);
    const rb = fill(mk(cols));
    addRowBias(r2, rb, rows, cols);
    be.addRowBias(r1, rb, rows, cols);
    expectSame(r1, r2);
    const sr = mk(cols);
    const srWant = new Float32Array(cols);
    sumRows(dout, rows, cols, srWant);
    be.sumRows(dout, rows, cols, sr);
    expectClose(sr, srWant, rows);
  }
  for (const g of [convGeometry(10, 30, 24, 24, 2, 2, 2, 2, 0, 0), convGeometry(3, 4, 13, 11, 3, 3, 2, 2, 1, 0), convGeometry(2, 3, 5, 5, 3, 2, 1, 2, 1, 1)]) {
    const nIn = g.N * g.C * g.H * g.W;
    const nOut = g.N * g.C * g.OH * g.OW;
    const x = fill(mk(nIn));
    x[3] = Number.NaN;
    const out = mk(nOut);
    const am = inMemory ? be.allocInt32(nOut) : new Int32Array(nOut);
    const outWant = new Float32Array(nOut);
    const amWant = new Int32Array(nOut);
    maxPoolForward(x, g, outWant, amWant);
    be.maxPoolForward(x, g, out, am);
    expectSame(out, outWant);
    expectSame(am, amWant);
    const dout = fill(mk(nOut));
    const dx = fill(mk(nIn));
    const dxWant = new Float32Array(nIn);
    maxPoolBackward(dout, amWant, nOut, nIn, dxWant);
    be.maxPoolBackward(dout, am, nOut, nIn, dx);
    expectSame(dx, dxWant);
  }
  // Adam against the reference formula in float64 (adam.ts keeps float64 intermediates).
  const n = 1003;
  const w = fill(mk(n));
  const gr = fill(mk(n));
  const m = fill(mk(n)).map((v) => v * 0.1);
  const v = fill(mk(n)).map((q) => q * q * 0.01);
  const ww = Float64Array.from(w);
  const mm = Float64Array.from(m);
  const vv = Float64Array.from(v);
  const lrT = 0.001 * Math.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3);
  for (let i = 0; i < n; i++) {
    mm[i] = mm[i]! + 0.1 * (gr[i]! - mm[i]!);
    vv[i] = vv[i]! + 0.001 * (gr[i]! * gr[i]! - vv[i]!);
    ww[i] = ww[i]! - (lrT * mm[i]!) / (Math.sqrt(vv[i]!) + 1e-7);
  }
  const wIn = inMemory ? w : w;
  be.adamUpdate(wIn, gr, inMemory ? copyTo(be, m) : m, inMemory ? copyTo(be, v) : v, n, lrT, 0.9, 0.999, 1e-7);
  for (let i = 0; i < n; i++) expect(Math.abs(wIn[i]! - ww[i]!)).toBeLessThan(1e-5);

  // SGD and momentum against their float64 formulas.
  const w2 = fill(mk(n));
  const v2 = fill(mk(n));
  const w64 = Float64Array.from(w2);
  const v64 = Float64Array.from(v2);
  const g64 = Float64Array.from(gr);
  be.momentumUpdate(w2, gr, v2, n, 0.01, 0.9);
  for (let i = 0; i < n; i++) {
    v64[i] = 0.9 * v64[i]! - 0.01 * g64[i]!;
    expect(Math.abs(v2[i]! - v64[i]!)).toBeLessThan(1e-6);
    expect(Math.abs(w2[i]! - (w64[i]! + v64[i]!))).toBeLessThan(1e-6);
  }
  const w3 = fill(mk(n));
  const w3want = Float64Array.from(w3).map((x, i) => x - 0.01 * g64[i]!);
  be.sgdUpdate(w3, gr, n, 0.01);
  for (let i = 0; i < n; i++) expect(Math.abs(w3[i]! - w3want[i]!)).toBeLessThan(1e-6);
}
function copyTo(be: WasmBackend, a: Float32Array): Float32Array {
  const b = be.alloc(a.length);
  b.set(a);
  return b;
}

describe('wasm-simd elementwise, pooling and optimizer kernels', () => {
  it('match elementwise.ts and pool.ts, in and out of wasm memory', () => {
    const be = createWasmBackend();
    checkExtras(be, true);
    checkExtras(be, false);
  });

  it('match with 2 threads', async () => {
    const be = createWasmBackend();
    const p = new KernelThreadPool(be, 2, 1000);
    be.setRunner(p);
    try {
      const before = p.dispatches;
      checkExtras(be, true);
      expect(p.dispatches).toBeGreaterThan(before);
    } finally {
      be.setRunner(null);
      await p.close();
    }
  });
});

// The native GEMM addon is optional (built at install when g++ is present): checked when it was built.
const native = loadNative();
describe.skipIf(native === null)('native GEMM addon against the reference', () => {
  it('gemm matches on every transposition case and is bit-identical with 1 and 2 threads', () => {
    const be = new NativeBackend(native!);
    for (const c of [...gemmCases, { tA: false, tB: true, M: 1000, N: 30, K: 75, beta: 0 as const }, { tA: true, tB: false, M: 257, N: 130, K: 129, beta: 1 as const }]) {
      const A = fill(new Float32Array(c.M * c.K));
      const B = fill(new Float32Array(c.K * c.N));
      const C0 = fill(new Float32Array(c.M * c.N));
      const want = C0.slice();
      referenceBackend.gemm(c.tA, c.tB, c.M, c.N, c.K, A, B, want, c.beta);
      be.gemmThreads = 1;
      const one = runGemm(be, c, A, B, C0, true);
      expectClose(one, want, c.K);
      expectClose(runGemm(be, c, A, B, C0, false), want, c.K);
      be.gemmThreads = 2;
      expectSame(runGemm(be, c, A, B, C0, true), one);
    }
  });

  // The kernel picks 32- or 16-wide column panels and exact-height row-edge tiles by shape, and packs Bᵀ
  // with 16×16 transposes: the mlp's products, N around the 16/32 panel boundaries, K around 16 and KC,
  // and shapes large enough (≥ 1M multiply-adds) to be split by rows and by columns over 2 threads.
  it('gemm matches on the mlp shapes and the panel, edge and transpose boundaries', () => {
    const be = new NativeBackend(native!);
    const cases: GemmCase[] = [
      { tA: false, tB: false, M: 100, N: 100, K: 784, beta: 0 }, // mlp forward, first layer
      { tA: true, tB: false, M: 784, N: 100, K: 100, beta: 0 }, // its dW
      { tA: false, tB: false, M: 100, N: 100, K: 100, beta: 0 },
      { tA: true, tB: false, M: 100, N: 100, K: 100, beta: 0 },
      { tA: false, tB: true, M: 100, N: 100, K: 100, beta: 0 },
      { tA: false, tB: false, M: 100, N: 10, K: 100, beta: 0 }, // logits: one 16-wide panel
      { tA: true, tB: false, M: 100, N: 10, K: 100, beta: 1 },
      { tA: false, tB: true, M: 100, N: 100, K: 10, beta: 0 }, // K < 16: no full transpose block
      { tA: false, tB: false, M: 20, N: 1000, K: 60, beta: 0 }, // split by columns, 8-column edge panel
      { tA: false, tB: true, M: 20, N: 1000, K: 61, beta: 1 },
      { tA: true, tB: true, M: 19, N: 1001, K: 77, beta: 0 },
      { tA: false, tB: true, M: 203, N: 50, K: 130, beta: 1 }, // split by rows, odd row edge
      { tA: true, tB: false, M: 211, N: 33, K: 400, beta: 0 }, // K crosses KC
      { tA: false, tB: true, M: 37, N: 47, K: 800, beta: 1 },
    ];
    for (const N of [1, 15, 16, 17, 31, 32, 33, 48, 49]) cases.push({ tA: rand() < 0.5, tB: rand() < 0.5, M: randInt(1, 30), N, K: randInt(1, 40), beta: 0 });
    for (const c of cases) {
      const A = fill(new Float32Array(c.M * c.K));
      const B = fill(new Float32Array(c.K * c.N));
      const C0 = fill(new Float32Array(c.M * c.N));
      const want = C0.slice();
      referenceBackend.gemm(c.tA, c.tB, c.M, c.N, c.K, A, B, want, c.beta);
      be.gemmThreads = 1;
      const one = runGemm(be, c, A, B, C0, true);
      expectClose(one, want, c.K);
      be.gemmThreads = 2;
      expectSame(runGemm(be, c, A, B, C0, true), one);
    }
  });
});

describe('RangeAllocator', () => {
  it('reuses freed space best-fit and coalesces neighbours', () => {
    let end = 0;
    const a = new RangeAllocator(1000, (e) => {
      end = Math.max(end, e);
    });
    const x = a.alloc(100);
    const y = a.alloc(200);
    const z = a.alloc(64);
    expect(x % 64).toBe(0);
    expect(y).toBeGreaterThanOrEqual(x + 100);
    a.free(x);
    a.free(y);
    // x and y coalesced: a block of their combined size fits where they were.
    expect(a.alloc(128 + 256)).toBe(x);
    expect(a.free(12345)).toBe(false);
    a.free(z);
    expect(a.liveBytes).toBe(384);
    expect(end).toBe(a.highWater);
  });
});
