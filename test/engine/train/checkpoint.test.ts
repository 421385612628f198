import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/engine/errors.ts';
import { type Checkpoint, deserializeCheckpoint, serializeCheckpoint } from '../../../src/engine/train/checkpoint.ts';

function sample(): Checkpoint {
  return {
    epoch: 2,
    iteration: 20,
    rngState: [1, 2, 3, 0xffffffff],
    weights: [
      { name: '0.weight', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-30, -0, 7]) },
      { name: '0.bias', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
    ],
    optimizerState: { step: 20, slots: [{ name: '0.weight.v', shape: [2, 3], data: new Float32Array([9, 8, 7, 6, 5, 4]) }] },
    history: [
      { epoch: 1, iteration: 10, trainLoss: 2.3, trainAccuracy: 0.1, testLoss: NaN, testAccuracy: 0.1, learningRate: 0.01, durationMs: 12.5, samplesPerSecond: 1000 },
      { epoch: 2, iteration: 20, trainLoss: Infinity, trainAccuracy: 0.2, testLoss: 1.9, testAccuracy: 0.3, learningRate: 0.01, durationMs: 11, samplesPerSecond: 1100 },
    ],
    best: { epoch: 1, value: 0.1, weights: [{ name: '0.weight', shape: [2, 3], data: new Float32Array([6, 5, 4, 3, 2, 1]) }] },
  };
}

describe('serializeCheckpoint / deserializeCheckpoint', () => {
  it('round-trips every field, float bits included (NaN/Infinity in history too)', () => {
    const c = sample();
    const bytes = serializeCheckpoint(c);
    const back = deserializeCheckpoint(bytes);
    expect(back).toEqual(c);
    expect(Object.is(back.weights[0]!.data[4], -0)).toBe(true);
    expect(back.history[0]!.testLoss).toBeNaN();
    expect(back.history[1]!.trainLoss).toBe(Infinity);
  });

  it('pads the JSON header to 8 bytes and stores one little-endian float32 blob', () => {
    const bytes = serializeCheckpoint(sample());
    const dv = new DataView(bytes.buffer);
    const h = dv.getUint32(0, true);
    expect(h % 8).toBe(0);
    expect(bytes.length - 8 - h).toBe((6 + 3 + 6 + 6) * 4);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + h))) as { dtype: string; tensors: { name: string; offset: number }[] };
    expect(header.dtype).toBe('float32le');
    expect(header.tensors.map((t) => t.offset)).toEqual([0, 6, 9, 15]);
    // First float of the blob is 0.weight[0] = 1.0 (0x3f800000 little-endian).
    expect(dv.getFloat32(8 + h, true)).toBe(1);
  });

  it('reads bytes at an odd offset (a Buffer slice from Redis) by copying before viewing as float32', () => {
    const bytes = serializeCheckpoint(sample());
    const holder = new Uint8Array(bytes.length + 3);
    holder.set(bytes, 3);
    const back = deserializeCheckpoint(holder.subarray(3));
    expect(back.weights[1]!.data).toEqual(new Float32Array([0.1, 0.2, 0.3]));
  });

  it('round-trips a checkpoint without best and with an empty optimizer state', () => {
    const c = sample();
    delete c.best;
    c.optimizerState = { step: 0, slots: [] };
    const back = deserializeCheckpoint(serializeCheckpoint(c));
    expect(back.best).toBeUndefined();
    expect(back.optimizerState).toEqual({ step: 0, slots: [] });
  });

  it('refuses truncated or foreign bytes with BAD_CHECKPOINT', () => {
    const bytes = serializeCheckpoint(sample());
    expect(() => deserializeCheckpoint(bytes.subarray(0, 5))).toThrow(EngineError);
    expect(() => deserializeCheckpoint(bytes.subarray(0, bytes.length - 4))).toThrow(/does not fit/);
    expect(() => deserializeCheckpoint(new TextEncoder().encode('{"hello": 1}    '))).toThrow(/checkpoint/);
  });
});
