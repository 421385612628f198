/**
 * Central-difference gradient checks for float32 layers and models.
 *
 * The loss of a layer check is a random projection L = Σ out ⊙ R (R ~ N(0,1), fixed), accumulated in
 * float64; its gradient with respect to `out` is R, so `layer.backward(R)` must give ∂L/∂x and ∂L/∂θ.
 * Numerically, ∂L/∂v_i ≈ (L(v_i + ε) − L(v_i − ε)) / (v_i⁺ − v_i⁻), where v_i± are the float32 values
 * actually stored (so rounding of v_i ± ε does not bias the quotient).
 *
 * Error measure per tensor: max_i |analytic_i − numeric_i| / max_i |numeric_i| (a normalised max error).
 * With ε = 1e-2, float32 forward noise and the O(ε²) truncation error of smooth layers give errors of
 * 1e-8…6e-5 on correct code (measured on every layer's check), while a 1% error in a gradient reads 1e-2.
 * The default tolerance 1e-3 sits between the two (test/engine/layers/gradcheck.test.ts proves it catches
 * a weight gradient scaled by 1.01, a wrong sign of one element, and a missing term).
 */
import type { Layer } from '../../src/engine/layers/layer.ts';
import { Rng } from '../../src/engine/random.ts';

export interface GradTensor {
  name: string;
  /** Perturbed in place (and restored) by the check. */
  value: Float32Array;
  /** The analytic gradient (copied before the numeric pass). */
  grad: Float32Array;
}

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-2). */
  eps?: number;
  /** Largest accepted normalised max error (default 1e-3). */
  tol?: number;
  /** Check at most this many elements per tensor, spread evenly (default 200). */
  maxChecks?: number;
}

export interface GradcheckResult {
  name: string;
  /** max_i |a_i − n_i| / max_i |n_i|. */
  error: number;
  checked: number;
  ok: boolean;
}

/** Indices 0..n−1, or `max` of them spread evenly. */
function pick(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.floor((i * n) / max));
}

/**
 * Compare each tensor's analytic `grad` (already computed by the caller) with central differences of `loss`.
 * `loss` must recompute everything from the current tensor values.
 */
export function checkGradients(loss: () => number, tensors: GradTensor[], opts: GradcheckOptions = {}): GradcheckResult[] {
  const eps = opts.eps ?? 1e-2;
  const tol = opts.tol ?? 1e-3;
  const maxChecks = opts.maxChecks ?? 200;
  const analytic = tensors.map((t) => Float64Array.from(t.grad));
  return tensors.map((t, ti) => {
    const idx = pick(t.value.length, maxChecks);
    let maxDiff = 0;
    let maxNum = 0;
    for (const i of idx) {
      const orig = t.value[i];
      t.value[i] = orig + eps;
      const hi = t.value[i];
      const lp = loss();
      t.value[i] = orig - eps;
      const lo = t.value[i];
      const lm = loss();
      t.value[i] = orig;
      const num = (lp - lm) / (hi - lo);
      maxDiff = Math.max(maxDiff, Math.abs(num - analytic[ti][i]));
      maxNum = Math.max(maxNum, Math.abs(num));
    }
    const error = maxNum === 0 ? maxDiff : maxDiff / maxNum;
    return { name: t.name, error, checked: idx.length, ok: error <= tol && Number.isFinite(error) };
  });
}

/** Standard-normal Float32Array from a seeded Rng. */
export function randn(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.normal();
  return a;
}

/**
 * Gradient check of one layer on input x (batch samples): ∂L/∂x and every param gradient, L = Σ out ⊙ R.
 * Runs forward in `mode` (default 'train'). Returns one result per tensor (`input`, then param names).
 */
export function gradcheckLayer(layer: Layer, x: Float32Array, batch: number, opts: GradcheckOptions & { seed?: number; mode?: 'train' | 'eval' } = {}): GradcheckResult[] {
  const mode = opts.mode ?? 'train';
  const out0 = layer.forward(x, batch, mode);
  const R = randn(out0.length, new Rng(opts.seed ?? 99));
  const dx = Float32Array.from(layer.backward(R, batch));
  const loss = (): number => {
    const out = layer.forward(x, batch, mode);
    let s = 0;
    for (let i = 0; i < R.length; i++) s += out[i] * R[i];
    return s;
  };
  const tensors: GradTensor[] = [{ name: 'input', value: x, grad: dx }];
  for (const p of layer.params()) tensors.push({ name: p.name, value: p.value, grad: Float32Array.from(p.grad) });
  return checkGradients(loss, tensors, opts);
}
