import type { ConvGeometry, KernelBackend } from '../kernels/backend.ts';
import { maxPoolBackward, maxPoolForward } from '../kernels/pool.ts';
import type { MaxPool2dSpec } from '../spec/layer-spec.ts';
import { checkBatch, ctxBackend, GrowBuffer, GrowIndexBuffer, kernel, type LayerContext, type LayerInfo } from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';
import { poolGeometry } from './pool2d.ts';

/**
 * Max pooling over each channel: x (N, C, H, W) → y (N, C, OH, OW), window `poolSize`, stride (default
 * `poolSize`), padding with −∞. Ties go to the first position in row-major window order (the course's
 * argmax). Backward sends each dout to its window's argmax; overlapping windows (AlexNet's 3×3 stride 2)
 * sum there.
 */
export class MaxPool2d implements Layer {
  readonly type = 'maxpool2d' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  private readonly spec: MaxPool2dSpec;
  private readonly g1: ConvGeometry;
  /** g1 with N = the last batch size (cached so a fixed batch size allocates nothing). */
  private gN: ConvGeometry;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private readonly argmax: GrowIndexBuffer;
  private readonly fwd: typeof maxPoolForward;
  private readonly bwd: typeof maxPoolBackward;
  private batch = 0;

  /** Output `[C, OH, OW]`; no params. Throws ShapeProblem. */
  static describe(spec: MaxPool2dSpec, inputShape: Shape): LayerInfo {
    const g = poolGeometry(spec, inputShape);
    return { outputShape: [g.C, g.OH, g.OW], params: [], buffers: [] };
  }

  constructor(spec: MaxPool2dSpec, inputShape: Shape, ctx: LayerContext) {
    const be: KernelBackend = ctxBackend(ctx);
    this.spec = { ...spec };
    this.g1 = poolGeometry(spec, inputShape);
    this.gN = this.g1;
    this.inputShape = [...inputShape];
    this.outputShape = [this.g1.C, this.g1.OH, this.g1.OW];
    this.out = new GrowBuffer(be);
    this.dx = new GrowBuffer(be);
    this.argmax = new GrowIndexBuffer(be);
    this.fwd = kernel(be, 'maxPoolForward', maxPoolForward);
    this.bwd = kernel(be, 'maxPoolBackward', maxPoolBackward);
  }

  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    const { C, H, W, OH, OW } = this.g1;
    checkBatch('maxpool2d.forward', x, batch, C * H * W);
    const n = batch * C * OH * OW;
    const y = this.out.get(n);
    this.fwd(x, this.geometry(batch), y, this.argmax.get(n));
    this.batch = batch;
    return y;
  }

  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.batch !== batch) throw new Error(`maxpool2d.backward: batch ${batch} differs from the forward batch ${this.batch}`);
    const { C, H, W, OH, OW } = this.g1;
    const n = batch * C * OH * OW;
    checkBatch('maxpool2d.backward', dout, batch, C * OH * OW);
    const dx = this.dx.get(batch * C * H * W);
    this.bwd(dout, this.argmax.get(n), n, batch * C * H * W, dx, batch * C);
    return dx;
  }

  private geometry(batch: number): ConvGeometry {
    if (this.gN.N !== batch) this.gN = { ...this.g1, N: batch };
    return this.gN;
  }

  params(): readonly Param[] {
    return [];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): MaxPool2dSpec {
    return { ...this.spec };
  }
}
