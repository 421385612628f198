import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../../src/models/safetensors.ts';
import { readSafetensors } from '../helpers/safetensors-reader.ts';

const tensors = () => [
  { name: '0.weight', shape: [3, 2], data: Float32Array.from([1, -2, 3.5, 4e-8, -0, 6]) },
  { name: '0.bias', shape: [2], data: Float32Array.from([0.25, -1]) },
  { name: '2.gamma', shape: [1], data: Float32Array.from([Math.PI]) },
];

/** Build a file by hand (independently of the writer) from a header object and raw data bytes. */
function handMade(header: unknown, data: Uint8Array, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors writer', () => {
  it('writes a file the independent reader loads: header padded to 8, F32 LE, tensors in order, spec in __metadata__', () => {
    const spec = { inputShape: [3], layers: [{ type: 'dense', units: 2 }] };
    const file = encodeSafetensors(tensors(), { spec: JSON.stringify(spec) });
    const r = readSafetensors(file);
    expect((8 + r.headerLength) % 8).toBe(0);
    expect(r.headerKeys).toEqual(['__metadata__', '0.weight', '0.bias', '2.gamma']);
    expect(JSON.parse(r.metadata!.spec)).toEqual(spec);
    const w = r.tensors.get('0.weight')!;
    expect(w).toMatchObject({ dtype: 'F32', shape: [3, 2], begin: 0, end: 24 });
    expect(w.values).toEqual([1, -2, 3.5, Math.fround(4e-8), -0, 6]);
    expect(r.tensors.get('0.bias')).toMatchObject({ begin: 24, end: 32, values: [0.25, -1] });
    expect(r.tensors.get('2.gamma')!.values).toEqual([Math.fround(Math.PI)]);
    // Byte level: the first weight is 1.0f = 0x3f800000 little-endian, right after the header.
    expect([...file.subarray(8 + r.headerLength, 8 + r.headerLength + 4)]).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('writes an empty model and omits empty metadata', () => {
    const r = readSafetensors(encodeSafetensors([]));
    expect(r.headerKeys).toEqual([]);
    expect(r.tensors.size).toBe(0);
  });

  it('refuses duplicate names and data that does not fill the shape', () => {
    expect(() => encodeSafetensors([tensors()[0], tensors()[0]])).toThrow(/duplicate/);
    expect(() => encodeSafetensors([{ name: 'a', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/a: shape \[2, 2\] holds 4 values/);
  });
});

describe('safetensors parser', () => {
  it('round-trips the writer and copies into aligned arrays even from an odd byte offset', () => {
    const file = encodeSafetensors(tensors(), { a: 'b' });
    const shifted = new Uint8Array(file.length + 1).subarray(1);
    shifted.set(file);
    const d = decodeSafetensors(shifted);
    expect(d.metadata).toEqual({ a: 'b' });
    expect(d.tensors.map((t) => [t.name, t.shape, [...t.data]])).toEqual(tensors().map((t) => [t.name, t.shape, [...t.data]]));
    expect(d.tensors[0].data.byteOffset % 4).toBe(0);
  });

  it('reads a hand-made file with unpadded header, tensors stored out of name order, F64 and F16 data', () => {
    const data = new Uint8Array(8 + 2 + 4);
    const dv = new DataView(data.buffer);
    dv.setFloat64(0, 0.5, true);
    dv.setUint16(8, 0x3c00, true); // F16 1.0
    dv.setFloat32(10, -3, true);
    const file = handMade(
      { z: { dtype: 'F64', shape: [], data_offsets: [0, 8] }, a: { dtype: 'F16', shape: [1], data_offsets: [8, 10] }, m: { dtype: 'F32', shape: [1, 1], data_offsets: [10, 14] } },
      data,
      3,
    );
    const d = decodeSafetensors(file);
    expect(d.tensors.map((t) => [t.name, t.shape, [...t.data]])).toEqual([
      ['z', [], [0.5]],
      ['a', [1], [1]],
      ['m', [1, 1], [-3]],
    ]);
  });

  it.each([
    ['a header length past the end', new Uint8Array([255, 0, 0, 0, 0, 0, 0, 0, 0x7b]), /header: length 255/],
    ['a header that is not JSON', handMade({}, new Uint8Array()).map((b, i) => (i === 9 ? 0x21 : b)), /header: not a JSON object/],
    ['an unknown dtype', handMade({ t: { dtype: 'I8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /t: unsupported dtype "I8"/],
    ['a shape that does not match the offsets', handMade({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /t: shape \[2\] of F32 needs 8 bytes/],
    ['a hole', handMade({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /t: leaves a hole/],
    ['overlapping tensors', handMade({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, u: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /overlaps/],
    ['trailing bytes', handMade({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /data: tensors cover 4 bytes, the data section has 8/],
    ['a non-string metadata value', handMade({ __metadata__: { spec: { a: 1 } } }, new Uint8Array()), /__metadata__.spec: metadata values must be strings/],
    ['an unknown tensor field', handMade({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, new Uint8Array(4)), /t: unknown field\(s\) extra/],
  ])('refuses %s, naming it', (_title, file, message) => {
    expect(() => decodeSafetensors(file)).toThrow(SafetensorsError);
    expect(() => decodeSafetensors(file)).toThrow(message);
  });
});
