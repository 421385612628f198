import { addRowBias, sumRows } from '../kernels/elementwise.ts';
import type { KernelBackend } from '../kernels/backend.ts';
import type { DenseSpec } from '../spec/layer-spec.ts';
import {
  checkBatch, ctxBackend, fillNormal, GrowBuffer, initStd, kernel, type LayerContext, type LayerInfo, makeParam, sizeOf,
} from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';

/**
 * Fully connected layer (the course's Affine, B5). Any per-sample input shape is flattened in C,H,W order to
 * fanIn = ∏ inputShape features.
 * - forward: x (N, fanIn) → y (N, units) = x·W + b, W (fanIn, units), b (units).
 * - backward: dW = xᵀ·dout, db = Σ_n dout, dx = dout·Wᵀ (all batch means already, the loss divides by N).
 * Init: W ~ std·N(0,1) with std from `weightInit` (fanIn as above), b = `biasInit`.
 */
export class Dense implements Layer {
  readonly type = 'dense' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** `weight` (fanIn, units), regularized. */
  readonly weight: Param;
  /** `bias` (units), not regularized; null when `useBias` is false. */
  readonly bias: Param | null;
  /**
   * When false, `backward` skips dx (the first layer of a model: nobody needs ∂L/∂input) and returns
   * an unspecified buffer.
   */
  computeInputGrad = true;
  private readonly spec: DenseSpec;
  private readonly be: KernelBackend;
  private readonly fanIn: number;
  private readonly units: number;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private x: Float32Array | null = null;
  private readonly addBias: typeof addRowBias;
  private readonly sumBias: typeof sumRows;

  /** Output shape `[units]`; params `weight` [fanIn, units] and `bias` [units]. */
  static describe(spec: DenseSpec, inputShape: Shape): LayerInfo {
    const fanIn = sizeOf(inputShape);
    const params = [{ name: 'weight', shape: [fanIn, spec.units] }];
    if (spec.useBias) params.push({ name: 'bias', shape: [spec.units] });
    return { outputShape: [spec.units], params, buffers: [] };
  }

  constructor(spec: DenseSpec, inputShape: Shape, ctx: LayerContext) {
    this.spec = { ...spec };
    this.be = ctxBackend(ctx);
    this.inputShape = [...inputShape];
    this.fanIn = sizeOf(inputShape);
    this.units = spec.units;
    this.outputShape = [spec.units];
    this.weight = makeParam(this.be, 'weight', [this.fanIn, this.units], true);
    fillNormal(this.weight.value, initStd(spec.weightInit ?? ctx.weightInit, this.fanIn), ctx.rng);
    this.bias = spec.useBias ? makeParam(this.be, 'bias', [this.units], false) : null;
    if (this.bias) this.bias.value.fill(spec.biasInit);
    this.out = new GrowBuffer(this.be);
    this.dx = new GrowBuffer(this.be);
    this.addBias = kernel(this.be, 'addRowBias', addRowBias);
    this.sumBias = kernel(this.be, 'sumRows', sumRows);
  }

  /** x (N, fanIn) → y (N, units). Caches x (by reference) for backward. */
  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    checkBatch('dense.forward', x, batch, this.fanIn);
    const y = this.out.get(batch * this.units);
    this.be.gemm(false, false, batch, this.units, this.fanIn, x, this.weight.value, y, 0);
    if (this.bias) this.addBias(y, this.bias.value, batch, this.units);
    this.x = x;
    return y;
  }

  /** dout (N, units) → dx (N, fanIn); writes weight.grad and bias.grad. */
  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.x === null) throw new Error('dense.backward before forward');
    checkBatch('dense.backward', dout, batch, this.units);
    this.be.gemm(true, false, this.fanIn, this.units, batch, this.x, dout, this.weight.grad, 0);
    if (this.bias) this.sumBias(dout, batch, this.units, this.bias.grad);
    const dx = this.dx.get(batch * this.fanIn);
    if (this.computeInputGrad) this.be.gemm(false, true, batch, this.fanIn, this.units, dout, this.weight.value, dx, 0);
    return dx;
  }

  params(): readonly Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): DenseSpec {
    return { ...this.spec };
  }
}
