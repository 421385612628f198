import { checkPositive, Optimizer } from './optimizer.ts';

/** Options of {@link AdaGrad}. */
export interface AdaGradOptions {
  /** lr, default 0.01. */
  learningRate?: number;
  /** ε added to √h, default 1e-7. */
  epsilon?: number;
}

/**
 * AdaGrad (COURSE.md B6, the book's `AdaGrad`); h starts at 0:
 *
 *     h ← h + g²
 *     θ ← θ − lr·g/(√h + ε)        ε = 1e-7
 *
 * @see https://jmlr.org/papers/v12/duchi11a.html
 */
export class AdaGrad extends Optimizer {
  readonly type = 'adagrad' as const;
  /** ε. */
  readonly epsilon: number;
  protected readonly slotNames = ['h'] as const;

  constructor(opts: AdaGradOptions = {}) {
    super(opts.learningRate ?? 0.01);
    this.epsilon = checkPositive('epsilon', opts.epsilon ?? 1e-7);
  }

  protected updateParam(value: Float32Array, grad: Float32Array, slots: Float32Array[]): void {
    const h = slots[0]!;
    const lr = this.learningRate;
    const eps = this.epsilon;
    const be = this.be;
    if (be?.adagradUpdate) {
      be.adagradUpdate(value, grad, h, value.length, lr, eps);
      return;
    }
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]!;
      const hi = Math.fround(h[i]! + g * g);
      h[i] = hi;
      value[i] = value[i]! - (lr * g) / (Math.sqrt(hi) + eps);
    }
  }
}
