import { describe, expect, it } from 'vitest';
import { predictAll, PredictInputError, toBatch } from '../../src/models/predict.ts';

describe('toBatch', () => {
  const img = (v: number) => [[[v, v + 1], [v + 2, v + 3]]]; // shape [1, 2, 2]

  it.each([
    ['one flat sample', [1, 2, 3, 4], 1, true, [1, 2, 3, 4]],
    ['one shaped sample', img(1), 1, true, [1, 2, 3, 4]],
    ['many flat samples', [[1, 2, 3, 4], [5, 6, 7, 8]], 2, false, [1, 2, 3, 4, 5, 6, 7, 8]],
    ['many shaped samples', [img(1), img(5)], 2, false, [1, 2, 3, 4, 5, 6, 7, 8]],
    ['flat and shaped mixed', [[1, 2, 3, 4], img(5)], 2, false, [1, 2, 3, 4, 5, 6, 7, 8]],
  ])('reads %s for input shape [1, 2, 2]', (_t, inputs, n, single, values) => {
    const b = toBatch(inputs as unknown[], [1, 2, 2]);
    expect(b.n).toBe(n);
    expect(b.single).toBe(single);
    expect([...b.x]).toEqual(values);
  });

  it('reads one and many samples of a flat input shape', () => {
    expect(toBatch([1, 2, 3], [3]).n).toBe(1);
    expect(toBatch([[1, 2, 3], [4, 5, 6]], [3]).n).toBe(2);
  });

  it('names every wrong sample by index', () => {
    let err: PredictInputError | undefined;
    try {
      toBatch([[1, 2, 3], [1, 2], [1, 2, 3], [[1, 2, 3]], [1, null, 3]], [3]);
    } catch (e) {
      err = e as PredictInputError;
    }
    expect(err).toBeInstanceOf(PredictInputError);
    expect(err!.errors.map((e) => e.path)).toEqual(['inputs.1', 'inputs.3', 'inputs.4']);
    expect(err!.errors[0].message).toMatch(/2 values, expected 3/);
    expect(err!.errors[2].message).toMatch(/value 1 is not a finite number/);
  });

  it('refuses an empty list', () => {
    expect(() => toBatch([], [3])).toThrow(PredictInputError);
  });
});

describe('predictAll', () => {
  it('chunks the batch and takes the arg-max of each row', () => {
    const calls: number[] = [];
    const predict = (x: Float32Array, n: number) => {
      calls.push(n);
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) out.set(x[i] > 0 ? [0.25, 0.75] : [0.5, 0.5], i * 2);
      return out;
    };
    const r = predictAll(predict, Float32Array.from([1, -1, 2]), 3, 1, 2, 2);
    expect(calls).toEqual([2, 1]);
    expect(r).toEqual([
      { class: 1, probabilities: [0.25, 0.75] },
      { class: 0, probabilities: [0.5, 0.5] },
      { class: 1, probabilities: [0.25, 0.75] },
    ]);
  });
});
