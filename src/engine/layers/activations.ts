import type { KernelBackend } from '../kernels/backend.ts';
import {
  reluBackward, reluForward, sigmoidBackward, sigmoidForward, tanhBackward, tanhForward,
} from '../kernels/elementwise.ts';
import type { LayerSpec } from '../spec/layer-spec.ts';
import { checkBatch, ctxBackend, GrowBuffer, kernel, type LayerContext, type LayerInfo, sizeOf } from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';

type Kernel = (a: Float32Array, b: Float32Array, n: number) => void;
type BackKernel = (y: Float32Array, dout: Float32Array, dx: Float32Array, n: number) => void;

/**
 * Shared body of the elementwise activations: y = f(x) into the layer's own buffer (never in place: the
 * previous layer may still need its output), backward from the cached output y.
 */
abstract class Activation implements Layer {
  abstract readonly type: 'relu' | 'sigmoid' | 'tanh';
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  private readonly size: number;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private y: Float32Array | null = null;

  /** Any input shape; output shape = input shape; no params. */
  static describe(_spec: LayerSpec, inputShape: Shape): LayerInfo {
    return { outputShape: [...inputShape], params: [], buffers: [] };
  }

  constructor(inputShape: Shape, ctx: LayerContext, private readonly fwd: Kernel, private readonly bwd: BackKernel) {
    const be: KernelBackend = ctxBackend(ctx);
    this.inputShape = [...inputShape];
    this.outputShape = [...inputShape];
    this.size = sizeOf(inputShape);
    this.out = new GrowBuffer(be);
    this.dx = new GrowBuffer(be);
  }

  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    checkBatch(`${this.type}.forward`, x, batch, this.size);
    const n = batch * this.size;
    const y = this.out.get(n);
    this.fwd(x, y, n);
    this.y = y;
    return y;
  }

  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.y === null) throw new Error(`${this.type}.backward before forward`);
    checkBatch(`${this.type}.backward`, dout, batch, this.size);
    const n = batch * this.size;
    const dx = this.dx.get(n);
    this.bwd(this.y, dout, dx, n);
    return dx;
  }

  params(): readonly Param[] {
    return [];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): LayerSpec {
    return { type: this.type };
  }
}

/** ReLU: y = max(0, x); the course's mask is x ≤ 0, so dx = dout where x > 0 and 0 elsewhere (0 at x = 0). */
export class ReLU extends Activation {
  readonly type = 'relu' as const;
  constructor(inputShape: Shape, ctx: LayerContext) {
    const be = ctxBackend(ctx);
    super(inputShape, ctx, kernel(be, 'reluForward', reluForward), kernel(be, 'reluBackward', reluBackward));
  }
}

/** Sigmoid: y = 1/(1 + e^(−x)); dx = dout·y·(1 − y). */
export class Sigmoid extends Activation {
  readonly type = 'sigmoid' as const;
  constructor(inputShape: Shape, ctx: LayerContext) {
    super(inputShape, ctx, sigmoidForward, sigmoidBackward);
  }
}

/** Tanh: y = tanh(x); dx = dout·(1 − y²). */
export class Tanh extends Activation {
  readonly type = 'tanh' as const;
  constructor(inputShape: Shape, ctx: LayerContext) {
    super(inputShape, ctx, tanhForward, tanhBackward);
  }
}
