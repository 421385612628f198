import { z } from 'zod';
import { InputShapeSchema, Rng } from '../engine/index.ts';
import type { FieldProblem } from '../models/errors.ts';
import type { RawSplit } from '../redis/dataset-store.ts';
import { DatasetValidationError } from './errors.ts';

/**
 * Parsing and validation of dataset uploads (`POST /v1/datasets`), JSON or CSV. Everything is checked before
 * anything is stored: shapes, finite numbers, integer labels in [0, classes), at least one train and one test
 * sample. Every problem is reported with its field path (`train.x.12`, `train.y.3`, `line.7`), up to
 * {@link MAX_PROBLEMS} of them.
 */

/** Beyond this many problems the rest are summarised in one entry (a bad 100 MB file should not echo itself). */
export const MAX_PROBLEMS = 100;
/** Labels are stored as Uint8. */
export const MAX_CLASSES = 256;

const NameSchema = z.string().min(1).max(200);
const ClassesSchema = z.int().min(2).max(MAX_CLASSES);

const SplitSchema = z.strictObject({
  x: z.array(z.unknown()).min(1).meta({ description: 'Samples: each a flat array of prod(inputShape) numbers, or nested to inputShape.' }),
  y: z.array(z.unknown()).min(1).meta({ description: 'One integer label in [0, classes) per sample.' }),
});

/** The JSON upload body. Samples are checked one by one afterwards (faster, and each problem names its index). */
export const DatasetJsonUploadSchema = z
  .strictObject({
    name: NameSchema,
    inputShape: InputShapeSchema,
    classes: ClassesSchema,
    train: SplitSchema,
    test: SplitSchema,
  })
  .meta({ id: 'DatasetUpload' });
export type DatasetJsonUpload = z.infer<typeof DatasetJsonUploadSchema>;

/** Query of a CSV upload: `?name=digits&inputShape=1,28,28&classes=10&testFraction=0.2&seed=0`. */
export const DatasetCsvQuerySchema = z.strictObject({
  name: NameSchema,
  inputShape: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated positive integers, e.g. 1,28,28')
    .transform((s) => s.split(',').map(Number))
    .pipe(InputShapeSchema),
  classes: z
    .string()
    .regex(/^\d+$/, 'an integer')
    .transform(Number)
    .pipe(ClassesSchema),
  /** Share of the rows (chosen by a permutation seeded with `seed`) that become the test split. */
  testFraction: z
    .string()
    .regex(/^(0?\.\d+|0|1)$/, 'a number in (0, 1)')
    .transform(Number)
    .pipe(z.number().gt(0).lt(1))
    .default(0.2),
  seed: z.string().regex(/^\d+$/).transform(Number).pipe(z.int().min(0).max(2 ** 32 - 1)).default(0),
  /** `auto` (default): the first line is a header when its first field is not a number. */
  header: z.enum(['auto', 'true', 'false']).default('auto'),
});
export type DatasetCsvQuery = z.infer<typeof DatasetCsvQuerySchema>;

/** A validated upload, ready for `saveDataset`. */
export interface ParsedDataset {
  name: string;
  format: 'json' | 'csv';
  inputShape: [number] | [number, number, number];
  classes: number;
  train: RawSplit;
  test: RawSplit;
}

class Problems {
  readonly list: FieldProblem[] = [];
  private dropped = 0;
  add(path: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push({ path, message });
    else this.dropped++;
  }
  throwIfAny(): void {
    if (this.dropped) this.list.push({ path: '', message: `${this.dropped} more problems not listed` });
    if (this.list.length) throw new DatasetValidationError(this.list);
  }
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Copy one sample (flat, or nested exactly as `shape`) into `out` at `offset`. Returns a message describing
 * the first problem, or null when the sample is good.
 */
function writeSample(sample: unknown, shape: readonly number[], out: Float32Array, offset: number): string | null {
  const total = sizeOf(shape);
  if (!Array.isArray(sample)) return `must be an array of ${total} numbers or nested to [${shape.join(', ')}]`;
  if (sample.length === total && (total !== shape[0] || shape.length === 1 || sample.every((v) => typeof v === 'number'))) {
    // Flat form (a [C,H,W] sample with H=W=1 is ambiguous only in theory: a flat array of numbers wins).
    for (let i = 0; i < total; i++) {
      const v = sample[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) return `value ${i} is ${JSON.stringify(v) ?? String(v)}, not a finite number`;
      out[offset + i] = v;
    }
    return null;
  }
  let pos = offset;
  const walk = (node: unknown, depth: number, at: number[]): string | null => {
    if (depth === shape.length) {
      if (typeof node !== 'number' || !Number.isFinite(node)) return `value at [${at.join(', ')}] is ${JSON.stringify(node) ?? String(node)}, not a finite number`;
      out[pos++] = node;
      return null;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `length ${node.length}` : typeof node;
      return `${at.length ? `[${at.join(', ')}]` : 'sample'} has ${got}, expected length ${shape[depth]} (flat ${total} values or nested [${shape.join(', ')}])`;
    }
    for (let i = 0; i < node.length; i++) {
      at.push(i);
      const m = walk(node[i], depth + 1, at);
      at.pop();
      if (m) return m;
    }
    return null;
  };
  return walk(sample, 0, []);
}

function checkLabel(v: unknown, classes: number): string | null {
  if (typeof v !== 'number' || !Number.isInteger(v)) return `label ${JSON.stringify(v) ?? String(v)} is not an integer`;
  if (v < 0 || v >= classes) return `label ${v} is outside [0, ${classes})`;
  return null;
}

function jsonSplit(split: { x: unknown[]; y: unknown[] }, which: 'train' | 'test', shape: readonly number[], classes: number, p: Problems): RawSplit {
  const n = split.x.length;
  const size = sizeOf(shape);
  const x = new Float32Array(n * size);
  const y = new Uint8Array(n);
  if (split.y.length !== n) p.add(`${which}.y`, `has ${split.y.length} labels for ${n} samples`);
  for (let i = 0; i < n; i++) {
    const m = writeSample(split.x[i], shape, x, i * size);
    if (m) p.add(`${which}.x.${i}`, m);
  }
  for (let i = 0; i < split.y.length; i++) {
    const m = checkLabel(split.y[i], classes);
    if (m) p.add(`${which}.y.${i}`, m);
    else if (i < n) y[i] = split.y[i] as number;
  }
  return { x, y, n };
}

/** Validate a JSON upload (already parsed by {@link DatasetJsonUploadSchema}). */
export function parseJsonUpload(body: DatasetJsonUpload): ParsedDataset {
  const p = new Problems();
  const train = jsonSplit(body.train, 'train', body.inputShape, body.classes, p);
  const test = jsonSplit(body.test, 'test', body.inputShape, body.classes, p);
  p.throwIfAny();
  return { name: body.name, format: 'json', inputShape: body.inputShape, classes: body.classes, train, test };
}

const NUMERIC = /^[+-]?(\d|\.\d|nan|inf)/i;

/**
 * Validate a CSV upload: one sample per line, the label first, then prod(inputShape) values in NCHW order.
 * Blank lines are ignored. A seeded permutation picks ⌈testFraction·rows⌉ rows for the test split (kept in
 * file order), the rest train; problems name the file line (`line.7`).
 */
export function parseCsvUpload(text: string, q: DatasetCsvQuery): ParsedDataset {
  const p = new Problems();
  const size = sizeOf(q.inputShape);
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  const hasHeader = q.header === 'true' || (q.header === 'auto' && first < lines.length && !NUMERIC.test(lines[first].split(',')[0].trim()));
  if (hasHeader) first++;
  const rows: number[] = [];
  for (let i = first; i < lines.length; i++) if (lines[i].trim() !== '') rows.push(i);
  const n = rows.length;
  const x = new Float32Array(n * size);
  const y = new Uint8Array(n);
  rows.forEach((li, r) => {
    const path = `line.${li + 1}`;
    const fields = lines[li].split(',');
    if (fields.length !== size + 1) {
      p.add(path, `has ${fields.length} fields, expected ${size + 1} (label, then ${size} values)`);
      return;
    }
    const label = fields[0].trim();
    const lv = /^[+-]?\d+$/.test(label) ? Number(label) : label;
    const lm = checkLabel(lv, q.classes);
    if (lm) p.add(path, `column 1: ${lm}`);
    else y[r] = lv as number;
    for (let j = 0; j < size; j++) {
      const s = fields[j + 1].trim();
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v)) {
        p.add(path, `column ${j + 2}: ${JSON.stringify(s)} is not a finite number`);
        return;
      }
      x[r * size + j] = v;
    }
  });
  const nTest = Math.ceil(n * q.testFraction);
  if (n - nTest < 1 || nTest < 1) p.add('', `${n} data rows with testFraction ${q.testFraction} leave ${n - nTest} train and ${nTest} test samples; at least 1 of each is needed`);
  p.throwIfAny();
  // Fisher–Yates with the engine's seeded generator: the same file and seed give the same split.
  const rng = new Rng(q.seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const isTest = new Uint8Array(n);
  for (let i = 0; i < nTest; i++) isTest[perm[i]] = 1;
  const pick = (want: number, count: number): RawSplit => {
    const sx = new Float32Array(count * size);
    const sy = new Uint8Array(count);
    let k = 0;
    for (let r = 0; r < n; r++) {
      if (isTest[r] !== want) continue;
      sx.set(x.subarray(r * size, (r + 1) * size), k * size);
      sy[k++] = y[r];
    }
    return { x: sx, y: sy, n: count };
  };
  return { name: q.name, format: 'csv', inputShape: q.inputShape, classes: q.classes, train: pick(0, n - nTest), test: pick(1, nTest) };
}
