import { describe, expect, it } from 'vitest';
import { buildModel, LayersModelSpecSchema, Rng, softmaxCrossEntropy } from '../../../src/engine/index.ts';
import { L1L2 } from '../../../src/engine/regularizers/l1l2.ts';
import { checkGradients, randn } from '../../helpers/gradcheck.ts';

/**
 * The whole training loss L = CE + l1·Σ|W| + ½·l2·ΣW², differentiated the way `fit` does it
 * (model.backward, then L1L2.addGradients), against central differences of L itself.
 */
// 1e-3: small enough that no ReLU or max-pool switch happens inside a difference with these inputs, large
// enough that float32 rounding of the loss (~6e-8) stays ~1e-4 of the gradients.
const EPS = 1e-3;

describe.each([
  ['MLP 4 → 6 → tanh → 5 → relu → 3', { inputShape: [4], layers: [{ type: 'dense', units: 6 }, { type: 'tanh' }, { type: 'dense', units: 5 }, { type: 'relu' }, { type: 'dense', units: 3 }] }, [4]],
  ['CNN 1×6×6 → conv 2@3×3 → relu → maxpool 2 → dense 3', {
    inputShape: [1, 6, 6],
    layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'relu' }, { type: 'maxpool2d', poolSize: 2 }, { type: 'flatten' }, { type: 'dense', units: 3 }],
  }, [1, 6, 6]],
])('whole-loss gradient check: %s', (_title, specIn, shape) => {
  it('matches central differences of CE + L1 + L2 for every parameter (biases unregularized)', () => {
    const spec = LayersModelSpecSchema.parse({ ...specIn, weightInit: 0.5 });
    const rng = new Rng(5);
    const model = buildModel(spec, rng);
    const params = model.params();
    // |w| is not differentiable at 0: move every regularized weight at least 2ε away from it, so that a
    // central difference never straddles the kink (sign kept).
    for (const { param } of params) {
      if (!param.regularize) continue;
      for (let i = 0; i < param.value.length; i++) {
        const w = param.value[i]!;
        if (Math.abs(w) < 2 * EPS) param.value[i] = (w < 0 ? -1 : 1) * (2 * EPS + 0.01);
      }
    }
    // Non-zero biases so that a wrongly regularized bias would show.
    for (const { param } of params) if (!param.regularize) param.value.set(randn(param.value.length, rng, 0.3));
    const batch = 4;
    const size = shape.reduce((a, b) => a * b, 1);
    const x = randn(batch * size, rng);
    const labels = [0, 2, 1, 2];
    const reg = new L1L2({ l1: 0.03, l2: 0.2 });
    const plain = params.map((p) => p.param);
    const dlogits = new Float32Array(batch * 3);

    const loss = (): number => softmaxCrossEntropy(model.forward(x, batch, 'train'), labels, batch, 3).loss + reg.penalty(plain);
    softmaxCrossEntropy(model.forward(x, batch, 'train'), labels, batch, 3, dlogits);
    model.backward(dlogits, batch);
    reg.addGradients(plain);

    const results = checkGradients(loss, params.map(({ layerIndex, param }) => ({ name: `${layerIndex}.${param.name}`, value: param.value, grad: param.grad })), { eps: EPS });
    for (const r of results) expect(r.error, `${r.name}: normalised max error ${r.error}`).toBeLessThan(2e-3);
    // The regularization term is large enough to matter: without it the weights' check would fail.
    const w0 = params[0]!.param;
    const before = Float32Array.from(w0.grad);
    reg.addGradients([{ ...w0, grad: before }]);
    const shifted = checkGradients(loss, [{ name: 'doubled-reg', value: w0.value, grad: before }], { eps: EPS });
    expect(shifted[0]!.error).toBeGreaterThan(5e-2);
  });
});
