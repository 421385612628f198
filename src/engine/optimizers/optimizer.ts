import { EngineError, SpecError } from '../errors.ts';
import { backend, type KernelBackend } from '../kernels/backend.ts';
import type { Param } from '../layers/layer.ts';
import type { OptimizerType } from '../spec/optimizer-spec.ts';

/** A learnable parameter with the name its state is saved under, e.g. `3.weight` (`<layerIndex>.<param>`). */
export interface NamedParam {
  readonly name: string;
  readonly param: Param;
}

/** One saved state tensor (same structure as the model's `NamedTensor`), F32. */
export interface StateTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * An optimizer's whole state for a checkpoint: the update counter `step` (Adam's t) and one tensor per
 * parameter and slot, named `<param name>.<slot>` (e.g. `3.weight.m`). Empty `slots` when `step` is 0.
 */
export interface OptimizerState {
  step: number;
  slots: StateTensor[];
}

/**
 * The optimizer loop, written once (MLX `Optimizer.update`): per step it advances the counter, lets the
 * subclass prepare step-wide values (`beginStep`), then calls `updateParam` for each parameter with that
 * parameter's state slots. Subclasses declare only their slot names and the per-parameter rule.
 *
 * State is created lazily, zero-filled with each parameter's size, on the first `update` (COURSE.md B6),
 * in buffers of the engine's kernel backend of that moment (`backend().alloc`), so that a backend with
 * update kernels (`adamUpdate`, `momentumUpdate`, …: SIMD, threads) runs them in place on parameters and
 * slots alike. With such a kernel the arithmetic is float32; without (the reference backend), the rule is
 * computed in float64 and stored in float32, like the parameters.
 */
export abstract class Optimizer {
  /** The spec discriminator of this optimizer. */
  abstract readonly type: OptimizerType;
  /** Base learning rate (no schedule: constant for the whole run). */
  readonly learningRate: number;
  /** Names of the per-parameter state tensors, e.g. `['m', 'v']` for Adam; empty for SGD. */
  protected abstract readonly slotNames: readonly string[];

  private slots: Float32Array[][] = [];
  private t = 0;
  /** The backend the slots were allocated from (and whose update kernels run), or undefined if none is registered. */
  protected be: KernelBackend | undefined;

  protected constructor(learningRate: number) {
    this.learningRate = checkPositive('learningRate', learningRate);
  }

  /** Updates done so far (Adam's t). */
  get step(): number {
    return this.t;
  }

  /**
   * One update of every parameter from its `grad` (already a batch mean, regularisation added).
   * @param params the same list, in the same order, at every call (state is matched by position).
   */
  update(params: readonly Param[]): void {
    if (this.slots.length !== params.length) this.initSlots(params);
    this.t += 1;
    this.beginStep(this.t);
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      this.updateParam(p.value, p.grad, this.slots[i]!);
    }
  }

  /** A copy of the state, slots named `<name>.<slot>`. */
  exportState(params: readonly NamedParam[]): OptimizerState {
    const slots: StateTensor[] = [];
    if (this.slots.length === params.length && this.t > 0) {
      params.forEach(({ name, param }, i) => {
        this.slotNames.forEach((slot, k) => {
          slots.push({ name: `${name}.${slot}`, shape: [...param.shape], data: this.slots[i]![k]!.slice() });
        });
      });
    }
    return { step: this.t, slots };
  }

  /**
   * Restore a state from `exportState`. Strict (tinygrad `load_state_dict`): a missing, extra or mis-sized
   * slot throws an `EngineError` (`STATE_MISMATCH`) naming it.
   */
  importState(state: OptimizerState, params: readonly NamedParam[]): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new EngineError('STATE_MISMATCH', `optimizer state: step must be a non-negative integer, got ${state.step}`);
    if (state.slots.length === 0) {
      // A state saved before the first update: the slots will be created (zeros) on the next update.
      this.releaseSlots();
      this.slots = [];
      this.t = state.step;
      return;
    }
    const byName = new Map(state.slots.map((s) => [s.name, s]));
    const fresh: Float32Array[][] = [];
    for (const { name, param } of params) {
      const own: Float32Array[] = [];
      for (const slot of this.slotNames) {
        const key = `${name}.${slot}`;
        const s = byName.get(key);
        if (!s) throw new EngineError('STATE_MISMATCH', `optimizer state: missing slot ${key}`);
        if (s.data.length !== param.value.length) throw new EngineError('STATE_MISMATCH', `optimizer state: slot ${key} has ${s.data.length} values, parameter has ${param.value.length}`);
        own.push(s.data);
        byName.delete(key);
      }
      fresh.push(own);
    }
    if (byName.size > 0) throw new EngineError('STATE_MISMATCH', `optimizer state: unexpected slot ${[...byName.keys()][0]} for a ${this.type} optimizer`);
    // Validated: only now replace the slots (a failed import leaves the optimizer as it was).
    this.releaseSlots();
    this.be = currentBackend();
    this.slots = fresh.map((own) => own.map((d) => {
      const a = this.newSlot(d.length);
      a.set(d);
      return a;
    }));
    this.t = state.step;
  }

  /** Step-wide values computed once per update (Adam's lr_t). @param t the 1-based update counter. */
  protected beginStep(_t: number): void {}

  /**
   * The per-parameter rule, in place.
   * @param value the parameter (updated in place)
   * @param grad ∂L/∂value, same length
   * @param slots this parameter's state tensors, in `slotNames` order
   */
  protected abstract updateParam(value: Float32Array, grad: Float32Array, slots: Float32Array[]): void;

  private initSlots(params: readonly Param[]): void {
    this.releaseSlots();
    this.be = currentBackend();
    this.slots = params.map((p) => this.slotNames.map(() => this.newSlot(p.value.length)));
  }

  private newSlot(n: number): Float32Array {
    return this.be ? this.be.alloc(n) : new Float32Array(n);
  }

  /** Give the slots back to the backend they came from (a re-import or a new parameter list replaces them). */
  private releaseSlots(): void {
    if (this.be) for (const own of this.slots) for (const a of own) this.be.free(a);
    this.slots = [];
  }
}

/**
 * The engine's current kernel backend, or undefined when none is registered (an optimizer or regulariser
 * used on its own, without importing the engine's index or a backend).
 */
export function currentBackend(): KernelBackend | undefined {
  try {
    return backend();
  } catch {
    return undefined;
  }
}

/**
 * Validate a hyper-parameter that must be a finite number > 0. Throws `SpecError` at
 * `['optimizer', name]` with the bad value in the message.
 */
export function checkPositive(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new SpecError(`optimizer ${name} must be a finite number > 0, got ${String(v)}`, ['optimizer', name]);
  return v;
}

/** Validate a hyper-parameter in [0, 1) (momentum, decay, β); `SpecError` at `['optimizer', name]`. */
export function checkUnit(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) throw new SpecError(`optimizer ${name} must be in [0, 1), got ${String(v)}`, ['optimizer', name]);
  return v;
}
