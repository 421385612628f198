import { checkPositive, checkUnit, Optimizer } from './optimizer.ts';

/** Options of {@link Adam}. */
export interface AdamOptions {
  /** lr, default 0.001. */
  learningRate?: number;
  /** β1 in [0, 1), default 0.9. */
  beta1?: number;
  /** β2 in [0, 1), default 0.999. */
  beta2?: number;
  /** ε added to the uncorrected √v, default 1e-7. */
  epsilon?: number;
}

/**
 * Adam in the book's form (`common/optimizer.py`, COURSE.md B6): the bias correction is folded into the
 * step size and ε is added to the UNCORRECTED √v (Kingma & Ba's "efficient" variant, section 2). One
 * counter t for the whole optimizer; m and v start at 0:
 *
 *     t ← t + 1
 *     lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ)
 *     m ← m + (1−β1)·(g − m)
 *     v ← v + (1−β2)·(g² − v)
 *     θ ← θ − lr_t·m/(√v + ε)       ε = 1e-7
 *
 * @see https://arxiv.org/abs/1412.6980
 */
export class Adam extends Optimizer {
  readonly type = 'adam' as const;
  /** β1. */
  readonly beta1: number;
  /** β2. */
  readonly beta2: number;
  /** ε. */
  readonly epsilon: number;
  protected readonly slotNames = ['m', 'v'] as const;
  private lrT = 0;

  constructor(opts: AdamOptions = {}) {
    super(opts.learningRate ?? 0.001);
    this.beta1 = checkUnit('beta1', opts.beta1 ?? 0.9);
    this.beta2 = checkUnit('beta2', opts.beta2 ?? 0.999);
    this.epsilon = checkPositive('epsilon', opts.epsilon ?? 1e-7);
  }

  protected override beginStep(t: number): void {
    this.lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
  }

  protected updateParam(value: Float32Array, grad: Float32Array, slots: Float32Array[]): void {
    const m = slots[0]!;
    const v = slots[1]!;
    const lrT = this.lrT;
    const b1 = 1 - this.beta1;
    const b2 = 1 - this.beta2;
    const eps = this.epsilon;
    const be = this.be;
    if (be?.adamUpdate) {
      be.adamUpdate(value, grad, m, v, value.length, lrT, this.beta1, this.beta2, eps);
      return;
    }
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]!;
      const mi = Math.fround(m[i]! + b1 * (g - m[i]!));
      const vi = Math.fround(v[i]! + b2 * (g * g - v[i]!));
      m[i] = mi;
      v[i] = vi;
      value[i] = value[i]! - (lrT * mi) / (Math.sqrt(vi) + eps);
    }
  }
}
