import { describe, expect, it } from 'vitest';
import { DatasetValidationError } from '../../src/datasets/errors.ts';
import { DatasetCsvQuerySchema, DatasetJsonUploadSchema, parseCsvUpload, parseJsonUpload } from '../../src/datasets/upload.ts';

function problems(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof DatasetValidationError) return e.errors;
    throw e;
  }
  throw new Error('expected a DatasetValidationError');
}

const body = (over: Record<string, unknown> = {}) =>
  DatasetJsonUploadSchema.parse({
    name: 'xor',
    inputShape: [2],
    classes: 2,
    train: { x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 1, 1, 0] },
    test: { x: [[0, 1]], y: [1] },
    ...over,
  });

describe('parseJsonUpload', () => {
  it('packs flat samples into Float32 and labels into Uint8', () => {
    const d = parseJsonUpload(body());
    expect(d.train.n).toBe(4);
    expect([...d.train.x]).toEqual([0, 0, 0, 1, 1, 0, 1, 1]);
    expect([...d.train.y]).toEqual([0, 1, 1, 0]);
    expect(d.test.n).toBe(1);
    expect(d.format).toBe('json');
  });

  it('accepts shaped [C, H, W] samples as well as flat ones', () => {
    const d = parseJsonUpload(
      DatasetJsonUploadSchema.parse({
        name: 'img',
        inputShape: [1, 2, 2],
        classes: 3,
        train: { x: [[[[1, 2], [3, 4]]], [5, 6, 7, 8]], y: [2, 0] },
        test: { x: [[[[0, 0], [0, 1]]]], y: [1] },
      }),
    );
    expect([...d.train.x]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('names every bad sample and label: non-numbers, wrong shapes, out-of-range or fractional labels, count mismatch', () => {
    const p = problems(() =>
      parseJsonUpload(
        body({
          train: { x: [[0, 0], [0, 'NaN'], [1], [1, null], 5], y: [0, 1, 2, -1, 0.5] },
          test: { x: [[0, 1]], y: [1, 0] },
        }),
      ),
    );
    expect(p.map((e) => e.path)).toEqual(['train.x.1', 'train.x.2', 'train.x.3', 'train.x.4', 'train.y.2', 'train.y.3', 'train.y.4', 'test.y']);
    expect(p[0].message).toMatch(/not a finite number/);
    expect(p[1].message).toMatch(/length 1, expected length 2/);
    expect(p[4].message).toMatch(/label 2 is outside \[0, 2\)/);
    expect(p[6].message).toMatch(/not an integer/);
    expect(p[7].message).toMatch(/2 labels for 1 samples/);
  });

  it('lists at most 100 problems and says how many more there were', () => {
    const x = Array.from({ length: 150 }, () => [0]);
    const p = problems(() => parseJsonUpload(body({ train: { x, y: x.map(() => 0) } })));
    expect(p).toHaveLength(101);
    expect(p[100].message).toMatch(/50 more problems/);
  });

  it('refuses empty splits and unknown fields through the schema', () => {
    expect(DatasetJsonUploadSchema.safeParse({ ...body(), test: { x: [], y: [] } }).success).toBe(false);
    expect(DatasetJsonUploadSchema.safeParse({ ...body(), extra: 1 }).success).toBe(false);
    expect(DatasetJsonUploadSchema.safeParse({ ...body(), classes: 300 }).success).toBe(false);
  });
});

describe('parseCsvUpload', () => {
  const q = (over: Record<string, string> = {}) => DatasetCsvQuerySchema.parse({ name: 'c', inputShape: '3', classes: '3', ...over });
  const rows = Array.from({ length: 10 }, (_, i) => `${i % 3},${i},${i + 0.5},${-i}`).join('\n');

  it('reads label-first rows, skips a header and blank lines, and splits by a seeded permutation', () => {
    const d = parseCsvUpload(`label,a,b,c\n${rows}\n\n`, q({ testFraction: '0.3', seed: '7' }));
    expect(d.train.n).toBe(7);
    expect(d.test.n).toBe(3);
    // Every row lands in exactly one split, values intact.
    const firsts = [...d.train.x.filter((_, i) => i % 3 === 0), ...d.test.x.filter((_, i) => i % 3 === 0)].sort((a, b) => a - b);
    expect(firsts).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const s of [d.train, d.test]) for (let r = 0; r < s.n; r++) expect(s.y[r]).toBe(s.x[r * 3] % 3);
    // The same seed gives the same split; another seed another one.
    expect([...parseCsvUpload(rows, q({ testFraction: '0.3', seed: '7' })).test.x]).toEqual([...d.test.x]);
    expect([...parseCsvUpload(rows, q({ testFraction: '0.3', seed: '8' })).test.x]).not.toEqual([...d.test.x]);
  });

  it('names the file line of NaN values, bad labels and wrong field counts', () => {
    const p = problems(() => parseCsvUpload('label,a,b,c\n0,1,2,3\n1,NaN,2,3\n3,1,2,3\n1,2,3\n0,1,2,x\n1.5,1,2,3', q()));
    expect(p.map((e) => e.path)).toEqual(['line.3', 'line.4', 'line.5', 'line.6', 'line.7']);
    expect(p[0].message).toMatch(/column 2: "NaN" is not a finite number/);
    expect(p[1].message).toMatch(/label 3 is outside \[0, 3\)/);
    expect(p[2].message).toMatch(/has 3 fields, expected 4/);
    expect(p[4].message).toMatch(/not an integer/);
  });

  it('needs at least one train and one test sample', () => {
    expect(problems(() => parseCsvUpload('0,1,2,3', q()))[0].message).toMatch(/at least 1 of each/);
  });

  it('validates the query: shape, classes, fraction', () => {
    expect(DatasetCsvQuerySchema.safeParse({ name: 'c', inputShape: '1,28', classes: '10' }).success).toBe(false);
    expect(DatasetCsvQuerySchema.safeParse({ name: 'c', inputShape: '1,28,28', classes: '1' }).success).toBe(false);
    expect(DatasetCsvQuerySchema.safeParse({ name: 'c', inputShape: '4', classes: '2', testFraction: '1.5' }).success).toBe(false);
    expect(DatasetCsvQuerySchema.parse({ name: 'c', inputShape: '1,28,28', classes: '10' })).toMatchObject({ inputShape: [1, 28, 28], classes: 10, testFraction: 0.2, seed: 0 });
  });
});
