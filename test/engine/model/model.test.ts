import { describe, expect, it } from 'vitest';
import '../../../src/engine/kernels/reference.ts';
import { ShapeError, SpecError } from '../../../src/engine/errors.ts';
import type { Dropout } from '../../../src/engine/layers/dropout.ts';
import { softmaxCrossEntropy } from '../../../src/engine/losses/softmax-cross-entropy.ts';
import { describeModel } from '../../../src/engine/model/describe.ts';
import { resolveModelSpec } from '../../../src/engine/model/presets.ts';
import { buildModel, type Sequential } from '../../../src/engine/model/sequential.ts';
import { expectedTensors, getWeights, setWeights } from '../../../src/engine/model/weights.ts';
import { Rng } from '../../../src/engine/random.ts';
import { type LayersModelSpec, LayersModelSpecSchema, type ModelSpecInput, ModelSpecSchema } from '../../../src/engine/spec/model-spec.ts';
import { checkGradients, randn } from '../../helpers/gradcheck.ts';

const layersSpec = (s: unknown): LayersModelSpec => LayersModelSpecSchema.parse(s);
const preset = (s: ModelSpecInput, data?: { inputShape: number[]; classes: number }): LayersModelSpec =>
  resolveModelSpec(ModelSpecSchema.parse(s), data);

const smallCnn = layersSpec({
  inputShape: [2, 6, 6],
  layers: [
    { type: 'conv2d', filters: 3, kernelSize: 3, padding: 1 },
    { type: 'batchnorm' },
    { type: 'tanh' },
    { type: 'maxpool2d', poolSize: 2 },
    { type: 'conv2d', filters: 4, kernelSize: 2, groups: 1 },
    { type: 'sigmoid' },
    { type: 'avgpool2d', poolSize: 2, stride: 1 },
    { type: 'flatten' },
    { type: 'dense', units: 5 },
    { type: 'lrn' }, // lrn needs a rank-3 input: describeModel must refuse this layer
  ],
});

describe('presets', () => {
  it.each([
    ['alexnet (grouped)', 60_965_224, { preset: 'alexnet' }],
    ['alexnet ungrouped', 62_378_344, { preset: 'alexnet', grouped: false }],
    ['mlp 784 → 6×100 → 10', 130_010, { preset: 'mlp' }],
    ['simple_convnet on 1×28×28', 433_890, { preset: 'simple_convnet' }],
  ] as [string, number, ModelSpecInput][])('%s has %i parameters', (_t, count, spec) => {
    const data = (spec as { preset: string }).preset === 'alexnet' ? { inputShape: [3, 227, 227], classes: 1000 } : { inputShape: [1, 28, 28], classes: 10 };
    expect(describeModel(preset(spec, data), data.classes).paramCount).toBe(count);
  });

  it('alexnet follows the paper table: 55 → 27 → 13 → 6, fc6 alone 37,752,832, LRN k 2 n 5 α 1e-4 β 0.75', () => {
    const spec = preset({ preset: 'alexnet' });
    const s = describeModel(spec, 1000);
    const convs = s.layers.filter((l) => l.type === 'conv2d').map((l) => l.outputShape);
    expect(convs).toEqual([[96, 55, 55], [256, 27, 27], [384, 13, 13], [384, 13, 13], [256, 13, 13]]);
    expect(s.layers.filter((l) => l.type === 'maxpool2d').map((l) => l.outputShape)).toEqual([[96, 27, 27], [256, 13, 13], [256, 6, 6]]);
    expect(s.layers.filter((l) => l.type === 'dense').map((l) => l.paramCount)).toEqual([37_752_832, 16_781_312, 4_097_000]);
    expect(spec.layers.filter((l) => l.type === 'lrn')).toEqual([
      { type: 'lrn', size: 5, alpha: 1e-4, beta: 0.75, k: 2 }, { type: 'lrn', size: 5, alpha: 1e-4, beta: 0.75, k: 2 },
    ]);
    expect(spec.layers.filter((l) => l.type === 'dropout').length).toBe(2);
    expect(spec.weightInit).toBe(0.01);
  });

  it('deep_convnet matches the book: fan-ins 9,144,144,288,288,576,1024,50 and two dropouts', () => {
    const spec = preset({ preset: 'deep_convnet' }, { inputShape: [1, 28, 28], classes: 10 });
    const fanIns = expectedTensors(spec).filter((t) => t.name.endsWith('.weight'))
      .map((t) => (t.shape.length === 4 ? t.shape.slice(1).reduce((a, b) => a * b, 1) : t.shape[0]));
    expect(fanIns).toEqual([9, 144, 144, 288, 288, 576, 1024, 50]);
    expect(spec.layers.filter((l) => l.type === 'dropout').length).toBe(2);
    expect(spec.layers[spec.layers.length - 1].type).toBe('dropout');
  });

  it('mlp options: batchnorm before the activation, dropout after it, defaults from the data', () => {
    const spec = preset({ preset: 'mlp', hiddenLayers: 2, units: 8, batchNorm: true, dropout: 0.2, activation: 'tanh' }, { inputShape: [5], classes: 3 });
    expect(spec.layers.map((l) => l.type)).toEqual(['dense', 'batchnorm', 'tanh', 'dropout', 'dense', 'batchnorm', 'tanh', 'dropout', 'dense']);
    expect(spec.inputShape).toEqual([5]);
    expect(describeModel(spec, 3).outputShape).toEqual([3]);
  });

  it('alexnet_small fits 1×28×28 and 3×32×32, grouped or not', () => {
    for (const inputShape of [[1, 28, 28], [3, 32, 32]]) {
      for (const grouped of [false, true]) {
        const s = describeModel(preset({ preset: 'alexnet_small', grouped }, { inputShape, classes: 10 }), 10);
        expect(s.outputShape).toEqual([10]);
        expect(s.layers.filter((l) => l.type === 'lrn').length).toBe(2);
      }
    }
  });

  it('returns an explicit layers spec unchanged and refuses a bad preset input shape with a SpecError', () => {
    const spec = layersSpec({ inputShape: [4], layers: [{ type: 'dense', units: 2 }] });
    expect(resolveModelSpec(spec, { inputShape: [9], classes: 2 })).toBe(spec);
    expect(() => preset({ preset: 'mlp' }, { inputShape: [28, 28], classes: 10 })).toThrow(SpecError);
  });
});

describe('describeModel', () => {
  function shapeError(spec: unknown, classes?: number): ShapeError {
    try {
      describeModel(layersSpec(spec), classes);
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeError);
      return e as ShapeError;
    }
    throw new Error('no ShapeError');
  }

  it('gives per-layer shapes and parameter counts', () => {
    const s = describeModel(preset({ preset: 'simple_convnet' }, { inputShape: [1, 28, 28], classes: 10 }), 10);
    expect(s.layers.map((l) => [l.type, l.outputShape, l.paramCount])).toEqual([
      ['conv2d', [30, 24, 24], 780], ['relu', [30, 24, 24], 0], ['maxpool2d', [30, 12, 12], 0], ['flatten', [4320], 0],
      ['dense', [100], 432_100], ['relu', [100], 0], ['dense', [10], 1010],
    ]);
  });

  it.each([
    ['kernel larger than the padded input', { inputShape: [1, 4, 4], layers: [{ type: 'conv2d', filters: 2, kernelSize: 5, padding: 0 }, { type: 'dense', units: 2 }] }, 0, 'kernelSize', /larger than the padded input 4×4/],
    ['conv on a 1-D input', { inputShape: [10], layers: [{ type: 'dense', units: 4 }, { type: 'conv2d', filters: 2, kernelSize: 1 }] }, 1, undefined, /conv2d needs a \[channels, height, width\] input, got \[4\]/],
    ['groups not dividing channels', { inputShape: [3, 8, 8], layers: [{ type: 'conv2d', filters: 4, kernelSize: 3, groups: 2 }, { type: 'dense', units: 2 }] }, 0, 'groups', /3 input channels/],
    ['groups not dividing filters', { inputShape: [4, 8, 8], layers: [{ type: 'conv2d', filters: 3, kernelSize: 3, groups: 2 }, { type: 'dense', units: 2 }] }, 0, 'groups', /3 filters/],
    ['pool window larger than its input', { inputShape: [1, 8, 8], layers: [{ type: 'conv2d', filters: 2, kernelSize: 7 }, { type: 'maxpool2d', poolSize: 3 }, { type: 'dense', units: 2 }] }, 1, 'poolSize', /maxpool2d/],
    ['pool padding over half the window', { inputShape: [1, 8, 8], layers: [{ type: 'avgpool2d', poolSize: 2, padding: 2 }, { type: 'dense', units: 2 }] }, 0, 'padding', /half the pool window/],
    ['lrn on a 1-D input', { inputShape: [8], layers: [{ type: 'lrn' }, { type: 'dense', units: 2 }] }, 0, undefined, /lrn needs/],
    ['final output not 1-D', { inputShape: [1, 8, 8], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }] }, 0, undefined, /\[classes\]/],
  ] as [string, unknown, number, string | undefined, RegExp][])('names the layer when: %s', (_t, spec, index, field, msg) => {
    const e = shapeError(spec);
    expect(e.layerIndex).toBe(index);
    expect(e.path).toEqual(field === undefined ? ['model', 'layers', index] : ['model', 'layers', index, field]);
    expect(e.message).toMatch(msg);
    expect(e.message).toContain(`layer ${index}`);
    expect(e.code).toBe('SHAPE_MISMATCH');
  });

  it('checks the class count against the dataset', () => {
    const e = shapeError({ inputShape: [4], layers: [{ type: 'dense', units: 3 }] }, 10);
    expect(e.layerIndex).toBe(0);
    expect(e.message).toMatch(/3 values but the dataset has 10 classes/);
  });

  it('does not allocate weights (AlexNet in well under a second)', () => {
    const t = performance.now();
    for (let i = 0; i < 20; i++) describeModel(preset({ preset: 'alexnet' }), 1000);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it('an lrn after dense is refused while smallCnn with a dense last layer is fine', () => {
    expect(() => describeModel(smallCnn)).toThrow(/layer 9 \(lrn\)/);
    expect(describeModel({ ...smallCnn, layers: smallCnn.layers.slice(0, 9) }).outputShape).toEqual([5]);
  });
});

/** Whole-model gradient check: L = softmax cross-entropy of the train forward, every param gradient. */
function modelGradcheck(model: Sequential, batch: number, seed: number): { name: string; error: number }[] {
  const rng = new Rng(seed);
  const x = randn(batch * model.inputShape.reduce((a, b) => a * b, 1), rng);
  const classes = model.outputShape[0];
  const labels = Array.from({ length: batch }, () => rng.int(classes));
  const d = new Float32Array(batch * classes);
  softmaxCrossEntropy(model.forward(x, batch, 'train'), labels, batch, classes, d);
  model.backward(d, batch);
  const tensors = model.params().map(({ layerIndex, param }) => ({ name: `${layerIndex}.${param.name}`, value: param.value, grad: param.grad }));
  return checkGradients(() => softmaxCrossEntropy(model.forward(x, batch, 'train'), labels, batch, classes).loss, tensors, { maxChecks: 40 });
}

describe('Sequential', () => {
  // NOTE: no bias right before a batchnorm: its gradient is exactly zero (the mean subtraction removes it),
  // and a relative error of float32 noise around zero says nothing.
  it('whole small MLP (dense, batchnorm, sigmoid, tanh): every parameter gradient matches central differences', () => {
    const model = buildModel(layersSpec({
      inputShape: [6],
      layers: [{ type: 'dense', units: 7, useBias: false }, { type: 'batchnorm' }, { type: 'sigmoid' }, { type: 'dense', units: 5 }, { type: 'tanh' }, { type: 'dense', units: 3 }],
    }), new Rng(1));
    const results = modelGradcheck(model, 4, 2);
    expect(results.map((r) => r.name)).toEqual(['0.weight', '1.gamma', '1.beta', '3.weight', '3.bias', '5.weight', '5.bias']);
    for (const r of results) expect(r.error, r.name).toBeLessThan(1e-3);
  });

  it('whole small CNN (conv, batchnorm, pools, grouped conv, lrn, dropout with a fixed mask): gradients match', () => {
    const spec = layersSpec({
      inputShape: [2, 6, 6],
      layers: [
        { type: 'conv2d', filters: 4, kernelSize: 3, padding: 1, useBias: false }, { type: 'batchnorm' }, { type: 'tanh' },
        { type: 'lrn', size: 3, alpha: 0.2 }, { type: 'avgpool2d', poolSize: 2 },
        { type: 'conv2d', filters: 4, kernelSize: 2, groups: 2 }, { type: 'sigmoid' },
        { type: 'flatten' }, { type: 'dense', units: 6 }, { type: 'dropout', rate: 0.3 }, { type: 'dense', units: 3 },
      ],
    });
    const model = buildModel(spec, new Rng(3));
    (model.layers[9] as Dropout).setFixedMask(Array.from({ length: 18 }, (_, i) => i % 4));
    const results = modelGradcheck(model, 3, 4);
    expect(results.length).toBe(9);
    for (const r of results) expect(r.error, r.name).toBeLessThan(1e-3);
  });

  it('a conv net with max pooling trains on a separable toy problem', () => {
    const model = buildModel(preset({ preset: 'simple_convnet', filters: 4, kernelSize: 3, hidden: 16, weightInit: 'he' }, { inputShape: [1, 8, 8], classes: 2 }), new Rng(5));
    const rng = new Rng(6);
    const N = 16;
    const x = new Float32Array(N * 64);
    const y = new Uint8Array(N);
    for (let n = 0; n < N; n++) {
      y[n] = n % 2;
      for (let i = 0; i < 64; i++) x[n * 64 + i] = (y[n] === 1 ? (i % 8 < 4 ? 1 : 0) : i < 32 ? 1 : 0) + 0.1 * rng.normal();
    }
    const d = new Float32Array(N * 2);
    let first = 0;
    let last = { loss: 0, correct: 0 };
    for (let it = 0; it < 60; it++) {
      last = softmaxCrossEntropy(model.forward(x, N, 'train'), y, N, 2, d);
      if (it === 0) first = last.loss;
      model.backward(d, N);
      for (const { param } of model.params()) for (let i = 0; i < param.value.length; i++) param.value[i] -= 0.5 * param.grad[i];
    }
    expect(last.loss).toBeLessThan(first / 5);
    expect(last.correct).toBe(N);
    const p = model.predict(x, N);
    expect(p[0] + p[1]).toBeCloseTo(1, 5);
  });

  it('reuses its buffers across batches of the same size (no allocation per batch)', () => {
    const model = buildModel(preset({ preset: 'mlp', hiddenLayers: 2, units: 8 }, { inputShape: [5], classes: 3 }), new Rng(1));
    const x = randn(40, new Rng(2));
    const a = model.forward(x, 8, 'train');
    const b = model.forward(x, 8, 'train');
    expect(b).toBe(a);
    expect(model.forward(x.subarray(0, 15), 3, 'train').buffer).toBe(a.buffer);
  });

  it('same spec and seed give the same weights; buildModel(model.spec) rebuilds the same architecture', () => {
    const spec = preset({ preset: 'alexnet_small' }, { inputShape: [1, 28, 28], classes: 10 });
    const m1 = buildModel(spec, new Rng(42));
    const m2 = buildModel(m1.spec, new Rng(42));
    expect(getWeights(m2)).toEqual(getWeights(m1));
    expect(m1.layers.map((l) => l.toSpec())).toEqual(spec.layers);
    const m3 = buildModel({ ...spec, layers: m1.layers.map((l) => l.toSpec()) }, new Rng(42));
    expect(getWeights(m3)).toEqual(getWeights(m1));
  });
});

describe('named weights', () => {
  const spec = layersSpec({
    inputShape: [1, 5, 5],
    layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'batchnorm' }, { type: 'relu' }, { type: 'dense', units: 3, useBias: false }],
  });

  it('expectedTensors lists <layerIndex>.<name> with shapes, matching getWeights', () => {
    const want = [
      { name: '0.weight', shape: [2, 1, 3, 3] }, { name: '0.bias', shape: [2] },
      { name: '1.gamma', shape: [2] }, { name: '1.beta', shape: [2] }, { name: '1.runningMean', shape: [2] }, { name: '1.runningVar', shape: [2] },
      { name: '3.weight', shape: [18, 3] },
    ];
    expect(expectedTensors(spec)).toEqual(want);
    expect(getWeights(buildModel(spec, new Rng(1))).map(({ name, shape }) => ({ name, shape }))).toEqual(want);
  });

  it('round-trips through getWeights/setWeights and gives the same outputs', () => {
    const a = buildModel(spec, new Rng(1));
    const b = buildModel(spec, new Rng(2));
    a.forward(randn(50, new Rng(3)), 2, 'train'); // moves the running statistics
    setWeights(b, getWeights(a));
    expect(getWeights(b)).toEqual(getWeights(a));
    const x = randn(50, new Rng(4));
    expect(Array.from(b.forward(x, 2, 'eval'))).toEqual(Array.from(a.forward(x, 2, 'eval')));
  });

  it.each([
    ['missing', (t: ReturnType<typeof getWeights>) => t.filter((w) => w.name !== '1.runningVar'), /1\.runningVar is missing/, '1.runningVar'],
    ['extra', (t: ReturnType<typeof getWeights>) => [...t, { name: '3.bias', shape: [3], data: new Float32Array(3) }], /3\.bias is not part/, '3.bias'],
    ['mis-shaped', (t: ReturnType<typeof getWeights>) => t.map((w) => (w.name === '3.weight' ? { ...w, shape: [3, 18] } : w)), /3\.weight has shape \[3, 18\], expected \[18, 3\]/, '3.weight'],
    ['wrong length', (t: ReturnType<typeof getWeights>) => t.map((w) => (w.name === '0.bias' ? { ...w, data: new Float32Array(3) } : w)), /0\.bias has 3 values/, '0.bias'],
    ['duplicated', (t: ReturnType<typeof getWeights>) => [...t, t[0]], /0\.weight is given twice/, '0.weight'],
  ] as const)('setWeights refuses a %s tensor, names it, and writes nothing', (_t, edit, msg, name) => {
    const m = buildModel(spec, new Rng(1));
    const before = getWeights(m);
    const other = getWeights(buildModel(spec, new Rng(9)));
    let err: unknown;
    try {
      setWeights(m, edit(other));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).message).toMatch(msg);
    expect((err as SpecError).path).toEqual(['weights', name]);
    expect(getWeights(m)).toEqual(before);
  });
});
