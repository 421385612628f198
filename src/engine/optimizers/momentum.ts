import { checkUnit, Optimizer } from './optimizer.ts';

/** Options of {@link Momentum}. */
export interface MomentumOptions {
  /** lr, default 0.01. */
  learningRate?: number;
  /** μ in [0, 1), default 0.9. */
  momentum?: number;
}

/**
 * Classical momentum (COURSE.md B6, the book's `Momentum`); v starts at 0:
 *
 *     v ← μ·v − lr·g
 *     θ ← θ + v
 */
export class Momentum extends Optimizer {
  readonly type = 'momentum' as const;
  /** μ. */
  readonly momentum: number;
  protected readonly slotNames = ['v'] as const;

  constructor(opts: MomentumOptions = {}) {
    super(opts.learningRate ?? 0.01);
    this.momentum = checkUnit('momentum', opts.momentum ?? 0.9);
  }

  protected updateParam(value: Float32Array, grad: Float32Array, slots: Float32Array[]): void {
    const v = slots[0]!;
    const lr = this.learningRate;
    const mu = this.momentum;
    const be = this.be;
    if (be?.momentumUpdate) {
      be.momentumUpdate(value, grad, v, value.length, lr, mu);
      return;
    }
    for (let i = 0; i < value.length; i++) {
      const vi = mu * v[i]! - lr * grad[i]!;
      v[i] = vi;
      value[i] = value[i]! + Math.fround(vi);
    }
  }
}
