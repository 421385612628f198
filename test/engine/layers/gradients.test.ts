import { describe, expect, it } from 'vitest';
import type { Dropout } from '../../../src/engine/layers/dropout.ts';
import { Rng } from '../../../src/engine/random.ts';
import type { LayerSpecInput } from '../../../src/engine/spec/layer-spec.ts';
import { gradcheckLayer, randn } from '../../helpers/gradcheck.ts';
import { distinctValues, makeLayer } from './helpers.ts';

function expectOk(results: ReturnType<typeof gradcheckLayer>, expectedNames: string[]): void {
  expect(results.map((r) => r.name)).toEqual(expectedNames);
  for (const r of results) expect(r.error, `${r.name}: error ${r.error}`).toBeLessThan(1e-3);
}

const sizeOf = (s: number[]): number => s.reduce((a, b) => a * b, 1);

describe('layer gradients (central differences, L = Σ out ⊙ R)', () => {
  const withParams: [string, LayerSpecInput, number[], number][] = [
    ['dense on [5]', { type: 'dense', units: 4 }, [5], 3],
    ['dense on [2,3,3] (flattened)', { type: 'dense', units: 3, biasInit: 0.5 }, [2, 3, 3], 2],
    ['conv2d 3@3×3 stride 2 padding 1', { type: 'conv2d', filters: 3, kernelSize: 3, stride: 2, padding: 1 }, [2, 7, 7], 2],
    ['conv2d multi-channel 4@3×3 on 3 channels', { type: 'conv2d', filters: 4, kernelSize: 3 }, [3, 5, 5], 2],
    ['conv2d grouped (groups 2) 6@3×3 padding 1', { type: 'conv2d', filters: 6, kernelSize: 3, padding: 1, groups: 2 }, [4, 6, 6], 2],
    ['conv2d rectangular kernel [3,2], stride [2,1], padding [1,0]', { type: 'conv2d', filters: 2, kernelSize: [3, 2], stride: [2, 1], padding: [1, 0] }, [2, 6, 5], 2],
    ['batchnorm per feature on [6]', { type: 'batchnorm' }, [6], 5],
    ['batchnorm per channel on [3,4,4]', { type: 'batchnorm' }, [3, 4, 4], 2],
  ];
  it.each(withParams)('%s: input, weights and biases', (_t, spec, shape, batch) => {
    const layer = makeLayer(spec, shape, 3);
    // Non-trivial gamma/beta so that their gradients are exercised away from the identity.
    for (const p of layer.params()) if (p.name === 'gamma') p.value.set(randn(p.value.length, new Rng(5), 0.5).map((v) => 1 + v));
    const x = randn(batch * sizeOf(shape), new Rng(7));
    const names = ['input', ...layer.params().map((p) => p.name)];
    expectOk(gradcheckLayer(layer, x, batch), names);
  });

  it('dense without bias has only a weight gradient', () => {
    const layer = makeLayer({ type: 'dense', units: 3, useBias: false }, [4]);
    expectOk(gradcheckLayer(layer, randn(8, new Rng(2)), 2), ['input', 'weight']);
  });

  const pools: [string, LayerSpecInput, number[]][] = [
    ['maxpool2d 3×3 stride 2 (overlapping)', { type: 'maxpool2d', poolSize: 3, stride: 2 }, [2, 7, 7]],
    ['maxpool2d 2×2 stride 2 padding 1', { type: 'maxpool2d', poolSize: 2, stride: 2, padding: 1 }, [2, 5, 5]],
    ['avgpool2d 3×3 stride 2 (overlapping)', { type: 'avgpool2d', poolSize: 3, stride: 2 }, [2, 7, 7]],
    ['avgpool2d 3×3 stride 1 padding 1', { type: 'avgpool2d', poolSize: 3, stride: 1, padding: 1 }, [1, 5, 5]],
  ];
  it.each(pools)('%s: input gradient', (_t, spec, shape) => {
    const layer = makeLayer(spec, shape);
    // Distinct values 0.05 apart: the argmax of every window is stable under ±eps (1e-2).
    expectOk(gradcheckLayer(layer, distinctValues(2 * sizeOf(shape), 11), 2), ['input']);
  });

  it.each([['relu'], ['sigmoid'], ['tanh']] as const)('%s: input gradient (inputs away from 0)', (type) => {
    const layer = makeLayer({ type }, [3, 2, 2]);
    const x = randn(24, new Rng(4)).map((v) => (v >= 0 ? 0.1 + v : v - 0.1));
    expectOk(gradcheckLayer(layer, x, 2), ['input']);
  });

  it('flatten passes gradients through', () => {
    expectOk(gradcheckLayer(makeLayer({ type: 'flatten' }, [2, 3, 3]), randn(36, new Rng(1)), 2), ['input']);
  });

  it.each([['inverted'], ['eval']] as const)('dropout (%s scaling) with a fixed mask', (scaling) => {
    const layer = makeLayer({ type: 'dropout', rate: 0.4, scaling }, [10]) as Dropout;
    const keep = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 0 : 1));
    layer.setFixedMask(keep);
    expectOk(gradcheckLayer(layer, randn(30, new Rng(8)), 3), ['input']);
  });

  it.each([
    ['paper defaults (k 2, n 5, α 1e-4, β 0.75), large activations', { type: 'lrn' }, 10],
    ['strong normalisation (k 1, n 3, α 0.5, β 0.75)', { type: 'lrn', size: 3, alpha: 0.5, beta: 0.75, k: 1 }, 1],
    ['even size 4 (window ±2), α 0.3, β 1.2', { type: 'lrn', size: 4, alpha: 0.3, beta: 1.2, k: 2 }, 1],
  ] as [string, LayerSpecInput, number][])('lrn %s: input gradient', (_t, spec, scale) => {
    const layer = makeLayer(spec, [7, 3, 3]);
    expectOk(gradcheckLayer(layer, randn(2 * 63, new Rng(6), scale), 2, { eps: 1e-2 * scale }), ['input']);
  });
});
