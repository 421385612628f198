import type { ConvGeometry, KernelBackend } from '../kernels/backend.ts';
import { avgPoolBackward, avgPoolForward } from '../kernels/pool.ts';
import type { AvgPool2dSpec } from '../spec/layer-spec.ts';
import { checkBatch, ctxBackend, GrowBuffer, type LayerContext, type LayerInfo } from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';
import { poolGeometry } from './pool2d.ts';

/**
 * Average pooling over each channel: x (N, C, H, W) → y (N, C, OH, OW), y = Σ_window x / (KH·KW).
 * Padding counts as zeros in the average (count_include_pad, PyTorch's default). Backward spreads
 * dout/(KH·KW) over each window; overlapping windows sum.
 */
export class AvgPool2d implements Layer {
  readonly type = 'avgpool2d' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  private readonly spec: AvgPool2dSpec;
  private readonly g1: ConvGeometry;
  /** g1 with N = the last batch size (cached so a fixed batch size allocates nothing). */
  private gN: ConvGeometry;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;

  /** Output `[C, OH, OW]`; no params. Throws ShapeProblem. */
  static describe(spec: AvgPool2dSpec, inputShape: Shape): LayerInfo {
    const g = poolGeometry(spec, inputShape);
    return { outputShape: [g.C, g.OH, g.OW], params: [], buffers: [] };
  }

  constructor(spec: AvgPool2dSpec, inputShape: Shape, ctx: LayerContext) {
    const be: KernelBackend = ctxBackend(ctx);
    this.spec = { ...spec };
    this.g1 = poolGeometry(spec, inputShape);
    this.gN = this.g1;
    this.inputShape = [...inputShape];
    this.outputShape = [this.g1.C, this.g1.OH, this.g1.OW];
    this.out = new GrowBuffer(be);
    this.dx = new GrowBuffer(be);
  }

  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    const { C, H, W, OH, OW } = this.g1;
    checkBatch('avgpool2d.forward', x, batch, C * H * W);
    const y = this.out.get(batch * C * OH * OW);
    avgPoolForward(x, this.geometry(batch), y);
    return y;
  }

  backward(dout: Float32Array, batch: number): Float32Array {
    const { C, H, W, OH, OW } = this.g1;
    checkBatch('avgpool2d.backward', dout, batch, C * OH * OW);
    const dx = this.dx.get(batch * C * H * W);
    avgPoolBackward(dout, this.geometry(batch), dx);
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

  toSpec(): AvgPool2dSpec {
    return { ...this.spec };
  }
}
