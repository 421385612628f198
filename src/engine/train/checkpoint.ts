import { EngineError } from '../errors.ts';
import type { NamedTensor } from '../model/weights.ts';
import type { EpochMetrics } from '../spec/training-spec.ts';

/**
 * Everything `fit` needs to continue a run exactly where it was at the end of epoch `epoch`: resuming from
 * it gives the same metrics, bit for bit, as a run that was never interrupted (timing fields aside).
 */
export interface Checkpoint {
  /** Epochs completed (1-based count). */
  epoch: number;
  /** Batches (optimizer steps) completed in all. */
  iteration: number;
  /** The run's `Rng.state()` after epoch `epoch`. */
  rngState: number[];
  /** `getWeights(model)`: parameters and batchnorm running statistics. */
  weights: NamedTensor[];
  /** The optimizer's step counter and slots (`<layer>.<param>.<slot>`, e.g. `0.weight.m`). */
  optimizerState: { step: number; slots: NamedTensor[] };
  /** Metrics of epochs 1..epoch. */
  history: EpochMetrics[];
  /** Early stopping's best epoch so far, its monitored value and weights (only with early stopping). */
  best?: { epoch: number; value: number; weights: NamedTensor[] };
}

const MAGIC = 'keiko-checkpoint';
const VERSION = 1;

interface TensorEntry {
  group: 'weights' | 'optimizer' | 'best';
  name: string;
  shape: number[];
  /** Offset in the blob, in float32 elements. */
  offset: number;
  /** Elements. */
  length: number;
}

interface Header {
  format: typeof MAGIC;
  version: number;
  dtype: 'float32le';
  epoch: number;
  iteration: number;
  rngState: number[];
  optimizerStep: number;
  history: EpochMetrics[];
  best: { epoch: number; value: number } | null;
  tensors: TensorEntry[];
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** JSON has no NaN/±Infinity: a diverged run's losses are written as the strings "NaN", "Infinity", "-Infinity". */
function replacer(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
function reviver(_key: string, v: unknown): unknown {
  return v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? Number(v) : v;
}

/**
 * Binary form of a checkpoint (safetensors' layout):
 *
 *     bytes 0..8     header length H (uint64, little-endian; H is a multiple of 8)
 *     bytes 8..8+H   UTF-8 JSON header, padded with spaces: format, version, dtype, epoch, iteration,
 *                    rngState, optimizerStep, history, best {epoch, value}, and per tensor
 *                    { group: weights|optimizer|best, name, shape, offset, length } (in elements)
 *     then           one float32 little-endian blob with every tensor back to back
 *
 * The blob starts at a multiple of 8 bytes, so a copy of it can be viewed as a Float32Array.
 */
export function serializeCheckpoint(c: Checkpoint): Uint8Array {
  const tensors: TensorEntry[] = [];
  const datas: Float32Array[] = [];
  let offset = 0;
  const add = (group: TensorEntry['group'], list: readonly NamedTensor[]): void => {
    for (const t of list) {
      tensors.push({ group, name: t.name, shape: [...t.shape], offset, length: t.data.length });
      datas.push(t.data);
      offset += t.data.length;
    }
  };
  add('weights', c.weights);
  add('optimizer', c.optimizerState.slots);
  if (c.best) add('best', c.best.weights);
  const header: Header = {
    format: MAGIC,
    version: VERSION,
    dtype: 'float32le',
    epoch: c.epoch,
    iteration: c.iteration,
    rngState: [...c.rngState],
    optimizerStep: c.optimizerState.step,
    history: c.history,
    best: c.best ? { epoch: c.best.epoch, value: c.best.value } : null,
    tensors,
  };
  const json = new TextEncoder().encode(JSON.stringify(header, replacer));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset * 4);
  out.fill(0x20, 8, 8 + padded);
  out.set(json, 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded, true);
  dv.setUint32(4, 0, true);
  const base = 8 + padded;
  let at = 0;
  for (const d of datas) {
    if (littleEndian) {
      out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), base + at * 4);
    } else {
      for (let i = 0; i < d.length; i++) dv.setFloat32(base + (at + i) * 4, d[i]!, true);
    }
    at += d.length;
  }
  return out;
}

/**
 * Parse `serializeCheckpoint`'s bytes. The input may sit at any byte offset (a Redis Buffer): the blob is
 * copied before it is viewed as float32. Throws `EngineError` (code `BAD_CHECKPOINT`) for anything that
 * is not a well-formed checkpoint.
 */
export function deserializeCheckpoint(b: Uint8Array): Checkpoint {
  const bad = (msg: string): never => {
    throw new EngineError('BAD_CHECKPOINT', `checkpoint: ${msg}`);
  };
  if (b.length < 8) bad(`${b.length} bytes is too short`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const h = dv.getUint32(0, true);
  if (dv.getUint32(4, true) !== 0 || h % 8 !== 0 || 8 + h > b.length) bad(`header length ${h} does not fit ${b.length} bytes`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + h)), reviver) as Header;
  } catch (e) {
    return bad(`header is not JSON (${(e as Error).message})`);
  }
  if (header.format !== MAGIC || header.version !== VERSION || header.dtype !== 'float32le') bad(`not a version ${VERSION} keiko checkpoint`);
  const blobBytes = b.length - 8 - h;
  if (blobBytes % 4 !== 0) bad(`blob of ${blobBytes} bytes is not float32`);
  const n = blobBytes / 4;
  // NOTE: slice() copies into a fresh, aligned ArrayBuffer (a view at an odd byteOffset would throw).
  const copy = b.slice(8 + h);
  let blob: Float32Array;
  if (littleEndian) {
    blob = new Float32Array(copy.buffer, 0, n);
  } else {
    const cdv = new DataView(copy.buffer);
    blob = new Float32Array(n);
    for (let i = 0; i < n; i++) blob[i] = cdv.getFloat32(i * 4, true);
  }
  const groups: Record<TensorEntry['group'], NamedTensor[]> = { weights: [], optimizer: [], best: [] };
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, d) => a * d, 1);
    if (!Number.isInteger(t.offset) || !Number.isInteger(t.length) || t.offset < 0 || t.offset + t.length > n || size !== t.length) {
      bad(`tensor ${t.name} (shape [${t.shape.join(', ')}], offset ${t.offset}, length ${t.length}) does not fit the ${n}-element blob`);
    }
    if (!(t.group in groups)) bad(`tensor ${t.name} has unknown group ${t.group}`);
    groups[t.group].push({ name: t.name, shape: [...t.shape], data: blob.subarray(t.offset, t.offset + t.length) });
  }
  const c: Checkpoint = {
    epoch: header.epoch,
    iteration: header.iteration,
    rngState: header.rngState,
    weights: groups.weights,
    optimizerState: { step: header.optimizerStep, slots: groups.optimizer },
    history: header.history,
  };
  if (header.best) c.best = { epoch: header.best.epoch, value: header.best.value, weights: groups.best };
  return c;
}
