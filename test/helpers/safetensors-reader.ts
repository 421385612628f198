/**
 * An independent safetensors reader for tests, written from the published format description
 * (https://github.com/huggingface/safetensors#format) and deliberately sharing no code with keiko's writer:
 *
 * - 8 bytes: N, an unsigned little-endian 64-bit integer, the size of the header;
 * - N bytes: a UTF-8 JSON object, starting with `{`, which may be padded with trailing spaces (0x20);
 *   keys are tensor names, each `{ "dtype", "shape", "data_offsets": [BEGIN, END] }`, plus an optional
 *   `__metadata__` map of string to string;
 * - the rest: the byte buffer; offsets are relative to its start; tensors are contiguous, may not overlap
 *   and leave no hole; data is little-endian, row-major.
 *
 * It throws on any violation, so a test that reads keiko's output through it proves that file conforms.
 */
export interface ReadTensor {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  values: number[];
}

export interface ReadFile {
  headerLength: number;
  /** Header keys in the order they appear in the JSON text. */
  headerKeys: string[];
  metadata: Record<string, string> | undefined;
  tensors: Map<string, ReadTensor>;
}

export function readSafetensors(file: Uint8Array): ReadFile {
  if (file.byteLength < 8) throw new Error('file shorter than 8 bytes');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0) throw new Error('header length does not fit 32 bits');
  const n = lo;
  if (8 + n > file.byteLength) throw new Error('header runs past end of file');
  const headerBytes = file.subarray(8, 8 + n);
  if (headerBytes[0] !== 0x7b) throw new Error('header does not start with {');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  // Trailing padding may only be spaces.
  const trimmed = text.replace(/ +$/, '');
  if (!trimmed.endsWith('}')) throw new Error('header JSON not followed only by spaces');
  const header = JSON.parse(text) as Record<string, unknown>;
  const headerKeys = Object.keys(header);
  const bufferStart = 8 + n;
  const bufferLen = file.byteLength - bufferStart;
  const sizes: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
  let metadata: Record<string, string> | undefined;
  const tensors = new Map<string, ReadTensor>();
  for (const key of headerKeys) {
    const entry = header[key] as Record<string, unknown>;
    if (key === '__metadata__') {
      metadata = {};
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new Error(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const dtype = entry.dtype as string;
    const shape = entry.shape as number[];
    const [begin, end] = entry.data_offsets as [number, number];
    if (!(dtype in sizes)) throw new Error(`${key}: unknown dtype ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * sizes[dtype]) throw new Error(`${key}: offsets span ${end - begin} bytes for ${count} ${dtype}`);
    if (end > bufferLen) throw new Error(`${key}: past the end of the buffer`);
    const values: number[] = [];
    if (dtype === 'F32') for (let i = 0; i < count; i++) values.push(dv.getFloat32(bufferStart + begin + 4 * i, true));
    tensors.set(key, { dtype, shape, begin, end, values });
  }
  const spans = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  let at = 0;
  for (const s of spans) {
    if (s.begin !== at) throw new Error(`hole or overlap at byte ${at}`);
    at = s.end;
  }
  if (at !== bufferLen) throw new Error(`buffer has ${bufferLen} bytes, tensors cover ${at}`);
  return { headerLength: n, headerKeys, metadata, tensors };
}
