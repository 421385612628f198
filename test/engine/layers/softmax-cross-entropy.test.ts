// The loss sits with the layer tests: it is the network's last "layer" (SoftmaxWithLoss in the course).
import { describe, expect, it } from 'vitest';
import { softmax, softmaxCrossEntropy } from '../../../src/engine/losses/softmax-cross-entropy.ts';
import { Rng } from '../../../src/engine/random.ts';
import { checkGradients, randn } from '../../helpers/gradcheck.ts';

describe('softmaxCrossEntropy', () => {
  it('gives −(1/N)Σ log(p[n,t]+1e-7), the correct count and (p − onehot)/N', () => {
    const logits = Float32Array.of(1, 2, 3, 0, 0, 0);
    const labels = [2, 1];
    const d = new Float32Array(6);
    const { loss, correct } = softmaxCrossEntropy(logits, labels, 2, 3, d);
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    const p0 = [Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z];
    expect(loss).toBeCloseTo(-(Math.log(p0[2] + 1e-7) + Math.log(1 / 3 + 1e-7)) / 2, 10);
    expect(correct).toBe(1); // row 1 ties go to class 0, label 1
    const want = [p0[0] / 2, p0[1] / 2, (p0[2] - 1) / 2, 1 / 6, 1 / 6 - 1 / 2, 1 / 6];
    for (let i = 0; i < 6; i++) expect(d[i]).toBeCloseTo(want[i], 6);
  });

  it('is stable for huge logits (row max subtracted)', () => {
    const { loss } = softmaxCrossEntropy(Float32Array.of(1000, 0, -1000), [0], 1, 3);
    expect(loss).toBeCloseTo(-Math.log(1 + 1e-7), 10);
    const p = new Float32Array(3);
    softmax(Float32Array.of(1000, 1000, -1000), 1, 3, p);
    expect(Array.from(p)).toEqual([0.5, 0.5, 0]);
  });

  it('dlogits matches central differences of the loss', () => {
    const logits = randn(4 * 5, new Rng(2), 2);
    const labels = [0, 3, 4, 1];
    const d = new Float32Array(20);
    softmaxCrossEntropy(logits, labels, 4, 5, d);
    const [r] = checkGradients(() => softmaxCrossEntropy(logits, labels, 4, 5).loss, [{ name: 'logits', value: logits, grad: d }]);
    expect(r.error).toBeLessThan(1e-3);
  });

  it('rejects labels outside [0, classes)', () => {
    expect(() => softmaxCrossEntropy(new Float32Array(3), [3], 1, 3)).toThrow(/label 3/);
  });
});
