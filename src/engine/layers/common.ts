import { backend, type KernelBackend } from '../kernels/backend.ts';
import type { Rng } from '../random.ts';
import type { LayerSpec, WeightInit } from '../spec/layer-spec.ts';
import type { Buffer, Layer, Param, Shape } from './layer.ts';

/**
 * Shared plumbing of the layer classes: build context, static shape information, reusable buffers,
 * parameter allocation and initialisation.
 */

/** What a layer needs at construction besides its spec and input shape. */
export interface LayerContext {
  /** The model's generator: weights are drawn from it at construction, dropout masks at each train forward. */
  readonly rng: Rng;
  /** The model's default initialisation (a layer's own `weightInit` overrides it). */
  readonly weightInit: WeightInit;
  /** Kernel backend; defaults to `backend()` at construction time. */
  readonly backend?: KernelBackend;
}

/** Name and per-layer shape of a parameter or buffer. */
export interface TensorInfo {
  readonly name: string;
  readonly shape: readonly number[];
}

/** What a layer spec gives for a per-sample input shape, computed without allocating anything. */
export interface LayerInfo {
  readonly outputShape: number[];
  /** Learnable tensors, in `params()` order. */
  readonly params: TensorInfo[];
  /** Saved non-learnable tensors, in `buffers()` order. */
  readonly buffers: TensorInfo[];
}

/**
 * Thrown by a layer's static `describe` when the spec cannot apply to the input shape; `describeModel`
 * turns it into a `ShapeError` naming the layer index and type. `field` is the spec field to blame.
 */
export class ShapeProblem extends Error {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'ShapeProblem';
    this.field = field;
  }
}

/** Static description and construction of one layer type. */
export interface LayerFactory<S extends LayerSpec = LayerSpec> {
  /** Output shape, params and buffers for `inputShape`; throws `ShapeProblem`. Allocates nothing. */
  describe(spec: S, inputShape: Shape): LayerInfo;
  /** Build the layer (allocating and initialising its parameters from `ctx.rng`). */
  create(spec: S, inputShape: Shape, ctx: LayerContext): Layer;
}

/** Number of elements of a shape (1 for `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `k` or `[h, w]` → `[h, w]`. */
export function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** "[1, 28, 28]" for messages. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * A kernel buffer that is allocated once from the backend and grown only when a larger size is asked
 * for; smaller requests get a cached `subarray` view, so a fixed batch size allocates nothing per batch.
 */
export class GrowBuffer {
  private store: Float32Array | null = null;
  private view: Float32Array | null = null;
  constructor(private readonly be: KernelBackend) {}

  /** A view of exactly `n` elements. Contents are whatever the last user left (not zeroed). */
  get(n: number): Float32Array {
    if (this.view !== null && this.view.length === n) return this.view;
    if (this.store === null || this.store.length < n) {
      if (this.store !== null) this.be.free(this.store);
      this.store = this.be.alloc(n);
    }
    this.view = n === this.store.length ? this.store : this.store.subarray(0, n);
    return this.view;
  }
}

/**
 * Same as {@link GrowBuffer} for Int32Array indices (max-pool argmax): from the backend's `allocInt32`
 * when it has one (so its max-pool kernels use them in place), else plain Int32Arrays.
 */
export class GrowIndexBuffer {
  private store: Int32Array | null = null;
  private view: Int32Array | null = null;
  constructor(private readonly be?: KernelBackend) {}

  /** A view of exactly `n` elements. Contents are whatever the last user left. */
  get(n: number): Int32Array {
    if (this.view !== null && this.view.length === n) return this.view;
    if (this.store === null || this.store.length < n) {
      if (this.store !== null) this.be?.freeInt32?.(this.store);
      this.store = this.be?.allocInt32 ? this.be.allocInt32(n) : new Int32Array(n);
    }
    this.view = n === this.store.length ? this.store : this.store.subarray(0, n);
    return this.view;
  }
}

/** Names of the optional kernels a backend may provide in place of kernels/elementwise.ts and pool.ts. */
export type FastPath = 'reluForward' | 'reluBackward' | 'addChannelBias' | 'sumChannels' | 'addRowBias' | 'sumRows' | 'maxPoolForward' | 'maxPoolBackward';

/**
 * The backend's optional fast path `name`, bound to the backend, or the plain JavaScript kernel `fallback`
 * (same signature and semantics). Resolved once per layer, at construction.
 */
export function kernel<K extends FastPath>(be: KernelBackend, name: K, fallback: NonNullable<KernelBackend[K]>): NonNullable<KernelBackend[K]> {
  const f = be[name] as ((...args: never[]) => void) | undefined;
  return f === undefined ? fallback : (f.bind(be) as NonNullable<KernelBackend[K]>);
}

/** A parameter whose value and grad are backend buffers (zero-filled). */
export function makeParam(be: KernelBackend, name: string, shape: readonly number[], regularize: boolean): Param {
  const n = sizeOf(shape);
  return { name, shape: [...shape], value: be.alloc(n), grad: be.alloc(n), regularize };
}

/** A saved buffer (batchnorm running statistics) filled with `fill`. */
export function makeBuffer(be: KernelBackend, name: string, shape: readonly number[], fill: number): Buffer {
  const value = be.alloc(sizeOf(shape));
  value.fill(fill);
  return { name, shape: [...shape], value };
}

/** Standard deviation of a weight initialisation: `he` √(2/fanIn), `xavier` √(1/fanIn), a number as is. */
export function initStd(init: WeightInit, fanIn: number): number {
  if (init === 'he') return Math.sqrt(2 / fanIn);
  if (init === 'xavier') return Math.sqrt(1 / fanIn);
  return init;
}

/** w[i] = std·N(0,1), drawn from `rng` in element (row-major) order. */
export function fillNormal(w: Float32Array, std: number, rng: Rng): void {
  for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
}

/** The backend of a build context. */
export function ctxBackend(ctx: LayerContext): KernelBackend {
  return ctx.backend ?? backend();
}

/** Throws a RangeError when a batch tensor is shorter than `batch × perSample`. */
export function checkBatch(what: string, a: Float32Array, batch: number, perSample: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${what}: batch must be a positive integer, got ${batch}`);
  if (a.length < batch * perSample) throw new RangeError(`${what}: expected ${batch}×${perSample} values, got ${a.length}`);
}

/**
 * Cached equal-sized consecutive views `src[i·stride … (i+1)·stride)` of a buffer. Rebuilt only when the
 * buffer (identity) or stride changes or more views are needed, so per-sample kernel calls on the layer's
 * own buffers create no view objects per batch (`subarray` allocates, and is slow in V8).
 */
export class Views {
  private src: Float32Array | null = null;
  private stride = 0;
  private list: Float32Array[] = [];

  /** At least `count` views of `stride` elements each; use the first `count`. */
  of(src: Float32Array, count: number, stride: number): readonly Float32Array[] {
    if (src !== this.src || stride !== this.stride || this.list.length < count) {
      this.src = src;
      this.stride = stride;
      if (src.length < count * stride) throw new RangeError(`Views: buffer of ${src.length} cannot hold ${count} views of ${stride}`);
      this.list = Array.from({ length: count }, (_, i) => src.subarray(i * stride, (i + 1) * stride));
    }
    return this.list;
  }
}
