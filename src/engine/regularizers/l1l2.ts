import { SpecError } from '../errors.ts';
import { addL1L2Gradient } from '../kernels/elementwise.ts';
import type { Param } from '../layers/layer.ts';
import { currentBackend } from '../optimizers/optimizer.ts';

/**
 * L1/L2 penalties on the parameters with `regularize = true` (the weights of dense and conv2d layers;
 * never biases or batchnorm γ/β, as in the book and the course, COURSE.md B1):
 *
 *     penalty  = l1·Σ|W| + ½·l2·ΣW²
 *     ∂/∂W    += l1·sign(W) + l2·W          sign(0) = 0 (NumPy's)
 *
 * The gradient is added to `Param.grad` before the optimizer step, so every optimizer applies it (coupled
 * weight decay, not AdamW's decoupled form). The penalty is summed in float64.
 */
export class L1L2 {
  /** λ of the L1 term (≥ 0). */
  readonly l1: number;
  /** λ of the L2 term (≥ 0). */
  readonly l2: number;

  constructor(opts: { l1?: number; l2?: number } = {}) {
    this.l1 = checkLambda('l1', opts.l1 ?? 0);
    this.l2 = checkLambda('l2', opts.l2 ?? 0);
  }

  /** True when both λ are 0 (nothing to add). */
  get isZero(): boolean {
    return this.l1 === 0 && this.l2 === 0;
  }

  /** l1·Σ|W| + ½·l2·ΣW² over the regularised parameters (a scalar added to the loss). */
  penalty(params: readonly Param[]): number {
    if (this.isZero) return 0;
    let abs = 0;
    let sq = 0;
    for (const p of params) {
      if (!p.regularize) continue;
      const w = p.value;
      for (let i = 0; i < w.length; i++) {
        const x = w[i]!;
        abs += Math.abs(x);
        sq += x * x;
      }
    }
    return this.l1 * abs + 0.5 * this.l2 * sq;
  }

  /**
   * grad += l1·sign(W) + l2·W for every regularised parameter, in place, through the current kernel
   * backend's `addL1L2Gradient` when it has one (float32, SIMD, threads), else the float64 loop of
   * elementwise.ts. NOTE: AlexNet's L2 over its 61 M weights took 0.5 s per step in the plain loop.
   */
  addGradients(params: readonly Param[]): void {
    if (this.isZero) return;
    const { l1, l2 } = this;
    const be = currentBackend();
    for (const p of params) {
      if (!p.regularize) continue;
      if (be?.addL1L2Gradient) be.addL1L2Gradient(p.value, p.grad, p.value.length, l1, l2);
      else addL1L2Gradient(p.value, p.grad, p.value.length, l1, l2);
    }
  }
}

function checkLambda(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new SpecError(`regularization ${name} must be a finite number ≥ 0, got ${String(v)}`, ['regularization', name]);
  return v;
}
