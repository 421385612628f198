import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../src/engine/errors.ts';
import type { Param } from '../../../src/engine/layers/layer.ts';
import { AdaGrad } from '../../../src/engine/optimizers/adagrad.ts';
import { Adam } from '../../../src/engine/optimizers/adam.ts';
import { Momentum } from '../../../src/engine/optimizers/momentum.ts';
import { Nesterov } from '../../../src/engine/optimizers/nesterov.ts';
import type { Optimizer } from '../../../src/engine/optimizers/optimizer.ts';
import { createOptimizer } from '../../../src/engine/optimizers/registry.ts';
import { RMSProp } from '../../../src/engine/optimizers/rmsprop.ts';
import { SGD } from '../../../src/engine/optimizers/sgd.ts';
import { OptimizerSpecSchema } from '../../../src/engine/spec/optimizer-spec.ts';

/**
 * Every case: θ₀ = [1, −0.5], first gradient g₁ = [0.5, −1], second g₂ = [0.25, 2], lr = 0.1.
 * The expected values are worked out by hand below each case (float64 arithmetic, written out); the
 * engine stores float32, so they are compared to 6 significant digits.
 */
function param(): Param {
  return { name: 'weight', shape: [2], value: new Float32Array([1, -0.5]), grad: new Float32Array(2), regularize: true };
}

function twoSteps(opt: Optimizer): [number[], number[]] {
  const p = param();
  p.grad.set([0.5, -1]);
  opt.update([p]);
  const first = Array.from(p.value);
  p.grad.set([0.25, 2]);
  opt.update([p]);
  return [first, Array.from(p.value)];
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, 6));
}

describe('optimizers: the first two steps against hand-derived values', () => {
  it('SGD: θ ← θ − lr·g', () => {
    const [s1, s2] = twoSteps(new SGD({ learningRate: 0.1 }));
    // step 1: 1 − 0.1·0.5 = 0.95;   −0.5 − 0.1·(−1) = −0.4
    expectClose(s1, [0.95, -0.4]);
    // step 2: 0.95 − 0.1·0.25 = 0.925;   −0.4 − 0.1·2 = −0.6
    expectClose(s2, [0.925, -0.6]);
  });

  it('Momentum: v ← μv − lr·g; θ ← θ + v (μ = 0.9)', () => {
    const [s1, s2] = twoSteps(new Momentum({ learningRate: 0.1, momentum: 0.9 }));
    // step 1: v = −0.1·0.5 = −0.05 → θ = 0.95;   v = −0.1·(−1) = 0.1 → θ = −0.4
    expectClose(s1, [0.95, -0.4]);
    // step 2: v = 0.9·(−0.05) − 0.1·0.25 = −0.07 → θ = 0.95 − 0.07 = 0.88
    //         v = 0.9·0.1 − 0.1·2 = −0.11 → θ = −0.4 − 0.11 = −0.51
    expectClose(s2, [0.88, -0.51]);
  });

  it("Nesterov, the book's order: θ ← θ + μ²v − (1+μ)·lr·g, then v ← μv − lr·g", () => {
    const [s1, s2] = twoSteps(new Nesterov({ learningRate: 0.1, momentum: 0.9 }));
    // μ² = 0.81, (1+μ)·lr = 0.19.
    // step 1 (v = 0): θ = 1 − 0.19·0.5 = 0.905;   −0.5 − 0.19·(−1) = −0.31.   then v = [−0.05, 0.1]
    expectClose(s1, [0.905, -0.31]);
    // step 2: θ = 0.905 + 0.81·(−0.05) − 0.19·0.25 = 0.905 − 0.0405 − 0.0475 = 0.817
    //         θ = −0.31 + 0.81·0.1 − 0.19·2 = −0.31 + 0.081 − 0.38 = −0.609
    expectClose(s2, [0.817, -0.609]);
    // The course's order (v first) would give 1 + 0.81·(−0.05) − 0.095 = 0.8645 at step 1: not what we do.
    expect(s1[0]).not.toBeCloseTo(0.8645, 3);
  });

  it('AdaGrad: h ← h + g²; θ ← θ − lr·g/(√h + 1e-7)', () => {
    const [s1, s2] = twoSteps(new AdaGrad({ learningRate: 0.1 }));
    // step 1: h = [0.25, 1], √h = [0.5, 1]: θ = 1 − 0.1·0.5/0.5000001 = 0.90000002;  −0.5 + 0.1/1.0000001 = −0.40000001
    expectClose(s1, [0.90000002, -0.40000001]);
    // step 2: h = [0.25 + 0.0625, 1 + 4] = [0.3125, 5], √h = [0.5590170, 2.2360680]
    //         θ = 0.9 − 0.025/0.5590170 = 0.9 − 0.0447214 = 0.8552786;   −0.4 − 0.2/2.2360680 = −0.4 − 0.0894427 = −0.4894427
    expectClose(s2, [0.8552787, -0.4894427]);
  });

  it('RMSProp: h ← ρh + (1−ρ)g²; θ ← θ − lr·g/(√h + 1e-7) (ρ = 0.9)', () => {
    const [s1, s2] = twoSteps(new RMSProp({ learningRate: 0.1, decay: 0.9 }));
    // step 1: h = 0.1·g² = [0.025, 0.1], √h = [0.1581139, 0.3162278]
    //         θ = 1 − 0.05/0.1581139 = 1 − 0.3162278 = 0.6837722;   −0.5 + 0.1/0.3162278 = −0.1837722
    expectClose(s1, [0.6837724, -0.1837723]);
    // step 2: h = 0.9·0.025 + 0.1·0.0625 = 0.02875 (√ 0.1695582);  0.9·0.1 + 0.1·4 = 0.49 (√ 0.7)
    //         θ = 0.6837722 − 0.025/0.1695582 = 0.6837722 − 0.1474418 = 0.5363304;   −0.1837722 − 0.2/0.7 = −0.4694865
    expectClose(s2, [0.5363306, -0.4694866]);
  });

  it("Adam, the book's form: lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ), ε added to the uncorrected √v", () => {
    const [s1, s2] = twoSteps(new Adam({ learningRate: 0.1 }));
    // step 1: lr_t = 0.1·√0.001/0.1 = 0.0316228.  m = 0.1·g = [0.05, −0.1];  v = 0.001·g² = [0.00025, 0.001]
    //         √v = [0.0158114, 0.0316228]: m/√v ≈ ±3.1622777 (ε shrinks it by ~1e-7/√v relative), so
    //         θ = 1 − 0.0316228·0.05/(0.0158114 + 1e-7) = 0.90000063;   −0.5 + 0.0316228·0.1/(0.0316228 + 1e-7) = −0.40000032
    expectClose(s1, [0.90000063, -0.40000032]);
    // step 2: lr_t = 0.1·√(1 − 0.999²)/(1 − 0.9²) = 0.1·0.0447102/0.19 = 0.0235317
    //         m = 0.05 + 0.1·(0.25 − 0.05) = 0.07;      v = 0.00025 + 0.001·(0.0625 − 0.00025) = 0.00031225 (√ 0.0176706)
    //         θ = 0.9000006 − 0.0235317·0.07/0.0176707 = 0.9000006 − 0.0932175 = 0.8067832
    //         m = −0.1 + 0.1·(2 + 0.1) = 0.11;          v = 0.001 + 0.001·(4 − 0.001) = 0.004999 (√ 0.0707036)
    //         θ = −0.4000003 − 0.0235317·0.11/0.0707036 = −0.4000003 − 0.0366103 = −0.4366106
    expectClose(s2, [0.8067832, -0.4366106]);
    // Algorithm 1 with ε = 1e-8 on the corrected v̂ would give exactly 1 − 0.1 = 0.9 at step 1 up to 1e-8:
    // the book's form differs by 6.3e-7 (float32 resolves 6e-8 here).
    expect(s1[0]! - 0.9).toBeGreaterThan(4e-7);
  });
});

describe('optimizer state', () => {
  it.each(['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'] as const)('%s: exporting after one step and importing into a fresh optimizer continues identically', (type) => {
    const spec = OptimizerSpecSchema.parse({ type });
    const a = createOptimizer(spec);
    const pa = param();
    pa.grad.set([0.5, -1]);
    a.update([pa]);
    const state = a.exportState([{ name: '0.weight', param: pa }]);
    expect(state.step).toBe(1);
    const b = createOptimizer(spec);
    const pb = param();
    pb.value.set(pa.value);
    b.importState(state, [{ name: '0.weight', param: pb }]);
    pa.grad.set([0.25, 2]);
    pb.grad.set([0.25, 2]);
    a.update([pa]);
    b.update([pb]);
    expect(Array.from(pb.value)).toEqual(Array.from(pa.value));
    expect(b.step).toBe(2);
  });

  it('names slots <param>.<slot> and refuses a missing, extra or mis-sized slot', () => {
    const a = new Adam();
    const p = param();
    p.grad.set([1, 1]);
    a.update([p]);
    const named = [{ name: '3.weight', param: p }];
    const state = a.exportState(named);
    expect(state.slots.map((s) => s.name)).toEqual(['3.weight.m', '3.weight.v']);
    expect(() => new Adam().importState({ step: 1, slots: state.slots.slice(0, 1) }, named)).toThrow(/missing slot 3.weight.v/);
    expect(() => new Momentum().importState(state, named)).toThrow(/missing slot 3.weight.v|unexpected slot/);
    expect(() => new Adam().importState({ step: 1, slots: [...state.slots, { name: '4.bias.m', shape: [1], data: new Float32Array(1) }] }, named)).toThrow(/unexpected slot 4.bias.m/);
    expect(() => new Adam().importState({ step: 1, slots: [state.slots[0]!, { ...state.slots[1]!, data: new Float32Array(3) }] }, named)).toThrow(/3.weight.v has 3 values/);
  });
});

describe('hyper-parameter validation', () => {
  it.each([
    [() => new SGD({ learningRate: -1 }), /learningRate must be a finite number > 0, got -1/],
    [() => new SGD({ learningRate: NaN }), /got NaN/],
    [() => new Momentum({ momentum: 1 }), /momentum must be in \[0, 1\), got 1/],
    [() => new Nesterov({ momentum: -0.1 }), /momentum must be in \[0, 1\), got -0.1/],
    [() => new RMSProp({ decay: 1.5 }), /decay must be in \[0, 1\), got 1.5/],
    [() => new Adam({ beta2: 1 }), /beta2 must be in \[0, 1\), got 1/],
    [() => new AdaGrad({ epsilon: 0 }), /epsilon must be a finite number > 0, got 0/],
  ])('%#: throws a SpecError with the bad value', (make, message) => {
    expect(make).toThrow(SpecError);
    expect(make).toThrow(message);
  });

  it('builds each spec type with the course defaults', () => {
    const o = (type: string) => createOptimizer(OptimizerSpecSchema.parse({ type }));
    expect(o('sgd').learningRate).toBe(0.01);
    expect((o('momentum') as Momentum).momentum).toBe(0.9);
    expect((o('rmsprop') as RMSProp).decay).toBe(0.99);
    const adam = o('adam') as Adam;
    expect([adam.learningRate, adam.beta1, adam.beta2, adam.epsilon]).toEqual([0.001, 0.9, 0.999, 1e-7]);
  });
});
