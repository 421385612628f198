import { checkPositive, checkUnit, Optimizer } from './optimizer.ts';

/** Options of {@link RMSProp}. */
export interface RMSPropOptions {
  /** lr, default 0.01. */
  learningRate?: number;
  /** ρ in [0, 1), default 0.99. */
  decay?: number;
  /** ε added to √h, default 1e-7. */
  epsilon?: number;
}

/**
 * RMSprop (COURSE.md B6, the book's `RMSprop`); h starts at 0:
 *
 *     h ← ρ·h + (1−ρ)·g²
 *     θ ← θ − lr·g/(√h + ε)        ρ = 0.99, ε = 1e-7
 *
 * @see https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf
 */
export class RMSProp extends Optimizer {
  readonly type = 'rmsprop' as const;
  /** ρ. */
  readonly decay: number;
  /** ε. */
  readonly epsilon: number;
  protected readonly slotNames = ['h'] as const;

  constructor(opts: RMSPropOptions = {}) {
    super(opts.learningRate ?? 0.01);
    this.decay = checkUnit('decay', opts.decay ?? 0.99);
    this.epsilon = checkPositive('epsilon', opts.epsilon ?? 1e-7);
  }

  protected updateParam(value: Float32Array, grad: Float32Array, slots: Float32Array[]): void {
    const h = slots[0]!;
    const lr = this.learningRate;
    const rho = this.decay;
    const eps = this.epsilon;
    const be = this.be;
    if (be?.rmspropUpdate) {
      be.rmspropUpdate(value, grad, h, value.length, lr, rho, eps);
      return;
    }
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]!;
      const hi = Math.fround(rho * h[i]! + (1 - rho) * g * g);
      h[i] = hi;
      value[i] = value[i]! - (lr * g) / (Math.sqrt(hi) + eps);
    }
  }
}
