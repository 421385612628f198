import type { LayerSpec } from '../spec/layer-spec.ts';
import { checkBatch, type LayerInfo, sizeOf } from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';

/**
 * Flatten (C, H, W) → (C·H·W) in row-major C,H,W order. NCHW storage already is that order, so forward
 * and backward return their argument unchanged (no copy).
 */
export class Flatten implements Layer {
  readonly type = 'flatten' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;

  /** Output `[∏ inputShape]`; no params. */
  static describe(_spec: LayerSpec, inputShape: Shape): LayerInfo {
    return { outputShape: [sizeOf(inputShape)], params: [], buffers: [] };
  }

  constructor(inputShape: Shape) {
    this.inputShape = [...inputShape];
    this.outputShape = [sizeOf(inputShape)];
  }

  forward(x: Float32Array, batch: number, _mode: Mode): Float32Array {
    checkBatch('flatten.forward', x, batch, this.outputShape[0]);
    return x;
  }

  backward(dout: Float32Array, _batch: number): Float32Array {
    return dout;
  }

  params(): readonly Param[] {
    return [];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): LayerSpec {
    return { type: 'flatten' };
  }
}
