import { Optimizer } from './optimizer.ts';

/** Options of {@link SGD}. */
export interface SgdOptions {
  /** lr, default 0.01. */
  learningRate?: number;
}

/**
 * Plain stochastic gradient descent (COURSE.md B6):
 *
 *     θ ← θ − lr·g
 */
export class SGD extends Optimizer {
  readonly type = 'sgd' as const;
  protected readonly slotNames = [] as const;

  constructor(opts: SgdOptions = {}) {
    super(opts.learningRate ?? 0.01);
  }

  protected updateParam(value: Float32Array, grad: Float32Array): void {
    const lr = this.learningRate;
    const be = this.be;
    if (be?.sgdUpdate) {
      be.sgdUpdate(value, grad, value.length, lr);
      return;
    }
    for (let i = 0; i < value.length; i++) value[i] = value[i]! - lr * grad[i]!;
  }
}
