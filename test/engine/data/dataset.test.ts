import { describe, expect, it } from 'vitest';
import { makeDataset } from '../../../src/engine/data/dataset.ts';
import { SpecError } from '../../../src/engine/errors.ts';

describe('makeDataset', () => {
  it('wraps valid samples', () => {
    const d = makeDataset(new Float32Array([0, 1, 2, 3, 4, 5]), [0, 2, 1], [2], 3);
    expect(d.n).toBe(3);
    expect(d.y).toEqual(new Uint8Array([0, 2, 1]));
    expect(d.inputShape).toEqual([2]);
  });

  it('rejects a NaN or infinite value, naming its index', () => {
    expect(() => makeDataset(new Float32Array([0, NaN, 2, 3]), [0, 1], [2], 2)).toThrow(/x\[1\].*NaN/);
    expect(() => makeDataset(new Float32Array([0, 1, Infinity, 3]), [0, 1], [2], 2)).toThrow(/x\[2\]/);
  });

  it('rejects a length that does not match labels × shape', () => {
    expect(() => makeDataset(new Float32Array(5), [0, 1], [2], 2)).toThrow(/5 values, expected 2 samples × 2 = 4/);
    expect(() => makeDataset(new Float32Array(2 * 16), [0, 1], [1, 4, 4], 2)).not.toThrow();
    expect(() => makeDataset(new Float32Array(2 * 16), [0, 1], [4, 4], 2)).toThrow(SpecError);
  });

  it('rejects a label out of range or not an integer', () => {
    expect(() => makeDataset(new Float32Array(4), [0, 2], [2], 2)).toThrow(/y\[1\] = 2/);
    expect(() => makeDataset(new Float32Array(4), [0, -1], [2], 2)).toThrow(/y\[1\] = -1/);
    expect(() => makeDataset(new Float32Array(4), [0, 0.5], [2], 2)).toThrow(/y\[1\] = 0.5/);
  });

  it('rejects no samples and a bad class count', () => {
    expect(() => makeDataset(new Float32Array(0), [], [2], 2)).toThrow(/at least one sample/);
    expect(() => makeDataset(new Float32Array(2), [0], [2], 1)).toThrow(/classes/);
    try {
      makeDataset(new Float32Array(2), [5], [2], 3);
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      expect((e as SpecError).code).toBe('INVALID_DATASET');
      expect((e as SpecError).path).toEqual(['dataset', 'y']);
    }
  });
});
