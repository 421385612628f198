import { describe, expect, it } from 'vitest';
import type { KernelBackend } from '../../../src/engine/kernels/backend.ts';
import { referenceBackend } from '../../../src/engine/kernels/reference.ts';
import type { Layer } from '../../../src/engine/layers/layer.ts';
import { createLayer } from '../../../src/engine/layers/registry.ts';
import { Rng } from '../../../src/engine/random.ts';
import { LayerSpecSchema } from '../../../src/engine/spec/layer-spec.ts';
import { loadNative, NativeBackend } from '../../../src/native/index.ts';

// The native whole-batch convolution (conv2dForward / conv2dBackward, native/conv.h) through Conv2d,
// against Conv2d on the reference backend: random shapes (odd sizes, strides 1–3, paddings 0–2, groups 1–2,
// batch 1 and odd), forward, dW, db and dx; and bit-identical results with 1 and 2 threads. Skipped when
// the addon was not built (KEIKO_NATIVE=0, no g++) or predates the batch kernels.

let seed = 987654;
function rand(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}
function randInt(lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

interface Case { N: number; C: number; H: number; W: number; F: number; G: number; KH: number; KW: number; SH: number; SW: number; PH: number; PW: number; bias: boolean; dx: boolean }

const cases: Case[] = [
  // deep_convnet's conv2 and conv4 (padding 2), SimpleConvNet's conv, an AlexNet-like grouped layer.
  { N: 5, C: 16, H: 28, W: 28, F: 16, G: 1, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, bias: true, dx: true },
  { N: 3, C: 32, H: 14, W: 14, F: 32, G: 1, KH: 3, KW: 3, SH: 1, SW: 1, PH: 2, PW: 2, bias: true, dx: true },
  { N: 7, C: 1, H: 28, W: 28, F: 30, G: 1, KH: 5, KW: 5, SH: 1, SW: 1, PH: 0, PW: 0, bias: true, dx: false },
  { N: 2, C: 8, H: 13, W: 13, F: 12, G: 2, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, bias: true, dx: true },
  // Grouped, with Kg ≥ 64 and P ≥ 128: the transposed forward and dW forms (native/conv.h).
  { N: 3, C: 16, H: 14, W: 14, F: 8, G: 2, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, bias: true, dx: true },
  { N: 1, C: 3, H: 31, W: 29, F: 6, G: 1, KH: 11, KW: 11, SH: 4, SW: 4, PH: 0, PW: 0, bias: false, dx: true },
  // More images than dW chunks, so that chunks hold several images.
  { N: 37, C: 2, H: 6, W: 5, F: 4, G: 2, KH: 2, KW: 3, SH: 1, SW: 2, PH: 1, PW: 2, bias: true, dx: true },
];
for (let i = 0; i < 20; i++) {
  const G = randInt(1, 2);
  const KH = randInt(1, 5);
  const KW = randInt(1, 5);
  const PH = randInt(0, 2);
  const PW = randInt(0, 2);
  cases.push({
    N: [1, 3, 5, 17][randInt(0, 3)]!, C: G * randInt(1, 4), H: randInt(Math.max(1, KH - 2 * PH), 15), W: randInt(Math.max(1, KW - 2 * PW), 16),
    F: G * randInt(1, 9), G, KH, KW, SH: randInt(1, 3), SW: randInt(1, 3), PH, PW, bias: rand() < 0.7, dx: rand() < 0.8,
  });
}

function build(c: Case, be: KernelBackend): Layer {
  const spec = LayerSpecSchema.parse({ type: 'conv2d', filters: c.F, kernelSize: [c.KH, c.KW], stride: [c.SH, c.SW], padding: [c.PH, c.PW], groups: c.G, useBias: c.bias, biasInit: 0.25 });
  const layer = createLayer(spec, [c.C, c.H, c.W], { rng: new Rng(3), weightInit: 'he', backend: be });
  (layer as unknown as { computeInputGrad: boolean }).computeInputGrad = c.dx;
  return layer;
}

interface Result { y: Float32Array; dw: Float32Array; db: Float32Array | null; dx: Float32Array | null }

/** Forward and backward of case c on `be`, twice (the second pass must not depend on the first's state). */
function run(c: Case, be: KernelBackend, x: Float32Array, dout: Float32Array): Result {
  const layer = build(c, be);
  const xb = be.alloc(x.length);
  xb.set(x);
  const db = be.alloc(dout.length);
  db.set(dout);
  let r: Result | null = null;
  for (let rep = 0; rep < 2; rep++) {
    const y = layer.forward(xb, c.N, 'train').slice();
    const dx = layer.backward(db, c.N);
    const [w, b] = layer.params();
    r = { y, dw: w!.grad.slice(), db: b ? b.grad.slice() : null, dx: c.dx ? dx.slice() : null };
  }
  return r!;
}

function expectClose(got: Float32Array, want: Float32Array, terms: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  const tol = 1e-5 * Math.max(1, terms);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
    if (!(e <= worst)) { worst = e; at = i; }
  }
  expect(worst, `${what}: worst relative error at ${at}`).toBeLessThan(tol);
}

function expectSame(got: Float32Array, want: Float32Array, what: string): void {
  const a = new Int32Array(got.buffer, got.byteOffset, got.length);
  const b = new Int32Array(want.buffer, want.byteOffset, want.length);
  let first = -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { first = i; break; }
  expect(first === -1 ? 'identical' : `${what} differs at ${first}: ${got[first]} vs ${want[first]}`).toBe('identical');
}

const native = loadNative();
const hasBatchConv = native !== null && typeof native.conv2dForward === 'function' && typeof native.conv2dBackward === 'function';

describe.skipIf(!hasBatchConv)('native whole-batch conv2d against the reference backend', () => {
  const be = hasBatchConv ? new NativeBackend(native!) : null;

  it('routes Conv2d through the batch kernels', () => {
    expect(typeof be!.conv2dForward).toBe('function');
    expect(typeof be!.conv2dBackward).toBe('function');
  });

  it('forward, dW, db and dx match on random shapes, and are bit-identical with 1 and 2 threads', () => {
    for (const c of cases) {
      const OH = Math.floor((c.H + 2 * c.PH - c.KH) / c.SH) + 1;
      const OW = Math.floor((c.W + 2 * c.PW - c.KW) / c.SW) + 1;
      const r = new Rng(c.N * 1000 + c.C * 10 + c.F);
      const x = Float32Array.from({ length: c.N * c.C * c.H * c.W }, () => r.normal());
      const dout = Float32Array.from({ length: c.N * c.F * OH * OW }, () => r.normal());
      const want = run(c, referenceBackend, x, dout);
      be!.gemmThreads = 1;
      const one = run(c, be!, x, dout);
      const name = JSON.stringify(c);
      const Kg = (c.C / c.G) * c.KH * c.KW;
      expectClose(one.y, want.y, Kg, `y ${name}`);
      expectClose(one.dw, want.dw, c.N * OH * OW, `dW ${name}`);
      if (c.bias) expectClose(one.db!, want.db!, c.N * OH * OW, `db ${name}`);
      if (c.dx) expectClose(one.dx!, want.dx!, (c.F / c.G) * c.KH * c.KW, `dx ${name}`);
      be!.gemmThreads = 2;
      const two = run(c, be!, x, dout);
      expectSame(two.y, one.y, `y ${name}`);
      expectSame(two.dw, one.dw, `dW ${name}`);
      if (c.bias) expectSame(two.db!, one.db!, `db ${name}`);
      if (c.dx) expectSame(two.dx!, one.dx!, `dx ${name}`);
    }
  });

  it('the same layer follows a change of batch size', () => {
    const c = cases[0]!;
    const layer = build(c, be!);
    const ref = build(c, referenceBackend);
    for (const N of [4, 1, 6]) {
      const r = new Rng(N);
      const x = be!.alloc(N * c.C * c.H * c.W).map(() => r.normal());
      const dout = be!.alloc(N * c.F * c.H * c.W).map(() => r.normal());
      expectClose(layer.forward(x, N, 'train'), ref.forward(x, N, 'train'), 144, `y N=${N}`);
      expectClose(layer.backward(dout, N), ref.backward(dout, N), 144, `dx N=${N}`);
      expectClose(layer.params()[0]!.grad, ref.params()[0]!.grad, N * 784, `dW N=${N}`);
    }
  });
});
