import { afterAll, describe, expect, it } from 'vitest';
import { convGeometry, setBackend } from '../../../src/engine/kernels/backend.ts';
import { addL1L2Gradient, lrnBackward, lrnForward } from '../../../src/engine/kernels/elementwise.ts';
import { maxPoolBackward, maxPoolForward } from '../../../src/engine/kernels/pool.ts';
import { referenceBackend } from '../../../src/engine/kernels/reference.ts';
import { createWasmBackend, type WasmBackend } from '../../../src/engine/kernels/wasm/index.ts';
import type { Param } from '../../../src/engine/layers/layer.ts';
import { AdaGrad } from '../../../src/engine/optimizers/adagrad.ts';
import { Adam } from '../../../src/engine/optimizers/adam.ts';
import { Momentum } from '../../../src/engine/optimizers/momentum.ts';
import { Nesterov } from '../../../src/engine/optimizers/nesterov.ts';
import type { Optimizer } from '../../../src/engine/optimizers/optimizer.ts';
import { RMSProp } from '../../../src/engine/optimizers/rmsprop.ts';
import { SGD } from '../../../src/engine/optimizers/sgd.ts';
import { L1L2 } from '../../../src/engine/regularizers/l1l2.ts';
import { KernelThreadPool } from '../../../src/parallel/pool.ts';

// The WebAssembly kernels added for the optimizers, the regulariser, LRN and 3×3 stride-2 max pooling,
// against the plain JavaScript kernels (float64 arithmetic stored in float32) on odd sizes, and
// bit-identical with 1 and 2 threads.

let seed = 4242;
function rand(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}
function fill(a: Float32Array, lo = -1, hi = 1): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = lo + rand() * (hi - lo);
  return a;
}
function expectSame(got: Float32Array | Int32Array, want: Float32Array | Int32Array): void {
  expect(got.length).toBe(want.length);
  const a = new Int32Array(got.buffer, got.byteOffset, got.length);
  const b = new Int32Array(want.buffer, want.byteOffset, want.length);
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(got instanceof Float32Array && Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      first = i;
      break;
    }
  }
  expect(first === -1 ? 'identical' : `differs at ${first}: ${got[first]} vs ${want[first]}`).toBe('identical');
}
/** Worst |got − want| / (scale + |want|) ≤ tol. */
function expectClose(got: Float32Array, want: Float32Array, tol: number, scale = 1): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const e = Number.isFinite(got[i]!) ? Math.abs(got[i]! - want[i]!) / (scale + Math.abs(want[i]!)) : Infinity;
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `worst at ${at}: ${got[at]} vs ${want[at]}`).toBeLessThan(tol);
}

const single = createWasmBackend();
const threaded = createWasmBackend();
const pool = new KernelThreadPool(threaded, 2, 1000);
threaded.setRunner(pool);
afterAll(async () => {
  threaded.setRunner(null);
  await pool.close();
  setBackend(referenceBackend);
});

/** A parameter with its value and grad in `be`'s memory (or plain arrays when be is the reference). */
function makeParam(be: WasmBackend | null, value: Float32Array): Param {
  const n = value.length;
  const v = be ? be.alloc(n) : new Float32Array(n);
  v.set(value);
  return { name: 'w', shape: [n], value: v, grad: be ? be.alloc(n) : new Float32Array(n), regularize: true };
}

/** Three steps of `make()` on one parameter of length n through backend `be` (null = reference JS path). */
function run(make: () => Optimizer, be: WasmBackend | null, w0: Float32Array, grads: Float32Array[]): { w: Float32Array; state: Float32Array[] } {
  setBackend(be ?? referenceBackend);
  const p = makeParam(be, w0);
  const opt = make();
  for (const g of grads) {
    p.grad.set(g);
    opt.update([p]);
  }
  const st = opt.exportState([{ name: 'w', param: p }]);
  return { w: Float32Array.from(p.value), state: st.slots.map((s) => s.data) };
}

const optimizers: [string, () => Optimizer][] = [
  ['sgd', () => new SGD({ learningRate: 0.1 })],
  ['momentum', () => new Momentum({ learningRate: 0.05, momentum: 0.9 })],
  ['nesterov', () => new Nesterov({ learningRate: 0.05, momentum: 0.9 })],
  ['adagrad', () => new AdaGrad({ learningRate: 0.05 })],
  ['rmsprop', () => new RMSProp({ learningRate: 0.01, decay: 0.9 })],
  ['adam', () => new Adam({ learningRate: 0.01 })],
];

describe('optimizers through the wasm update kernels', () => {
  for (const [name, make] of optimizers) {
    it(`${name}: close to the float64 JavaScript rule on odd lengths, bit-identical with 2 threads, state exported`, () => {
      const before = pool.dispatches;
      for (const n of [1, 3, 37, 1001, 300_001]) {
        const w0 = fill(new Float32Array(n));
        const grads = [0, 1, 2].map(() => fill(new Float32Array(n)));
        const want = run(make, null, w0, grads);
        const got = run(make, single, w0, grads);
        const par = run(make, threaded, w0, grads);
        expectClose(got.w, want.w, 2e-6);
        expect(got.state.length).toBe(want.state.length);
        got.state.forEach((s, i) => expectClose(s, want.state[i]!, 2e-6));
        expectSame(par.w, got.w);
        par.state.forEach((s, i) => expectSame(s, got.state[i]!));
      }
      expect(pool.dispatches).toBeGreaterThan(before); // the 300,001-element case was split
    });
  }

  it('slots live in the backend memory and a state round-trips through export/import', () => {
    setBackend(single);
    const p = makeParam(single, fill(new Float32Array(101)));
    const opt = new Adam({ learningRate: 0.01 });
    p.grad.set(fill(new Float32Array(101)));
    opt.update([p]);
    const named = [{ name: '0.weight', param: p }];
    const st = opt.exportState(named);
    expect(st.slots.map((s) => s.name)).toEqual(['0.weight.m', '0.weight.v']);
    expect(single.owns(st.slots[0]!.data)).toBe(false); // a copy, not a view of the live slot
    const again = new Adam({ learningRate: 0.01 });
    again.importState(st, named);
    const w1 = Float32Array.from(p.value);
    const p2 = makeParam(single, w1);
    p.grad.set(fill(new Float32Array(101)));
    p2.grad.set(p.grad);
    opt.update([p]);
    again.update([p2]);
    expectSame(p2.value, p.value);
    setBackend(referenceBackend);
  });
});

describe('L1/L2 gradient kernel', () => {
  it('matches the JavaScript loop (zeros, signs, odd lengths), 1 and 2 threads alike', () => {
    for (const [l1, l2] of [[0, 5e-4], [1e-3, 0], [2e-3, 1e-2]] as const) {
      for (const n of [1, 5, 333, 70_003]) {
        const w = fill(new Float32Array(n));
        for (let i = 0; i < n; i += 7) w[i] = 0;
        if (n > 2) w[1] = -0;
        const g = fill(new Float32Array(n));
        const want = Float32Array.from(g);
        addL1L2Gradient(w, want, n, l1, l2);
        const ws = single.alloc(n);
        ws.set(w);
        const gs = single.alloc(n);
        gs.set(g);
        single.addL1L2Gradient(ws, gs, n, l1, l2);
        expectClose(gs, want, 1e-6);
        const gt = threaded.alloc(n);
        gt.set(g);
        const wt = threaded.alloc(n);
        wt.set(w);
        threaded.addL1L2Gradient(wt, gt, n, l1, l2);
        expectSame(gt, gs);
        for (const a of [ws, gs]) single.free(a);
        for (const a of [wt, gt]) threaded.free(a);
      }
    }
  });

  it('L1L2.addGradients routes through the current backend and skips unregularised params', () => {
    setBackend(single);
    const reg = new L1L2({ l1: 1e-3, l2: 1e-2 });
    const a = makeParam(single, fill(new Float32Array(19)));
    const b = { ...makeParam(single, fill(new Float32Array(7))), regularize: false };
    a.grad.set(fill(new Float32Array(19)));
    b.grad.set(fill(new Float32Array(7)));
    const wantA = Float32Array.from(a.grad);
    addL1L2Gradient(a.value, wantA, 19, 1e-3, 1e-2);
    const wantB = Float32Array.from(b.grad);
    reg.addGradients([a, b]);
    expectClose(a.grad, wantA, 1e-6);
    expectSame(b.grad, wantB);
    setBackend(referenceBackend);
  });
});

describe('LRN kernels', () => {
  const cases = [
    { N: 1, C: 1, P: 1, size: 5, beta: 0.75 },
    { N: 3, C: 7, P: 13, size: 5, beta: 0.75 },
    { N: 1, C: 5, P: 3, size: 3, beta: 0.5 },
    { N: 5, C: 9, P: 17, size: 3, beta: 1 },
    { N: 3, C: 11, P: 29, size: 5, beta: 0.6 }, // general β: pow per lane
    { N: 3, C: 17, P: 331, size: 5, beta: 0.75 }, // large enough to be split over threads
    { N: 1, C: 33, P: 2025, size: 5, beta: 0.75 }, // one image: planes split inside it
    { N: 2, C: 4, P: 7, size: 9, beta: 0.75 }, // window wider than the channels
  ];
  for (const c of cases) {
    it(`forward and backward N=${c.N} C=${c.C} P=${c.P} size=${c.size} β=${c.beta}`, () => {
      const { N, C, P, size, beta } = c;
      const alpha = 1e-2;
      const k = 2;
      const n = N * C * P;
      const x = fill(new Float32Array(n), -3, 3);
      const dout = fill(new Float32Array(n));
      const want = { s: new Float32Array(n), q: new Float32Array(n), y: new Float32Array(n), t: new Float32Array(n), dx: new Float32Array(n) };
      lrnForward(x, N, C, P, size, alpha, beta, k, want.s, want.q, want.y);
      lrnBackward(x, dout, want.s, want.q, N, C, P, size, alpha, beta, want.t, want.dx);
      const outs = [single, threaded].map((be) => {
        const [xs, ds, s, q, y, t, dx] = [x, dout, null, null, null, null, null].map((a) => {
          const b = be.alloc(n);
          if (a) b.set(a);
          return b;
        }) as Float32Array[];
        be.lrnForward(xs!, N, C, P, size, alpha, beta, k, s!, q!, y!);
        be.lrnBackward(xs!, ds!, s!, q!, N, C, P, size, alpha, beta, t!, dx!);
        return { s: s!, q: q!, y: y!, dx: dx! };
      });
      const [one, two] = outs;
      expectClose(one!.s, want.s, 1e-6);
      expectClose(one!.q, want.q, 1e-6);
      expectClose(one!.y, want.y, 1e-6);
      expectClose(one!.dx, want.dx, 1e-5);
      for (const key of ['s', 'q', 'y', 'dx'] as const) expectSame(two![key], one![key]);
    });
  }

  it('splits planes over the threads on large tensors', () => {
    const before = pool.dispatches;
    const N = 1, C = 33, P = 2025, n = N * C * P;
    const a = [0, 1, 2, 3, 4, 5].map(() => fill(threaded.alloc(n)));
    threaded.lrnForward(a[0]!, N, C, P, 5, 1e-4, 0.75, 2, a[1]!, a[2]!, a[3]!);
    expect(pool.dispatches).toBe(before + 1);
    threaded.lrnBackward(a[0]!, a[4]!, a[1]!, a[2]!, N, C, P, 5, 1e-4, 0.75, a[5]!, a[3]!);
    expect(pool.dispatches).toBe(before + 2);
  });

  it('copies arrays from outside the memory in and out', () => {
    const N = 2, C = 5, P = 9, size = 5, n = N * C * P;
    const x = fill(new Float32Array(n));
    const dout = fill(new Float32Array(n));
    const mk = (): Float32Array[] => [0, 1, 2, 3, 4].map(() => new Float32Array(n));
    const [s1, q1, y1, t1, dx1] = mk();
    const [s2, q2, y2, t2, dx2] = mk();
    lrnForward(x, N, C, P, size, 1e-4, 0.75, 2, s1!, q1!, y1!);
    lrnBackward(x, dout, s1!, q1!, N, C, P, size, 1e-4, 0.75, t1!, dx1!);
    single.lrnForward(x, N, C, P, size, 1e-4, 0.75, 2, s2!, q2!, y2!);
    single.lrnBackward(x, dout, s2!, q2!, N, C, P, size, 1e-4, 0.75, t2!, dx2!);
    expectClose(y2!, y1!, 1e-6);
    expectClose(dx2!, dx1!, 1e-5);
  });
});

describe('max pooling 3×3 stride 2', () => {
  it('bit-identical to the reference (ties, NaN, odd widths), 1 and 2 threads; backward split by planes', () => {
    const before = pool.dispatches;
    for (const [N, C, H, W] of [[1, 1, 3, 3], [2, 3, 7, 9], [3, 5, 13, 13], [8, 16, 27, 27], [2, 7, 55, 55], [1, 2, 11, 19]] as const) {
      const g = convGeometry(N, C, H, W, 3, 3, 2, 2, 0, 0);
      const nIn = N * C * H * W;
      const nOut = N * C * g.OH * g.OW;
      const x = fill(new Float32Array(nIn));
      // Quantised values: many ties, so the first-maximum rule is exercised.
      for (let i = 0; i < nIn; i += 3) x[i] = Math.round(x[i]! * 2) / 2;
      x[0] = Number.NaN;
      if (nIn > 40) x[40] = Number.NaN;
      const outWant = new Float32Array(nOut);
      const amWant = new Int32Array(nOut);
      maxPoolForward(x, g, outWant, amWant);
      const dout = fill(new Float32Array(nOut));
      const dxWant = new Float32Array(nIn);
      maxPoolBackward(dout, amWant, nOut, nIn, dxWant);
      for (const be of [single, threaded]) {
        const xs = be.alloc(nIn);
        xs.set(x);
        const out = be.alloc(nOut);
        const am = be.allocInt32(nOut);
        be.maxPoolForward(xs, g, out, am);
        expectSame(out, outWant);
        expectSame(am, amWant);
        const dx = be.alloc(nIn);
        be.maxPoolBackward(dout, am, nOut, nIn, dx);
        expectSame(dx, dxWant);
        dx.fill(7);
        be.maxPoolBackward(dout, am, nOut, nIn, dx, N * C);
        expectSame(dx, dxWant);
      }
    }
    expect(pool.dispatches).toBeGreaterThan(before);
  });

  it('a large 2×2 backward with its planes is split over threads, same bits as the reference', () => {
    const g = convGeometry(4, 16, 32, 32, 2, 2, 2, 2, 0, 0);
    const nIn = 4 * 16 * 32 * 32;
    const nOut = 4 * 16 * 16 * 16;
    const x = fill(threaded.alloc(nIn));
    const out = threaded.alloc(nOut);
    const am = threaded.allocInt32(nOut);
    threaded.maxPoolForward(x, g, out, am);
    const dout = fill(threaded.alloc(nOut));
    const dx = threaded.alloc(nIn);
    const before = pool.dispatches;
    threaded.maxPoolBackward(dout, am, nOut, nIn, dx, 4 * 16);
    expect(pool.dispatches).toBe(before + 1);
    const want = new Float32Array(nIn);
    maxPoolBackward(dout, am, nOut, nIn, want);
    expectSame(dx, want);
  });
});
