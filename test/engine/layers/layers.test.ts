import { describe, expect, it } from 'vitest';
import type { BatchNorm } from '../../../src/engine/layers/batch-norm.ts';
import type { Conv2d } from '../../../src/engine/layers/conv2d.ts';
import type { Dense } from '../../../src/engine/layers/dense.ts';
import type { Dropout } from '../../../src/engine/layers/dropout.ts';
import { Rng } from '../../../src/engine/random.ts';
import { randn } from '../../helpers/gradcheck.ts';
import { makeLayer } from './helpers.ts';

function std(a: Float32Array): number {
  let m = 0;
  for (const v of a) m += v;
  m /= a.length;
  let s = 0;
  for (const v of a) s += (v - m) ** 2;
  return Math.sqrt(s / a.length);
}

describe('Dense', () => {
  it('computes y = x·W + b with W of shape [fanIn, units]', () => {
    const d = makeLayer({ type: 'dense', units: 2 }, [3]) as Dense;
    d.weight.value.set([1, 2, 3, 4, 5, 6]); // rows = inputs
    d.bias!.value.set([0.5, -1]);
    const y = d.forward(Float32Array.of(1, 0, -1, 2, 1, 0), 2, 'eval');
    expect(Array.from(y)).toEqual([1 - 5 + 0.5, 2 - 6 - 1, 2 + 3 + 0.5, 4 + 4 - 1]);
  });

  it('reuses its output buffer for the same batch size and a view of it for a smaller one', () => {
    const d = makeLayer({ type: 'dense', units: 4 }, [3]);
    const a = d.forward(new Float32Array(30), 10, 'train');
    const b = d.forward(new Float32Array(30), 10, 'train');
    expect(b).toBe(a);
    const c = d.forward(new Float32Array(9), 3, 'train');
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(12);
  });
});

describe('Conv2d', () => {
  interface ConvCase { filters: number; kernelSize: number | [number, number]; stride: number; padding: [number, number]; groups: number }
  it.each([
    ['stride 2, padding 1', { filters: 3, kernelSize: 3, stride: 2, padding: [1, 1], groups: 1 }, [2, 7, 7]],
    ['groups 2, rectangular kernel', { filters: 4, kernelSize: [2, 3], stride: 1, padding: [0, 1], groups: 2 }, [4, 5, 5]],
  ] as [string, ConvCase, [number, number, number]][])('matches a direct cross-correlation (%s)', (_t, opts, shape) => {
    const conv = makeLayer({ type: 'conv2d', ...opts, biasInit: 0.25 }, [...shape]) as Conv2d;
    const [C, H, W] = shape;
    const N = 2;
    const x = randn(N * C * H * W, new Rng(3));
    const y = conv.forward(x, N, 'train');
    const [F, OH, OW] = conv.outputShape as [number, number, number];
    const [KH, KW] = conv.weight.shape.slice(2) as [number, number];
    const G = opts.groups;
    const S = opts.stride;
    const [PH, PW] = opts.padding;
    const Cg = C / G;
    const w = conv.weight.value;
    for (let n = 0; n < N; n++) {
      for (let f = 0; f < F; f++) {
        const g = Math.floor(f / (F / G));
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            let s = 0.25;
            for (let c = 0; c < Cg; c++) {
              for (let ky = 0; ky < KH; ky++) {
                for (let kx = 0; kx < KW; kx++) {
                  const iy = oy * S - PH + ky;
                  const ix = ox * S - PW + kx;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  s += w[((f * Cg + c) * KH + ky) * KW + kx] * x[((n * C + g * Cg + c) * H + iy) * W + ix];
                }
              }
            }
            expect(y[((n * F + f) * OH + oy) * OW + ox]).toBeCloseTo(s, 4);
          }
        }
      }
    }
  });
  it.each([[1], [2]])('gives the same per-sample results when the batch size changes (groups %i)', (groups) => {
    const conv = makeLayer({ type: 'conv2d', filters: 4, kernelSize: 3, padding: 1, groups }, [2, 5, 5]) as Conv2d;
    const x = randn(4 * 50, new Rng(8));
    const dout = randn(4 * 100, new Rng(9));
    const y4 = Float32Array.from(conv.forward(x, 4, 'train'));
    const dx4 = Float32Array.from(conv.backward(dout, 4));
    const dw4 = Float32Array.from(conv.weight.grad);
    const y2 = conv.forward(x.subarray(0, 100), 2, 'train');
    expect(Array.from(y2)).toEqual(Array.from(y4.subarray(0, 200)));
    const dx2 = conv.backward(dout.subarray(0, 200), 2);
    expect(Array.from(dx2)).toEqual(Array.from(dx4.subarray(0, 100)));
    const y4b = conv.forward(x, 4, 'train');
    expect(Array.from(y4b)).toEqual(Array.from(y4));
    conv.backward(dout, 4);
    expect(Array.from(conv.weight.grad)).toEqual(Array.from(dw4));
  });
});

describe('weight initialisation', () => {
  it.each([
    ['he', 'he', Math.sqrt(2 / 400)],
    ['xavier', 'xavier', Math.sqrt(1 / 400)],
    ['a number (0.01)', 0.01, 0.01],
  ] as const)('dense %s: std of 400×250 weights within 1% of the target, biases = biasInit', (_t, init, want) => {
    const d = makeLayer({ type: 'dense', units: 250, weightInit: init, biasInit: 0.1 }, [400], 5, 'xavier') as Dense;
    expect(std(d.weight.value) / want).toBeGreaterThan(0.99);
    expect(std(d.weight.value) / want).toBeLessThan(1.01);
    expect(d.bias!.value.every((b) => Math.abs(b - 0.1) < 1e-7)).toBe(true);
  });

  it('falls back to the model weightInit and draws row-major from the Rng', () => {
    const d = makeLayer({ type: 'dense', units: 3 }, [8], 9, 'xavier') as Dense;
    const r = new Rng(9);
    const std0 = Math.sqrt(1 / 8);
    expect(Array.from(d.weight.value.subarray(0, 4))).toEqual(Array.from(Float32Array.from([0, 1, 2, 3], () => std0 * r.normal())));
  });

  it('conv fanIn is (C/groups)·KH·KW', () => {
    const conv = makeLayer({ type: 'conv2d', filters: 64, kernelSize: 5, groups: 2, padding: 2 }, [32, 6, 6], 3, 'he') as Conv2d;
    const want = Math.sqrt(2 / (16 * 25));
    expect(std(conv.weight.value) / want).toBeGreaterThan(0.97);
    expect(std(conv.weight.value) / want).toBeLessThan(1.03);
    expect(conv.weight.shape).toEqual([64, 16, 5, 5]);
  });
});

describe('ReLU, Sigmoid, Tanh', () => {
  it('ReLU masks x ≤ 0 (value and gradient 0 at x = 0)', () => {
    const r = makeLayer({ type: 'relu' }, [4]);
    expect(Array.from(r.forward(Float32Array.of(-1, 0, 2, -0.5), 1, 'train'))).toEqual([0, 0, 2, 0]);
    expect(Array.from(r.backward(Float32Array.of(1, 1, 1, 1), 1))).toEqual([0, 0, 1, 0]);
  });
  it('sigmoid and tanh values', () => {
    expect(makeLayer({ type: 'sigmoid' }, [2]).forward(Float32Array.of(0, 2), 1, 'eval')[1]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(makeLayer({ type: 'tanh' }, [2]).forward(Float32Array.of(0, 0.5), 1, 'eval')[1]).toBeCloseTo(Math.tanh(0.5), 6);
  });
});

describe('Dropout', () => {
  const x = Float32Array.from({ length: 20000 }, (_, i) => 1 + (i % 7));

  it('inverted: train keeps ~(1−r) scaled by 1/(1−r), eval is the identity', () => {
    const d = makeLayer({ type: 'dropout', rate: 0.3 }, [200]);
    const y = d.forward(x, 100, 'train');
    let kept = 0;
    for (let i = 0; i < x.length; i++) {
      if (y[i] !== 0) {
        kept++;
        expect(y[i]).toBeCloseTo(x[i] / 0.7, 5);
      }
    }
    // Binomial(20000, 0.7): sd ≈ 0.0032 of the fraction; 5 sd.
    expect(Math.abs(kept / x.length - 0.7)).toBeLessThan(0.016);
    const dx = d.backward(new Float32Array(x.length).fill(1), 100);
    for (let i = 0; i < 50; i++) expect(dx[i]).toBeCloseTo(y[i] === 0 ? 0 : 1 / 0.7, 5);
    expect(Array.from(d.forward(x, 100, 'eval'))).toEqual(Array.from(x));
  });

  it('eval scaling (the book): train y = x⊙m unscaled, eval y = (1−r)·x', () => {
    const d = makeLayer({ type: 'dropout', rate: 0.25, scaling: 'eval' }, [200]);
    const y = d.forward(x, 100, 'train');
    let kept = 0;
    for (let i = 0; i < x.length; i++) {
      if (y[i] !== 0) {
        kept++;
        expect(y[i]).toBe(x[i]);
      }
    }
    expect(Math.abs(kept / x.length - 0.75)).toBeLessThan(0.016);
    const e = d.forward(x, 100, 'eval');
    for (let i = 0; i < 20; i++) expect(e[i]).toBeCloseTo(0.75 * x[i], 5);
    // Expected train activation equals the eval activation.
    const meanTrain = y.reduce((a, b) => a + b, 0) / y.length;
    const meanEval = e.reduce((a, b) => a + b, 0) / e.length;
    expect(Math.abs(meanTrain / meanEval - 1)).toBeLessThan(0.02);
  });

  it('keeps element i iff rng.next() >= rate, in element order, from the model Rng', () => {
    const d = makeLayer({ type: 'dropout', rate: 0.5 }, [10], 77);
    const y = d.forward(new Float32Array(20).fill(1), 2, 'train');
    const r = new Rng(77);
    expect(Array.from(y)).toEqual(Array.from({ length: 20 }, () => (r.next() >= 0.5 ? 2 : 0)));
  });

  it.each([['inverted', 2], ['eval', 1]] as const)('exact values with a fixed mask (%s)', (scaling, k) => {
    const d = makeLayer({ type: 'dropout', rate: 0.5, scaling }, [4]) as Dropout;
    d.setFixedMask([1, 0, 0, 1]);
    expect(Array.from(d.forward(Float32Array.of(1, 2, 3, 4), 1, 'train'))).toEqual([1 * k, 0, 0, 4 * k]);
    expect(Array.from(d.backward(Float32Array.of(1, 1, 1, 1), 1))).toEqual([k, 0, 0, k]);
  });
});

describe('BatchNorm', () => {
  it('train normalises each channel to mean 0, variance 1 and updates the running statistics (momentum 0.9)', () => {
    const bn = makeLayer({ type: 'batchnorm', epsilon: 1e-5 }, [2, 2, 2]) as BatchNorm;
    // channel 0 values: 1..8 over (n, h, w); channel 1: 10·those.
    const x = Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40, 5, 6, 7, 8, 50, 60, 70, 80);
    const y = bn.forward(x, 2, 'train');
    const ch0 = [y[0], y[1], y[2], y[3], y[8], y[9], y[10], y[11]];
    const mean = ch0.reduce((a, b) => a + b) / 8;
    const v = ch0.reduce((a, b) => a + (b - mean) ** 2, 0) / 8;
    expect(mean).toBeCloseTo(0, 6);
    expect(v).toBeCloseTo(5.25 / (5.25 + 1e-5), 4);
    expect(Array.from(bn.runningMean.value)).toEqual(Array.from(Float32Array.of(0.1 * 4.5, 0.1 * 45)));
    expect(bn.runningVar.value[0]).toBeCloseTo(0.9 + 0.1 * 5.25, 5);
    expect(bn.runningVar.value[1]).toBeCloseTo(0.9 + 0.1 * 525, 3);
  });

  it('eval uses the running statistics (starting at mean 0, variance 1) with gamma and beta', () => {
    const bn = makeLayer({ type: 'batchnorm' }, [3]) as BatchNorm;
    const x = Float32Array.of(1, -2, 3);
    const y0 = bn.forward(x, 1, 'eval');
    for (let i = 0; i < 3; i++) expect(y0[i]).toBeCloseTo(x[i] / Math.sqrt(1 + 1e-5), 6);
    bn.gamma.value.set([2, 2, 2]);
    bn.beta.value.set([1, 1, 1]);
    bn.runningMean.value.set([1, 1, 1]);
    bn.runningVar.value.set([4, 4, 4]);
    const y = bn.forward(x, 1, 'eval');
    expect(y[1]).toBeCloseTo((2 * -3) / Math.sqrt(4 + 1e-5) + 1, 5);
    expect(bn.params().map((p) => [p.name, p.regularize])).toEqual([['gamma', false], ['beta', false]]);
  });
});

describe('LRN', () => {
  it('matches b_i = a_i/(k + α·Σ a_j²)^β over the clipped channel window, α not divided by n', () => {
    const lrn = makeLayer({ type: 'lrn', size: 5, alpha: 0.1, beta: 0.75, k: 2 }, [6, 1, 1]);
    const a = [1, -2, 3, 0.5, 4, -1];
    const y = lrn.forward(Float32Array.from(a), 1, 'eval');
    for (let i = 0; i < 6; i++) {
      let s = 0;
      for (let j = Math.max(0, i - 2); j <= Math.min(5, i + 2); j++) s += a[j] ** 2;
      expect(y[i]).toBeCloseTo(a[i] / (2 + 0.1 * s) ** 0.75, 6);
    }
  });
});
