import { backend, type KernelBackend } from '../kernels/backend.ts';
import { Conv2d } from '../layers/conv2d.ts';
import { Dense } from '../layers/dense.ts';
import { GrowBuffer, sizeOf } from '../layers/common.ts';
import type { Buffer, Layer, Mode, Param, Shape } from '../layers/layer.ts';
import { createLayer } from '../layers/registry.ts';
import { softmax } from '../losses/softmax-cross-entropy.ts';
import type { Rng } from '../random.ts';
import type { LayersModelSpec } from '../spec/model-spec.ts';
import { describeModel } from './describe.ts';

/**
 * A stack of layers applied in order; the last one outputs logits (N, classes), and the loss (softmax
 * cross-entropy) lives outside the model. Buffers are owned by the layers and reused across batches.
 */
export class Sequential {
  readonly layers: Layer[];
  /** Per-sample input shape. */
  readonly inputShape: Shape;
  /** Per-sample output shape `[classes]`. */
  readonly outputShape: Shape;
  /** The resolved spec this model was built from (`buildModel(model.spec, rng)` builds it again). */
  readonly spec: LayersModelSpec;
  private readonly inputSize: number;
  private readonly classes: number;
  /** Backward stops at the first layer with parameters: nothing before it needs gradients. */
  private readonly firstTrainable: number;
  private readonly probs: GrowBuffer;

  constructor(spec: LayersModelSpec, layers: Layer[], be: KernelBackend = backend()) {
    if (layers.length === 0) throw new RangeError('Sequential needs at least one layer');
    this.spec = spec;
    this.layers = layers;
    this.inputShape = [...layers[0].inputShape];
    this.outputShape = [...layers[layers.length - 1].outputShape];
    this.inputSize = sizeOf(this.inputShape);
    this.classes = sizeOf(this.outputShape);
    const first = layers.findIndex((l) => l.params().length > 0);
    this.firstTrainable = first < 0 ? layers.length : first;
    const fl = layers[this.firstTrainable];
    // NOTE: ∂L/∂input of the first trainable layer is never used; for conv1 it costs a gemm and a col2im.
    if (fl instanceof Dense || fl instanceof Conv2d) fl.computeInputGrad = false;
    this.probs = new GrowBuffer(be);
  }

  /**
   * Run every layer: x (batch × inputShape) → logits (batch × classes). `mode` 'train' uses batch
   * statistics and draws dropout masks; 'eval' is inference. The result is the last layer's buffer.
   */
  forward(x: Float32Array, batch: number, mode: Mode): Float32Array {
    if (x.length < batch * this.inputSize) throw new RangeError(`Sequential.forward: expected ${batch}×${this.inputSize} inputs, got ${x.length}`);
    let a = x;
    for (const layer of this.layers) a = layer.forward(a, batch, mode);
    return a;
  }

  /**
   * Backpropagate dL/dlogits (batch × classes, already divided by the batch size by the loss) through the
   * layers of the last forward, writing every `Param.grad` (overwritten, not accumulated).
   */
  backward(dlogits: Float32Array, batch: number): void {
    let d = dlogits;
    for (let i = this.layers.length - 1; i >= this.firstTrainable; i--) d = this.layers[i].backward(d, batch);
  }

  /** Learnable parameters in layer order (within a layer: weight, bias / gamma, beta). */
  params(): { layerIndex: number; param: Param }[] {
    return this.layers.flatMap((l, layerIndex) => l.params().map((param) => ({ layerIndex, param })));
  }

  /** Saved non-learnable tensors (batchnorm running statistics) in layer order. */
  buffers(): { layerIndex: number; buffer: Buffer }[] {
    return this.layers.flatMap((l, layerIndex) => l.buffers().map((buffer) => ({ layerIndex, buffer })));
  }

  /** Softmax probabilities (batch × classes) in eval mode. The returned buffer is reused by the next call. */
  predict(x: Float32Array, batch: number): Float32Array {
    const logits = this.forward(x, batch, 'eval');
    const p = this.probs.get(batch * this.classes);
    softmax(logits, batch, this.classes, p);
    return p;
  }
}

/**
 * Build a model from a resolved spec with a fresh initialisation: each dense/conv2d layer draws its weights
 * from `rng` (rng.normal(), layer order, row-major) with its own `weightInit` or the spec's.
 * @throws ShapeError when the layers do not compose (see describeModel).
 */
export function buildModel(spec: LayersModelSpec, rng: Rng): Sequential {
  describeModel(spec);
  const be = backend();
  const ctx = { rng, weightInit: spec.weightInit, backend: be };
  let shape: Shape = spec.inputShape;
  const layers = spec.layers.map((ls) => {
    const layer = createLayer(ls, shape, ctx);
    shape = layer.outputShape;
    return layer;
  });
  return new Sequential(spec, layers, be);
}
