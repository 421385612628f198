/**
 * The safetensors file format (https://github.com/huggingface/safetensors, "Format"):
 *
 * ```
 * [ N: u64 little-endian ][ N bytes: UTF-8 JSON header, padded with spaces ][ data ]
 * header = { "__metadata__"?: { [k: string]: string },
 *            [tensor: string]: { dtype, shape: number[], data_offsets: [begin, end] } }
 * ```
 *
 * Offsets are relative to the start of the data section; the tensors cover it exactly, with no hole and no
 * overlap. keiko writes F32 only, pads the header to a multiple of 8 bytes (so that the data section starts on
 * an 8-byte boundary of the file, which lets a reader view it as a Float32Array without a copy) and lays the
 * tensors out in the order given (layer order). The reader is strict: every problem names the tensor.
 */

/** A named F32 tensor, structurally the engine's `NamedTensor` (this module does not depend on the engine). */
export interface SafeTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A malformed safetensors file or tensor; `path` names where (`header`, `tensors.0.weight`, ...). */
export class SafetensorsError extends Error {
  readonly code = 'SAFETENSORS_INVALID';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** The reference implementation refuses headers above 100 MB; so do we (a header is JSON, not data). */
export const MAX_HEADER_BYTES = 100_000_000;

/** The file is little-endian; on such a host (every platform Node ships for) bytes are copied as they are. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Serialise tensors (in the order given) and string metadata as a safetensors file.
 * Values of `metadata` must be strings (the format says so): JSON-encode structured values first.
 */
export function encodeSafetensors(tensors: readonly SafeTensor[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name.length === 0) throw new SafetensorsError(t.name, 'reserved or empty tensor name');
    if (seen.has(t.name)) throw new SafetensorsError(t.name, 'duplicate tensor name');
    seen.add(t.name);
    const n = product(t.shape);
    if (n !== t.data.length) throw new SafetensorsError(t.name, `shape [${t.shape.join(', ')}] holds ${n} values, data has ${t.data.length}`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // NOTE: pad with spaces (valid JSON whitespace) so that 8 + N is a multiple of 8.
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + headerLen + offset);
  out.writeBigUInt64LE(BigInt(headerLen), 0);
  json.copy(out, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const t of tensors) {
    if (LITTLE_ENDIAN) {
      // Bytes, not values: Buffer.from(float32Array) would convert each value to a byte (STACK.md).
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
      pos += t.data.byteLength;
    } else {
      for (let i = 0; i < t.data.length; i++, pos += 4) out.writeFloatLE(t.data[i], pos);
    }
  }
  return out;
}

export interface DecodedSafetensors {
  /** In file (data offset) order; F64/F16/BF16 are converted to F32. */
  tensors: SafeTensor[];
  metadata: Record<string, string>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Parse a safetensors file. Strict: a malformed header, an unknown dtype, a shape that does not match its
 * byte range, overlapping or missing bytes, or a non-string metadata value throws `SafetensorsError`.
 * The returned arrays are fresh copies (never views into `bytes`, whose alignment is unknown).
 */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (bytes.length < 8) throw new SafetensorsError('file', `too short (${bytes.length} bytes): no header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError('header', `length ${n64} exceeds ${MAX_HEADER_BYTES}`);
  const n = Number(n64);
  if (8 + n > bytes.length) throw new SafetensorsError('header', `length ${n} runs past the end of the file (${bytes.length} bytes)`);
  const text = new TextDecoder('utf-8', { fatal: true });
  let header: unknown;
  try {
    const s = text.decode(bytes.subarray(8, 8 + n));
    if (!s.startsWith('{')) throw new Error('does not start with "{"');
    header = JSON.parse(s);
  } catch (e) {
    throw new SafetensorsError('header', `not a JSON object (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) throw new SafetensorsError('header', 'not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) throw new SafetensorsError('__metadata__', 'must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k}`, 'metadata values must be strings');
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(raw)) throw new SafetensorsError(name, 'tensor entry must be an object');
    const extra = Object.keys(raw).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length) throw new SafetensorsError(name, `unknown field(s) ${extra.join(', ')}`);
    const { dtype, shape, data_offsets: off } = raw;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new SafetensorsError(name, `unsupported dtype ${JSON.stringify(dtype)} (F32, F64, F16, BF16)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new SafetensorsError(name, 'shape must be an array of non-negative integers');
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) || (off[1] as number) < (off[0] as number)) {
      throw new SafetensorsError(name, 'data_offsets must be [begin, end] with 0 ≤ begin ≤ end');
    }
    const [begin, end] = off as [number, number];
    const expected = product(shape as number[]) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) throw new SafetensorsError(name, `shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected} bytes, data_offsets span ${end - begin}`);
    if (end > dataLen) throw new SafetensorsError(name, `data_offsets end ${end} runs past the data (${dataLen} bytes)`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of entries) {
    if (e.begin !== pos) throw new SafetensorsError(e.name, e.begin < pos ? `overlaps the previous tensor (begins at ${e.begin}, previous ends at ${pos})` : `leaves a hole before it (begins at ${e.begin}, previous ends at ${pos})`);
    pos = e.end;
  }
  if (pos !== dataLen) throw new SafetensorsError('data', `tensors cover ${pos} bytes, the data section has ${dataLen}`);
  const tensors = entries.map((e): SafeTensor => {
    const count = product(e.shape);
    const data = new Float32Array(count);
    const base = dataStart + e.begin;
    switch (e.dtype) {
      case 'F32':
        // Copy into the fresh (aligned) array: `bytes` may sit at any offset of its ArrayBuffer.
        if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(base, base + 4 * count));
        else for (let i = 0; i < count; i++) data[i] = view.getFloat32(base + 4 * i, true);
        break;
      case 'F64':
        for (let i = 0; i < count; i++) data[i] = view.getFloat64(base + 8 * i, true);
        break;
      case 'F16':
        for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(base + 2 * i, true));
        break;
      case 'BF16': {
        const tmp = new DataView(new ArrayBuffer(4));
        for (let i = 0; i < count; i++) {
          tmp.setUint32(0, view.getUint16(base + 2 * i, true) << 16, true);
          data[i] = tmp.getFloat32(0, true);
        }
        break;
      }
    }
    return { name: e.name, shape: [...e.shape], data };
  });
  return { tensors, metadata };
}
