import type { LayerSpec } from '../spec/layer-spec.ts';

/** Per-sample shape: `[features]` or `[channels, height, width]` (the batch axis is never included). */
export type Shape = readonly number[];

/** Training (batch statistics, dropout on) or inference (running statistics, dropout off / scaled). */
export type Mode = 'train' | 'eval';

/**
 * A learnable tensor. `grad` has the same size as `value` and holds ∂L/∂value after `backward`
 * (a batch mean, since the loss divides by N). `regularize` is true for the weights of dense and conv2d
 * (L1/L2 apply) and false for biases and batchnorm parameters.
 */
export interface Param {
  /** `weight`, `bias`, `gamma`, `beta`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly value: Float32Array;
  readonly grad: Float32Array;
  readonly regularize: boolean;
}

/**
 * A non-learned tensor saved with the model (batchnorm's `runningMean`, `runningVar`).
 */
export interface Buffer {
  readonly name: string;
  readonly shape: readonly number[];
  readonly value: Float32Array;
}

/**
 * The layer protocol (DLFS `common/layers.py`): `forward` caches exactly what `backward` needs;
 * `backward` writes parameter gradients into `Param.grad` and returns ∂L/∂input.
 * Batched tensors are Float32Array in row-major NCHW (or N×features) order with `batch` samples.
 * The returned arrays are owned by the layer and reused by its next call: copy them to keep them.
 */
export interface Layer {
  readonly type: LayerSpec['type'];
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  forward(x: Float32Array, batch: number, mode: Mode): Float32Array;
  backward(dout: Float32Array, batch: number): Float32Array;
  params(): readonly Param[];
  buffers(): readonly Buffer[];
  /** The spec that builds this layer again (config round-trip). */
  toSpec(): LayerSpec;
}
