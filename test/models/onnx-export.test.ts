import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  buildModel,
  getWeights,
  LayersModelSpecSchema,
  ModelSpecSchema,
  resolveModelSpec,
  Rng,
  setWeights,
  type LayersModelSpec,
  type ModelSpecInput,
} from '../../src/engine/index.ts';
import { exportOnnx } from '../../src/models/onnx/export.ts';

/**
 * The exported ONNX file, run by onnxruntime-node (CPU), must give keiko's eval-mode answers: probabilities
 * within 1e-5 absolute, logits within 1e-5 relative to their scale. Every parameter and batchnorm statistic is
 * randomised first, so an export that ignored one (or transposed a weight) could not pass.
 */
async function compare(spec: LayersModelSpec, batch = 5, seed = 1) {
  const rng = new Rng(seed);
  const model = buildModel(spec, rng);
  const tensors = getWeights(model).map((t) => ({
    ...t,
    data: Float32Array.from(t.data, () => {
      const v = rng.normal() * 0.3;
      if (t.name.endsWith('runningVar')) return 0.5 + Math.abs(v);
      if (t.name.endsWith('gamma')) return 1 + v;
      return v;
    }),
  }));
  setWeights(model, tensors);
  const size = spec.inputShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: batch * size }, () => rng.next() * 2 - 1);
  const logits = Float32Array.from(model.forward(x, batch, 'eval'));
  const probs = Float32Array.from(model.predict(x, batch));

  const bytes = exportOnnx(spec, getWeights(model), { name: 'test' });
  const session = await ort.InferenceSession.create(bytes);
  expect(session.inputNames).toEqual(['input']);
  expect([...session.outputNames].sort()).toEqual(['logits', 'probabilities']);
  const out = await session.run({ input: new ort.Tensor('float32', x, [batch, ...spec.inputShape]) });
  const oProbs = out.probabilities.data as Float32Array;
  const oLogits = out.logits.data as Float32Array;
  expect(out.probabilities.dims).toEqual([batch, probs.length / batch]);
  let maxP = 0;
  let maxL = 0;
  const scale = Math.max(1, ...Array.from(logits, Math.abs));
  for (let i = 0; i < probs.length; i++) {
    maxP = Math.max(maxP, Math.abs(probs[i] - oProbs[i]));
    maxL = Math.max(maxL, Math.abs(logits[i] - oLogits[i]) / scale);
  }
  expect(maxP).toBeLessThan(1e-5);
  expect(maxL).toBeLessThan(1e-5);
  await session.release();
  return { maxP, maxL };
}

const parse = (s: unknown) => LayersModelSpecSchema.parse(s);
const preset = (s: ModelSpecInput, inputShape: number[], classes: number) => resolveModelSpec(ModelSpecSchema.parse(s), { inputShape, classes });

describe('ONNX export, checked in onnxruntime-node against keiko eval forward', () => {
  it('MLP: dense (Gemm, [fanIn, units]), relu, sigmoid, tanh, inverted and eval dropout, no-bias dense', async () => {
    await compare(
      parse({
        inputShape: [7],
        layers: [
          { type: 'dense', units: 16 },
          { type: 'relu' },
          { type: 'dropout', rate: 0.3, scaling: 'eval' },
          { type: 'dense', units: 12, useBias: false },
          { type: 'sigmoid' },
          { type: 'dropout', rate: 0.5 },
          { type: 'dense', units: 9 },
          { type: 'tanh' },
          { type: 'dense', units: 4 },
        ],
      }),
    );
  });

  it('CNN with batchnorm (per channel and per feature) and dropout; dense straight after conv (implicit flatten)', async () => {
    await compare(
      parse({
        inputShape: [2, 9, 9],
        layers: [
          { type: 'conv2d', filters: 4, kernelSize: 3, padding: 1 },
          { type: 'batchnorm' },
          { type: 'relu' },
          { type: 'maxpool2d', poolSize: 2 },
          { type: 'dropout', rate: 0.25 },
          { type: 'conv2d', filters: 3, kernelSize: [2, 3], stride: [1, 2] },
          { type: 'dense', units: 10 },
          { type: 'batchnorm', epsilon: 0.001 },
          { type: 'relu' },
          { type: 'dense', units: 3 },
        ],
      }),
    );
  });

  it('LRN (odd and even size), avgpool with padding, grouped conv, maxpool with padding', async () => {
    await compare(
      parse({
        inputShape: [3, 10, 10],
        layers: [
          { type: 'conv2d', filters: 6, kernelSize: 3 },
          { type: 'relu' },
          { type: 'lrn', size: 5, alpha: 0.1, beta: 0.75, k: 2 },
          { type: 'avgpool2d', poolSize: 3, stride: 2, padding: 1 },
          { type: 'conv2d', filters: 6, kernelSize: 3, padding: 1, groups: 3 },
          { type: 'lrn', size: 4, alpha: 0.2, beta: 0.5, k: 1 },
          { type: 'maxpool2d', poolSize: 3, stride: 2, padding: 1 },
          { type: 'flatten' },
          { type: 'dense', units: 5 },
        ],
      }),
    );
  });

  it('alexnet_small (LRN, overlapping pooling, dropout) for 1×28×28', async () => {
    await compare(preset({ preset: 'alexnet_small' }, [1, 28, 28], 10), 3);
  });

  it('alexnet_small grouped, with the book\'s eval-scaled dropout and batchnorm, for 3×32×32', async () => {
    await compare(preset({ preset: 'alexnet_small', grouped: true, dropoutScaling: 'eval', batchNorm: true }, [3, 32, 32], 10), 2);
  });

  it('simple_convnet and an mlp preset with batchnorm', async () => {
    await compare(preset({ preset: 'simple_convnet' }, [1, 28, 28], 10), 3);
    await compare(preset({ preset: 'mlp', hiddenLayers: 2, units: 20, batchNorm: true, dropout: 0.2 }, [1, 8, 8], 4), 4);
  });
});
