import { type ConvGeometry, convGeometry, type KernelBackend } from '../kernels/backend.ts';
import { addChannelBias, sumChannels } from '../kernels/elementwise.ts';
import type { Conv2dSpec } from '../spec/layer-spec.ts';
import {
  checkBatch, ctxBackend, fillNormal, fmtShape, GrowBuffer, initStd, kernel, type LayerContext, type LayerInfo, makeParam,
  pair, ShapeProblem, sizeOf, Views,
} from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';

/**
 * 2-D cross-correlation (the kernel is not flipped) over x (N, C, H, W) with F = `filters` kernels
 * W (F, C/G, KH, KW) in G = `groups` groups (filters f of group g see channels g·C/G … (g+1)·C/G − 1,
 * as AlexNet's two GPUs), plus bias b (F).
 * OH = ⌊(H + 2·PH − KH)/SH⌋ + 1, OW likewise; y (N, F, OH, OW).
 *
 * Per sample n and group g (P = OH·OW, Kg = C/G·KH·KW, Fg = F/G):
 * - forward: col_ng = im2col(x[n, group g]) (P, Kg); y[n, group g] (Fg, P) = W_g (Fg, Kg) · col_ngᵀ, + b.
 * - backward: dW_g = Σ_n dout_ng (Fg, P) · col_ng; db = Σ_{n,p} dout; dcol_ng = dout_ngᵀ · W_g (P, Kg);
 *   dx[n, group g] = col2im(dcol_ng).
 * Working per sample writes y directly in NCHW order (no transpose pass); col for the whole batch is kept
 * for the dW of backward. When the backend has `conv2dForward` and `conv2dBackward` (the native addon),
 * the whole batch goes through them instead: they split images over threads, which the per-image GEMMs
 * (too small to split) cannot, and keep no col: backward rebuilds it from x, kept by reference as Dense
 * keeps its input (writing and re-reading deep's 45 MB col per batch cost more than rebuilding it).
 * Init: W ~ std·N(0,1), fanIn = C/G·KH·KW; b = `biasInit`.
 */
export class Conv2d implements Layer {
  readonly type = 'conv2d' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** `weight` (F, C/G, KH, KW), regularized. */
  readonly weight: Param;
  /** `bias` (F), not regularized; null when `useBias` is false. */
  readonly bias: Param | null;
  /** When false, `backward` skips dx (first layer of a model) and returns an unspecified buffer. */
  computeInputGrad = true;
  private readonly spec: Conv2dSpec;
  private readonly be: KernelBackend;
  /** Geometry of one sample and one group (N = 1, C = C/G). */
  private readonly g1: ConvGeometry;
  private gN: ConvGeometry;
  /** Geometry of the whole batch with all C channels (for the backend's batch kernels), cached per N. */
  private gAll: ConvGeometry;
  /** The backend's whole-batch kernels, when it has both. */
  private readonly batchFwd: NonNullable<KernelBackend['conv2dForward']> | null;
  private readonly batchBwd: NonNullable<KernelBackend['conv2dBackward']> | null;
  private readonly C: number;
  private readonly F: number;
  private readonly G: number;
  private readonly col: GrowBuffer;
  private readonly dcol: GrowBuffer;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private batch = 0;
  /** The forward's input on the batch-kernel path (by reference: the caller leaves it unchanged until backward). */
  private x: Float32Array | null = null;
  private readonly addBias: typeof addChannelBias;
  private readonly sumBias: typeof sumChannels;
  // Per-(sample, group) views: x, col, y, dout, dx blocks and per-group W, dW (see Views).
  private readonly xV = new Views();
  private readonly colV = new Views();
  private readonly yV = new Views();
  private readonly doutV = new Views();
  private readonly dxV = new Views();
  private readonly wV = new Views();
  private readonly dwV = new Views();

  /** Output `[F, OH, OW]`; params `weight` [F, C/G, KH, KW] and `bias` [F]. Throws ShapeProblem. */
  static describe(spec: Conv2dSpec, inputShape: Shape): LayerInfo {
    if (inputShape.length !== 3) {
      throw new ShapeProblem(`conv2d needs a [channels, height, width] input, got ${fmtShape(inputShape)}`);
    }
    const [C, H, W] = inputShape as [number, number, number];
    const [KH, KW] = pair(spec.kernelSize);
    const [SH, SW] = pair(spec.stride);
    const [PH, PW] = pair(spec.padding);
    const G = spec.groups;
    if (C % G !== 0) throw new ShapeProblem(`groups ${G} does not divide the ${C} input channels`, 'groups');
    if (spec.filters % G !== 0) throw new ShapeProblem(`groups ${G} does not divide the ${spec.filters} filters`, 'groups');
    if (KH > H + 2 * PH || KW > W + 2 * PW) {
      throw new ShapeProblem(`kernel ${KH}×${KW} is larger than the padded input ${H + 2 * PH}×${W + 2 * PW}`, 'kernelSize');
    }
    const OH = Math.floor((H + 2 * PH - KH) / SH) + 1;
    const OW = Math.floor((W + 2 * PW - KW) / SW) + 1;
    const params = [{ name: 'weight', shape: [spec.filters, C / G, KH, KW] }];
    if (spec.useBias) params.push({ name: 'bias', shape: [spec.filters] });
    return { outputShape: [spec.filters, OH, OW], params, buffers: [] };
  }

  constructor(spec: Conv2dSpec, inputShape: Shape, ctx: LayerContext) {
    const info = Conv2d.describe(spec, inputShape);
    this.spec = { ...spec };
    this.be = ctxBackend(ctx);
    this.inputShape = [...inputShape];
    this.outputShape = info.outputShape;
    const [C, H, W] = inputShape as [number, number, number];
    const [KH, KW] = pair(spec.kernelSize);
    const [SH, SW] = pair(spec.stride);
    const [PH, PW] = pair(spec.padding);
    this.C = C;
    this.F = spec.filters;
    this.G = spec.groups;
    this.g1 = convGeometry(1, C / this.G, H, W, KH, KW, SH, SW, PH, PW);
    this.gN = this.g1;
    this.gAll = convGeometry(1, C, H, W, KH, KW, SH, SW, PH, PW);
    const bf = this.be.conv2dForward;
    const bb = this.be.conv2dBackward;
    this.batchFwd = bf && bb ? bf.bind(this.be) : null;
    this.batchBwd = bf && bb ? bb.bind(this.be) : null;
    const wShape = info.params[0].shape;
    this.weight = makeParam(this.be, 'weight', wShape, true);
    fillNormal(this.weight.value, initStd(spec.weightInit ?? ctx.weightInit, sizeOf(wShape.slice(1))), ctx.rng);
    this.bias = spec.useBias ? makeParam(this.be, 'bias', [this.F], false) : null;
    if (this.bias) this.bias.value.fill(spec.biasInit);
    this.col = new GrowBuffer(this.be);
    this.dcol = new GrowBuffer(this.be);
    this.out = new GrowBuffer(this.be);
    this.dx = new GrowBuffer(this.be);
    this.addBias = kernel(this.be, 'addChannelBias', addChannelBias);
    this.sumBias = kernel(this.be, 'sumChannels', sumChannels);
  }

  /** x (N, C, H, W) → y (N, F, OH, OW). Keeps the batch's im2col matrices for backward (batch kernels: x itself). */
  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    const { H, W, KH, KW, OH, OW } = this.g1;
    const inSize = this.C * H * W;
    checkBatch('conv2d.forward', x, batch, inSize);
    const P = OH * OW;
    const Cg = this.C / this.G;
    const Fg = this.F / this.G;
    const Kg = Cg * KH * KW;
    const y = this.out.get(batch * this.F * P);
    if (this.batchFwd) {
      this.batchFwd(x, this.weight.value, this.bias ? this.bias.value : null, this.allGeometry(batch), this.F, this.G, y);
      this.x = x;
      this.batch = batch;
      return y;
    }
    const col = this.col.get(batch * this.G * P * Kg);
    // Block b = n·G + g: x[n, group g] (Cg·H·W), col_ng (P·Kg), y[n, group g] (Fg·P) are consecutive blocks.
    const B = batch * this.G;
    const cols = this.colV.of(col, B, P * Kg);
    const ys = this.yV.of(y, B, Fg * P);
    const ws = this.wV.of(this.weight.value, this.G, Fg * Kg);
    // NOTE: with one group, im2col of the whole batch has exactly the per-sample blocks' layout (rows by
    // image first), and one call lets a threaded backend split it over images.
    if (this.G === 1) this.be.im2col(x, this.geometry(batch), col);
    else {
      const xs = this.xV.of(x, B, Cg * H * W);
      for (let b = 0; b < B; b++) this.be.im2col(xs[b], this.g1, cols[b]);
    }
    for (let b = 0; b < B; b++) {
      this.be.gemm(false, true, Fg, P, Kg, ws[b % this.G], cols[b], ys[b], 0);
    }
    if (this.bias) this.addBias(y, this.bias.value, batch, this.F, P);
    this.batch = batch;
    return y;
  }

  /** dout (N, F, OH, OW) → dx (N, C, H, W); writes weight.grad and bias.grad. */
  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.batch !== batch) throw new Error(`conv2d.backward: batch ${batch} differs from the forward batch ${this.batch}`);
    const { H, W, KH, KW, OH, OW } = this.g1;
    const P = OH * OW;
    checkBatch('conv2d.backward', dout, batch, this.F * P);
    const Cg = this.C / this.G;
    const Fg = this.F / this.G;
    const Kg = Cg * KH * KW;
    const inSize = this.C * H * W;
    const dx = this.dx.get(batch * inSize);
    if (this.batchBwd && this.x) {
      this.batchBwd(this.x, dout, this.weight.value, this.allGeometry(batch), this.F, this.G, this.weight.grad,
        this.bias ? this.bias.grad : null, this.computeInputGrad ? dx : null);
      return dx;
    }
    const col = this.col.get(batch * this.G * P * Kg);
    const dcol = this.dcol.get(P * Kg);
    if (this.bias) this.sumBias(dout, batch, this.F, P, this.bias.grad);
    const B = batch * this.G;
    const cols = this.colV.of(col, B, P * Kg);
    const douts = this.doutV.of(dout, B, Fg * P);
    const dxs = this.dxV.of(dx, B, Cg * H * W);
    const ws = this.wV.of(this.weight.value, this.G, Fg * Kg);
    const dws = this.dwV.of(this.weight.grad, this.G, Fg * Kg);
    for (let b = 0; b < B; b++) {
      const gi = b % this.G;
      // dW_g = Σ_n dout_ng · col_ng: the first sample overwrites, the others accumulate (beta 1).
      this.be.gemm(false, false, Fg, Kg, P, douts[b], cols[b], dws[gi], b < this.G ? 0 : 1);
      if (this.computeInputGrad) {
        this.be.gemm(true, false, P, Kg, Fg, douts[b], ws[gi], dcol, 0);
        this.be.col2im(dcol, this.g1, dxs[b]);
      }
    }
    return dx;
  }

  /** g1 for the whole batch (one group only), cached so that a fixed batch size allocates nothing. */
  private geometry(batch: number): ConvGeometry {
    if (this.gN.N !== batch) this.gN = { ...this.g1, N: batch };
    return this.gN;
  }

  /** The whole batch with all C channels (for conv2dForward/Backward), cached like `geometry`. */
  private allGeometry(batch: number): ConvGeometry {
    if (this.gAll.N !== batch) this.gAll = { ...this.gAll, N: batch };
    return this.gAll;
  }

  params(): readonly Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): Conv2dSpec {
    return { ...this.spec };
  }
}
