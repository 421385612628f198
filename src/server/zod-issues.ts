import type { z } from 'zod';
import type { FieldError } from './errors.ts';

/**
 * Turn zod issues into the problem body's `errors[]`: one entry per bad field, dotted paths.
 *
 * - An unknown key becomes one error per key at that key's path ("unknown field"), so each is named.
 * - A union (`model` is explicit layers | preset; sizes are `n | [h, w]`) reports the issues of the ONE branch
 *   the input was aiming at, not "Invalid input": see {@link pickBranch}. When every branch rejects the value's
 *   type outright, a single "expected A | B" error is reported instead.
 */
export function flattenIssues(issues: readonly z.core.$ZodIssue[], input: unknown, prefix: PropertyKey[] = []): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) flattenOne(issue, input, prefix, out);
  // The same field may be reached twice (nested unions): keep the first message per (path, message).
  const seen = new Set<string>();
  return out.filter((e) => {
    const k = `${e.path}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function flattenOne(issue: z.core.$ZodIssue, root: unknown, prefix: PropertyKey[], out: FieldError[]): void {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    for (const k of issue.keys) out.push({ path: formatPath([...path, k]), message: 'unknown field' });
    return;
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const value = valueAt(root, path);
    const rootTypeErrors = issue.errors.map((branch) => branch.filter((i) => i.path.length === 0 && i.code === 'invalid_type'));
    if (rootTypeErrors.every((b) => b.length > 0)) {
      // No branch accepts this kind of value at all: say what kinds would do.
      const expected = [...new Set(rootTypeErrors.map((b) => (b[0] as z.core.$ZodIssueInvalidType).expected))];
      out.push({ path: formatPath(path), message: `expected ${expected.join(' | ')}, received ${describe(value)}` });
      return;
    }
    const branch = pickBranch(issue.errors, value);
    // Branch issues have paths relative to the union; the input below it is found from the root and `path`.
    for (const sub of branch) flattenOne(sub, root, path, out);
    return;
  }
  out.push({ path: formatPath(path), message: issue.message });
}

/**
 * Keys that say which branch an object is written for: a branch that calls one of them unknown is not the one the
 * input aims at (`model` with `preset` is a preset, whatever else it carries).
 */
const AIMING_KEYS = new Set(['preset']);

/**
 * The union branch the input was aiming at, scored by how badly each branch rejects it:
 * a wrong kind of value, or a discriminator the input does not even carry, rules a branch out (1000);
 * each field the branch does not know costs 10 (the input was written for another branch: a `preset` key
 * sends `model` to the preset branch); every other issue costs 1 (the branch fits, details are wrong).
 * Ties go to the earlier branch.
 */
export function pickBranch(branches: readonly (readonly z.core.$ZodIssue[])[], value: unknown): readonly z.core.$ZodIssue[] {
  let best = branches[0] ?? [];
  let bestScore = Infinity;
  for (const branch of branches) {
    let score = 0;
    for (const i of branch) {
      if (i.path.length === 0 && i.code === 'invalid_type') score += 1000;
      else if (i.code === 'invalid_union' && i.errors.length === 0 && 'discriminator' in i) {
        score += valueAt(value, i.path) === undefined ? 1000 : 1;
      } else if (i.code === 'unrecognized_keys' && i.path.length === 0) {
        for (const k of i.keys) score += AIMING_KEYS.has(k) ? 1000 : 10;
      }
      else score += 1;
    }
    if (score < bestScore) {
      best = branch;
      bestScore = score;
    }
  }
  return best;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
