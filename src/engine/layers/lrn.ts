import type { KernelBackend } from '../kernels/backend.ts';
import { lrnBackward, lrnForward } from '../kernels/elementwise.ts';
import type { LrnSpec } from '../spec/layer-spec.ts';
import { checkBatch, ctxBackend, fmtShape, GrowBuffer, type LayerContext, type LayerInfo, ShapeProblem } from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';

/**
 * Local response normalisation across channels, the AlexNet paper's form (COURSE.md A11), x (N, C, H, W):
 * b_i = a_i / (k + α·Σ_{j=max(0,i−⌊n/2⌋)}^{min(C−1,i+⌊n/2⌋)} a_j²)^β with n = `size`.
 * α is NOT divided by n (Caffe's and PyTorch's LocalResponseNorm divide it: their α = paper α·n).
 * Backward: da_j = db_j·s_j^(−β) − 2αβ·a_j·Σ_{i∈window(j)} db_i·a_i·s_i^(−β−1), s_i = k + α·Σ a².
 * @see https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks.pdf
 */
export class LRN implements Layer {
  readonly type = 'lrn' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  private readonly spec: LrnSpec;
  private readonly C: number;
  private readonly P: number;
  private readonly scaleBuf: GrowBuffer;
  private readonly powBuf: GrowBuffer;
  private readonly tmp: GrowBuffer;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private x: Float32Array | null = null;
  /** The backend's LRN kernels (WebAssembly SIMD, threads) when it has them, else elementwise.ts's. */
  private readonly fwd: typeof lrnForward;
  private readonly bwd: typeof lrnBackward;

  /** Output = input shape `[C, H, W]`; no params. */
  static describe(_spec: LrnSpec, inputShape: Shape): LayerInfo {
    if (inputShape.length !== 3) throw new ShapeProblem(`lrn needs a [channels, height, width] input, got ${fmtShape(inputShape)}`);
    return { outputShape: [...inputShape], params: [], buffers: [] };
  }

  constructor(spec: LrnSpec, inputShape: Shape, ctx: LayerContext) {
    LRN.describe(spec, inputShape);
    const be: KernelBackend = ctxBackend(ctx);
    this.spec = { ...spec };
    this.inputShape = [...inputShape];
    this.outputShape = [...inputShape];
    this.C = inputShape[0];
    this.P = inputShape[1] * inputShape[2];
    this.scaleBuf = new GrowBuffer(be);
    this.powBuf = new GrowBuffer(be);
    this.tmp = new GrowBuffer(be);
    this.out = new GrowBuffer(be);
    this.dx = new GrowBuffer(be);
    // Resolved once here (not per batch): `bind` allocates.
    this.fwd = be.lrnForward ? be.lrnForward.bind(be) : lrnForward;
    this.bwd = be.lrnBackward ? be.lrnBackward.bind(be) : lrnBackward;
  }

  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    const { C, P } = this;
    checkBatch('lrn.forward', x, batch, C * P);
    const n = batch * C * P;
    const y = this.out.get(n);
    const { size, alpha, beta, k } = this.spec;
    this.fwd(x, batch, C, P, size, alpha, beta, k, this.scaleBuf.get(n), this.powBuf.get(n), y);
    this.x = x;
    return y;
  }

  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.x === null) throw new Error('lrn.backward before forward');
    const { C, P } = this;
    checkBatch('lrn.backward', dout, batch, C * P);
    const n = batch * C * P;
    const dx = this.dx.get(n);
    const { size, alpha, beta } = this.spec;
    this.bwd(this.x, dout, this.scaleBuf.get(n), this.powBuf.get(n), batch, C, P, size, alpha, beta, this.tmp.get(n), dx);
    return dx;
  }

  params(): readonly Param[] {
    return [];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): LrnSpec {
    return { ...this.spec };
  }
}
