import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobSpecSchema } from '../../src/contracts/job-spec.ts';
import { flattenIssues } from '../../src/server/zod-issues.ts';

const flat = (schema: z.ZodType, input: unknown) => {
  const r = schema.safeParse(input);
  if (r.success) return [];
  return flattenIssues(r.error.issues, input);
};
const base = { dataset: { id: 'mnist' }, training: { epochs: 1, batchSize: 10 } };

describe('flattenIssues', () => {
  it('names each unknown field at its own path', () => {
    expect(flat(z.strictObject({ a: z.number() }), { a: 1, b: 2, c: 3 })).toEqual([
      { path: 'b', message: 'unknown field' },
      { path: 'c', message: 'unknown field' },
    ]);
  });

  it('reports "5" for a number as a type error (nothing coerced)', () => {
    expect(flat(JobSpecSchema, { ...base, model: { preset: 'mlp' }, training: { epochs: '5', batchSize: 10 } })).toEqual([
      { path: 'training.epochs', message: 'Invalid input: expected number, received string' },
    ]);
  });

  it('picks the layers branch of `model` for explicit layers, with nested paths', () => {
    const errors = flat(JobSpecSchema, { ...base, model: { inputShape: [1, 28, 28], layers: [{ type: 'dense', units: 0 }, { type: 'conv2d', filters: 2 }] } });
    expect(errors.map((e) => e.path)).toEqual(['model.layers.0.units', 'model.layers.1.kernelSize']);
  });

  it('picks the preset branch when `preset` is present, even with a misspelled preset', () => {
    expect(flat(JobSpecSchema, { ...base, model: { preset: 'mlp', hiddenLayers: -1 } }).map((e) => e.path)).toEqual(['model.hiddenLayers']);
    const wrong = flat(JobSpecSchema, { ...base, model: { preset: 'mpl' } });
    expect(wrong).toHaveLength(1);
    expect(wrong[0]!.path).toBe('model.preset');
    expect(wrong[0]!.message).toMatch(/mlp/);
  });

  it('treats `preset` as the preset branch even when `layers` is there too', () => {
    const errors = flat(JobSpecSchema, { ...base, model: { preset: 'mlp', inputShape: [784], layers: [{ type: 'relu' }] } });
    expect(errors).toEqual([{ path: 'model.layers', message: 'unknown field' }]);
  });

  it('says what kinds a union accepts when the value fits none', () => {
    const errors = flat(JobSpecSchema, { ...base, model: 'mlp' });
    expect(errors).toEqual([{ path: 'model', message: 'expected object, received string' }]);
    const size = flat(JobSpecSchema, { ...base, model: { inputShape: [2], layers: [{ type: 'maxpool2d', poolSize: '2' }] } });
    expect(size).toEqual([{ path: 'model.layers.0.poolSize', message: 'expected number | tuple, received string' }]);
  });

  it('reports every problem of a body at once', () => {
    const errors = flat(JobSpecSchema, { dataset: { id: 3 }, model: { inputShape: [2], layers: [] }, optimizer: { type: 'adamw' }, training: { epochs: 0, batchSize: 1.5 }, x: 1 });
    expect(errors.map((e) => e.path).sort()).toEqual(['dataset.id', 'model.layers', 'optimizer.type', 'training.batchSize', 'training.epochs', 'x']);
  });
});
