import type { FieldProblem } from './errors.ts';

/**
 * Request-side handling of `POST /v1/models/:id/predict`: `inputs` holds one sample or many, each flat
 * (prod(inputShape) numbers) or shaped (nested to inputShape). The nesting depth tells which:
 * depth 1 is one flat sample, depth = rank(inputShape) (> 1) one shaped sample; otherwise `inputs` is a list
 * of samples, each flat or shaped. Problems name the sample (`inputs.3`).
 */

export class PredictInputError extends Error {
  readonly code = 'INVALID_INPUT';
  constructor(readonly errors: FieldProblem[]) {
    super(errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; '));
    this.name = 'PredictInputError';
  }
}

const MAX_PROBLEMS = 100;

function depth(v: unknown): number {
  let d = 0;
  while (Array.isArray(v)) {
    d++;
    v = v[0];
  }
  return d;
}

/** Copy one sample into `out`; returns null or a message naming what is wrong. */
function copySample(sample: unknown, shape: readonly number[], out: Float32Array, offset: number): string | null {
  const total = shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(sample)) return `must be an array (${total} numbers, or nested to [${shape.join(', ')}])`;
  if (sample.length === total && depth(sample) === 1) {
    for (let i = 0; i < total; i++) {
      const v: unknown = sample[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) return `value ${i} is not a finite number`;
      out[offset + i] = v;
    }
    return null;
  }
  if (depth(sample) === 1) return `has ${sample.length} values, expected ${total} (input shape [${shape.join(', ')}])`;
  let pos = offset;
  const at: number[] = [];
  const walk = (node: unknown, d: number): string | null => {
    if (d === shape.length) {
      if (typeof node !== 'number' || !Number.isFinite(node)) return `value at [${at.join(', ')}] is not a finite number`;
      out[pos++] = node;
      return null;
    }
    if (!Array.isArray(node) || node.length !== shape[d]) {
      return `${at.length ? `[${at.join(', ')}]` : 'sample'} has ${Array.isArray(node) ? `length ${node.length}` : typeof node}, expected ${shape[d]} (input shape [${shape.join(', ')}])`;
    }
    for (let i = 0; i < node.length; i++) {
      at.push(i);
      const m = walk(node[i], d + 1);
      at.pop();
      if (m) return m;
    }
    return null;
  };
  return walk(sample, 0);
}

/** `inputs` → a batch (n × prod(inputShape), NCHW). Throws {@link PredictInputError} listing every bad sample. */
export function toBatch(inputs: unknown[], inputShape: readonly number[]): { x: Float32Array; n: number; single: boolean } {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const d = depth(inputs);
  const single = d === 1 || (inputShape.length > 1 && d === inputShape.length);
  const samples = single ? [inputs] : inputs;
  if (samples.length === 0) throw new PredictInputError([{ path: 'inputs', message: 'no samples' }]);
  const x = new Float32Array(samples.length * size);
  const problems: FieldProblem[] = [];
  samples.forEach((s, i) => {
    const m = copySample(s, inputShape, x, i * size);
    if (m && problems.length < MAX_PROBLEMS) problems.push({ path: single ? 'inputs' : `inputs.${i}`, message: m });
  });
  if (problems.length) throw new PredictInputError(problems);
  return { x, n: samples.length, single };
}

/** One sample's answer: the arg-max class and the softmax probabilities. */
export interface Prediction {
  class: number;
  probabilities: number[];
}

/**
 * Run `predict` (softmax probabilities, eval mode) in chunks of `chunk` samples (bounded memory) and pick the
 * arg-max of each row (the first on ties).
 */
export function predictAll(predict: (x: Float32Array, n: number) => Float32Array, x: Float32Array, n: number, size: number, classes: number, chunk = 256): Prediction[] {
  const out: Prediction[] = [];
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const p = predict(x.subarray(start * size, (start + m) * size), m);
    for (let r = 0; r < m; r++) {
      const row = Array.from(p.subarray(r * classes, (r + 1) * classes));
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
      out.push({ class: best, probabilities: row });
    }
  }
  return out;
}
