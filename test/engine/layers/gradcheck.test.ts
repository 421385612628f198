import { describe, expect, it } from 'vitest';
import type { Dense } from '../../../src/engine/layers/dense.ts';
import type { Layer } from '../../../src/engine/layers/layer.ts';
import { Rng } from '../../../src/engine/random.ts';
import { gradcheckLayer, randn } from '../../helpers/gradcheck.ts';
import { makeLayer } from './helpers.ts';

/** Wrap a layer so that its backward corrupts one gradient after the real computation. */
function sabotage(layer: Layer, corrupt: (layer: Layer, dx: Float32Array) => void): Layer {
  return {
    type: layer.type, inputShape: layer.inputShape, outputShape: layer.outputShape,
    forward: (x, b, m) => layer.forward(x, b, m),
    backward: (d, b) => {
      const dx = layer.backward(d, b);
      corrupt(layer, dx);
      return dx;
    },
    params: () => layer.params(),
    buffers: () => layer.buffers(),
    toSpec: () => layer.toSpec(),
  };
}

describe('gradcheck helper', () => {
  const x = randn(12, new Rng(3));

  it('passes a correct dense layer', () => {
    const results = gradcheckLayer(makeLayer({ type: 'dense', units: 5 }, [4]), x, 3);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it('catches a weight gradient scaled by 1.01', () => {
    const broken = sabotage(makeLayer({ type: 'dense', units: 5 }, [4]), (l) => {
      const g = (l as Dense).weight.grad;
      for (let i = 0; i < g.length; i++) g[i] *= 1.01;
    });
    const results = gradcheckLayer(broken, x, 3);
    expect(results.find((r) => r.name === 'weight')?.ok).toBe(false);
    expect(results.find((r) => r.name === 'bias')?.ok).toBe(true);
    expect(results.find((r) => r.name === 'input')?.ok).toBe(true);
  });

  it('catches one input-gradient element with the wrong sign', () => {
    const broken = sabotage(makeLayer({ type: 'dense', units: 5 }, [4]), (_l, dx) => {
      dx[7] = -dx[7];
    });
    expect(gradcheckLayer(broken, x, 3).find((r) => r.name === 'input')?.ok).toBe(false);
  });

  it('catches a missing term (batchnorm dx without the mean correction)', () => {
    const broken = sabotage(makeLayer({ type: 'batchnorm' }, [4]), (_l, dx) => {
      // Adding back the per-feature mean of dx is what forgetting the −mean(dxc) term looks like.
      for (let c = 0; c < 4; c++) dx[c] += 0.1;
    });
    expect(gradcheckLayer(broken, x, 3).find((r) => r.name === 'input')?.ok).toBe(false);
  });
});
