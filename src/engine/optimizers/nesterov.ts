import { checkUnit, Optimizer } from './optimizer.ts';

/** Options of {@link Nesterov}. */
export interface NesterovOptions {
  /** lr, default 0.01. */
  learningRate?: number;
  /** μ in [0, 1), default 0.9. */
  momentum?: number;
}

/**
 * Nesterov's accelerated gradient in the book's form (`common/optimizer.py`, COURSE.md B6), the
 * reformulation of Bengio et al. that updates θ with the OLD v, then v; v starts at 0:
 *
 *     θ ← θ + μ²·v − (1+μ)·lr·g
 *     v ← μ·v − lr·g
 *
 * NOTE: the course's copy updates v first and then uses the new v; keiko follows the book.
 * @see https://arxiv.org/abs/1212.0901
 */
export class Nesterov extends Optimizer {
  readonly type = 'nesterov' as const;
  /** μ. */
  readonly momentum: number;
  protected readonly slotNames = ['v'] as const;

  constructor(opts: NesterovOptions = {}) {
    super(opts.learningRate ?? 0.01);
    this.momentum = checkUnit('momentum', opts.momentum ?? 0.9);
  }

  protected updateParam(value: Float32Array, grad: Float32Array, slots: Float32Array[]): void {
    const v = slots[0]!;
    const lr = this.learningRate;
    const mu = this.momentum;
    const be = this.be;
    if (be?.nesterovUpdate) {
      be.nesterovUpdate(value, grad, v, value.length, lr, mu);
      return;
    }
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]!;
      const vi = v[i]!;
      value[i] = value[i]! + mu * mu * vi - (1 + mu) * lr * g;
      v[i] = mu * vi - lr * g;
    }
  }
}
