import type { KernelBackend } from '../kernels/backend.ts';
import { batchNormBackward, batchNormEvalForward, batchNormTrainForward } from '../kernels/elementwise.ts';
import type { BatchNormSpec } from '../spec/layer-spec.ts';
import {
  checkBatch, ctxBackend, fmtShape, GrowBuffer, type LayerContext, type LayerInfo, makeBuffer, makeParam, ShapeProblem,
} from './common.ts';
import type { Buffer, Layer, Mode, Param, Shape } from './layer.ts';

/**
 * Batch normalisation (Ioffe & Szegedy 2015) per feature after a `[features]` input and per channel after a
 * `[C, H, W]` input (PyTorch BatchNorm1d/2d; the course's layer normalises each of C·H·W features instead).
 * - train: μ, σ² = mean and biased variance over the batch (and H, W); x̂ = (x − μ)/√(σ² + ε); y = γ·x̂ + β;
 *   running ← momentum·running + (1 − momentum)·batch statistic (the course's convention; the biased σ²
 *   as in the course, where PyTorch stores the unbiased one).
 * - eval: the same with the running statistics.
 * Params `gamma` (init 1) and `beta` (init 0), not regularized; buffers `runningMean` (init 0) and
 * `runningVar` (init 1, as PyTorch; the course starts it at 0, which makes early eval outputs blow up).
 * Backward (train statistics): dβ = Σ dout, dγ = Σ dout·x̂, dx = γ/(M·√(σ²+ε))·(M·dout − dβ − x̂·dγ).
 * @see https://arxiv.org/abs/1502.03167
 */
export class BatchNorm implements Layer {
  readonly type = 'batchnorm' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  readonly gamma: Param;
  readonly beta: Param;
  readonly runningMean: Buffer;
  readonly runningVar: Buffer;
  private readonly spec: BatchNormSpec;
  /** Normalised groups (features or channels) and positions per group per sample. */
  private readonly C: number;
  private readonly P: number;
  private readonly mean: Float32Array;
  private readonly variance: Float32Array;
  private readonly invStd: Float32Array;
  private readonly xhat: GrowBuffer;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private lastMode: Mode | null = null;

  /** Output = input shape; params gamma, beta and buffers runningMean, runningVar of [features or C]. */
  static describe(_spec: BatchNormSpec, inputShape: Shape): LayerInfo {
    if (inputShape.length !== 1 && inputShape.length !== 3) {
      throw new ShapeProblem(`batchnorm needs a [features] or [channels, height, width] input, got ${fmtShape(inputShape)}`);
    }
    const c = [inputShape[0]];
    return {
      outputShape: [...inputShape],
      params: [{ name: 'gamma', shape: c }, { name: 'beta', shape: c }],
      buffers: [{ name: 'runningMean', shape: c }, { name: 'runningVar', shape: c }],
    };
  }

  constructor(spec: BatchNormSpec, inputShape: Shape, ctx: LayerContext) {
    BatchNorm.describe(spec, inputShape);
    const be: KernelBackend = ctxBackend(ctx);
    this.spec = { ...spec };
    this.inputShape = [...inputShape];
    this.outputShape = [...inputShape];
    this.C = inputShape[0];
    this.P = inputShape.length === 3 ? inputShape[1] * inputShape[2] : 1;
    this.gamma = makeParam(be, 'gamma', [this.C], false);
    this.gamma.value.fill(1);
    this.beta = makeParam(be, 'beta', [this.C], false);
    this.runningMean = makeBuffer(be, 'runningMean', [this.C], 0);
    this.runningVar = makeBuffer(be, 'runningVar', [this.C], 1);
    this.mean = be.alloc(this.C);
    this.variance = be.alloc(this.C);
    this.invStd = be.alloc(this.C);
    this.xhat = new GrowBuffer(be);
    this.out = new GrowBuffer(be);
    this.dx = new GrowBuffer(be);
  }

  forward(x: Float32Array, batch: number, mode: Mode): Float32Array {
    const { C, P } = this;
    checkBatch('batchnorm.forward', x, batch, C * P);
    const n = batch * C * P;
    const y = this.out.get(n);
    this.lastMode = mode;
    if (mode === 'eval') {
      batchNormEvalForward(x, batch, C, P, this.gamma.value, this.beta.value, this.runningMean.value, this.runningVar.value, this.spec.epsilon, y);
      return y;
    }
    batchNormTrainForward(x, batch, C, P, this.gamma.value, this.beta.value, this.spec.epsilon, this.mean, this.variance, this.invStd, this.xhat.get(n), y);
    const m = this.spec.momentum;
    const rm = this.runningMean.value;
    const rv = this.runningVar.value;
    for (let c = 0; c < C; c++) {
      rm[c] = m * rm[c] + (1 - m) * this.mean[c];
      rv[c] = m * rv[c] + (1 - m) * this.variance[c];
    }
    return y;
  }

  /** Backward of the last train-mode forward (batch statistics); throws after an eval forward. */
  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.lastMode !== 'train') throw new Error('batchnorm.backward needs a train-mode forward first');
    const { C, P } = this;
    checkBatch('batchnorm.backward', dout, batch, C * P);
    const n = batch * C * P;
    const dx = this.dx.get(n);
    batchNormBackward(dout, this.xhat.get(n), this.invStd, this.gamma.value, batch, C, P, dx, this.gamma.grad, this.beta.grad);
    return dx;
  }

  params(): readonly Param[] {
    return [this.gamma, this.beta];
  }

  buffers(): readonly Buffer[] {
    return [this.runningMean, this.runningVar];
  }

  toSpec(): BatchNormSpec {
    return { ...this.spec };
  }
}
