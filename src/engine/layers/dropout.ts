import type { KernelBackend } from '../kernels/backend.ts';
import { multiply, scale } from '../kernels/elementwise.ts';
import type { Rng } from '../random.ts';
import type { DropoutSpec } from '../spec/layer-spec.ts';
import { checkBatch, ctxBackend, GrowBuffer, type LayerContext, type LayerInfo, sizeOf } from './common.ts';
import type { Layer, Mode, Param, Shape } from './layer.ts';

/**
 * Dropout with drop probability r = `rate`.
 * - `inverted` (default, PyTorch/Keras): train y = x⊙m/(1−r), eval y = x.
 * - `eval` (the book's form, COURSE.md B2): train y = x⊙m, eval y = (1−r)·x.
 * The mask m is drawn at each train forward from the model's Rng: element i (row-major over the batch)
 * is kept iff `rng.next() >= rate`. Backward uses the last train mask: dx = dout⊙m (scaled by 1/(1−r)
 * when inverted). Backward after an eval forward passes dout through with the eval scale.
 *
 * For gradient checks, {@link Dropout.setFixedMask} replaces the random draw by a given keep mask.
 * @see https://jmlr.org/papers/v15/srivastava14a.html
 */
export class Dropout implements Layer {
  readonly type = 'dropout' as const;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  private readonly spec: DropoutSpec;
  private readonly size: number;
  private readonly rng: Rng;
  /** Per-element factor: 0 for dropped, 1 or 1/(1−r) for kept. */
  private readonly mask: GrowBuffer;
  private readonly out: GrowBuffer;
  private readonly dx: GrowBuffer;
  private fixed: ArrayLike<number> | null = null;
  private lastMode: Mode | null = null;

  /** Output shape = input shape; no params. */
  static describe(_spec: DropoutSpec, inputShape: Shape): LayerInfo {
    return { outputShape: [...inputShape], params: [], buffers: [] };
  }

  constructor(spec: DropoutSpec, inputShape: Shape, ctx: LayerContext) {
    const be: KernelBackend = ctxBackend(ctx);
    this.spec = { ...spec };
    this.inputShape = [...inputShape];
    this.outputShape = [...inputShape];
    this.size = sizeOf(inputShape);
    this.rng = ctx.rng;
    this.mask = new GrowBuffer(be);
    this.out = new GrowBuffer(be);
    this.dx = new GrowBuffer(be);
  }

  /**
   * Use `keep` (1 = keep, 0 = drop; at least batch × size entries, row-major) instead of drawing a mask
   * at each train forward, or go back to random masks with `null`. Meant for gradient checks and
   * reproducing a given mask; the scaling still follows `scaling`. No Rng draw happens while fixed.
   */
  setFixedMask(keep: ArrayLike<number> | null): void {
    this.fixed = keep;
  }

  forward(x: Float32Array, batch: number, mode: Mode): Float32Array {
    checkBatch('dropout.forward', x, batch, this.size);
    const n = batch * this.size;
    const y = this.out.get(n);
    const r = this.spec.rate;
    this.lastMode = mode;
    if (mode === 'eval') {
      scale(x, this.spec.scaling === 'eval' ? 1 - r : 1, y, n);
      return y;
    }
    const keepValue = this.spec.scaling === 'inverted' ? 1 / (1 - r) : 1;
    const m = this.mask.get(n);
    const fixed = this.fixed;
    if (fixed !== null) {
      if (fixed.length < n) throw new RangeError(`dropout: fixed mask has ${fixed.length} entries, need ${n}`);
      for (let i = 0; i < n; i++) m[i] = fixed[i] !== 0 ? keepValue : 0;
    } else {
      // NOTE: the draw order (element order) is part of reproducibility: same seed, same masks.
      // Branch-free: with rate 0.5 a `? :` mispredicts every other element (AlexNet's 8×4096 mask:
      // 0.88 -> 0.51 ms; the rest is the Rng, ~17 ns a draw).
      const rng = this.rng;
      for (let i = 0; i < n; i++) m[i] = keepValue * +(rng.next() >= r);
    }
    multiply(x, m, y, n);
    return y;
  }

  backward(dout: Float32Array, batch: number): Float32Array {
    if (this.lastMode === null) throw new Error('dropout.backward before forward');
    checkBatch('dropout.backward', dout, batch, this.size);
    const n = batch * this.size;
    const dx = this.dx.get(n);
    if (this.lastMode === 'eval') scale(dout, this.spec.scaling === 'eval' ? 1 - this.spec.rate : 1, dx, n);
    else multiply(dout, this.mask.get(n), dx, n);
    return dx;
  }

  params(): readonly Param[] {
    return [];
  }

  buffers(): readonly [] {
    return [];
  }

  toSpec(): DropoutSpec {
    return { ...this.spec };
  }
}
