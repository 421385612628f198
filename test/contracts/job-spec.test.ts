import { describe, expect, it } from 'vitest';
import { JobSpecSchema } from '../../src/contracts/job-spec.ts';
import { loadEnv } from '../../src/config/env.ts';

const apiExample = {
  name: 'dropout+l1',
  dataset: { id: 'mnist', trainSize: 300, testSize: 1000, seed: 0 },
  model: {
    inputShape: [1, 28, 28],
    layers: [
      { type: 'conv2d', filters: 30, kernelSize: 5, stride: 1, padding: 0 },
      { type: 'relu' },
      { type: 'maxpool2d', poolSize: 2, stride: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 100 },
      { type: 'relu' },
      { type: 'dropout', rate: 0.5 },
      { type: 'dense', units: 10 },
    ],
    weightInit: 'he',
  },
  regularization: { l1: 0.005, l2: 0 },
  optimizer: { type: 'adam', learningRate: 0.001 },
  training: { epochs: 20, batchSize: 100, seed: 42 },
};

describe('JobSpecSchema', () => {
  it('accepts the API.md example and fills the documented defaults', () => {
    const spec = JobSpecSchema.parse(apiExample);
    expect(spec.optimizer).toEqual({ type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(spec.training.sampling).toBe('shuffle');
    expect(spec.training.threads).toBe(1);
    const layers = 'layers' in spec.model ? spec.model.layers : [];
    expect(layers[6]).toEqual({ type: 'dropout', rate: 0.5, scaling: 'inverted' });
  });

  it('fills optimizer and regularization defaults when they are absent', () => {
    const spec = JobSpecSchema.parse({ dataset: { id: 'mnist' }, model: { preset: 'mlp' }, training: { epochs: 1, batchSize: 10 } });
    expect(spec.optimizer).toEqual({ type: 'sgd', learningRate: 0.01 });
    expect(spec.regularization).toEqual({ l1: 0, l2: 0 });
    expect(spec.model).toMatchObject({ preset: 'mlp', hiddenLayers: 6, units: 100, activation: 'relu' });
  });

  it('reports every bad field: unknown keys, coercion refused, ranges', () => {
    const r = JobSpecSchema.safeParse({
      dataset: { id: 'mnist', extra: 1 },
      model: { preset: 'mlp' },
      optimizer: { type: 'adam', learningRate: '0.1' },
      training: { epochs: 0, batchSize: 10 },
    });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['dataset', 'optimizer.learningRate', 'training.epochs']));
  });

  it('refuses a dropout rate of 1 and an unknown layer type', () => {
    const bad = structuredClone(apiExample) as typeof apiExample & { model: { layers: unknown[] } };
    bad.model.layers[6] = { type: 'dropout', rate: 1 };
    bad.model.layers[1] = { type: 'softmax' };
    const r = JobSpecSchema.safeParse(bad);
    expect(r.success).toBe(false);
  });
});

describe('loadEnv', () => {
  it('applies defaults and parses numbers', () => {
    const env = loadEnv({ PORT: '8080' });
    expect(env.PORT).toBe(8080);
    expect(env.HOST).toBe('127.0.0.1');
    expect(env.WORKER_CONCURRENCY).toBe(1);
    expect(env.KEIKO_PREFIX).toBe('keiko');
  });

  it('names each bad variable', () => {
    expect(() => loadEnv({ PORT: 'abc', WORKER_CONCURRENCY: '0' })).toThrow(/PORT[\s\S]*WORKER_CONCURRENCY/);
  });
});
