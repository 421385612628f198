/**
 * `npm run bench`: the PERF.md workloads on keiko (WebAssembly SIMD backend, 1 and 2 threads) and on
 * TF.js 4.22 cpu, each measurement in its own child process so that its peak RSS is its own.
 *
 *   npm run bench [-- --workloads mlp,simple,deep,alexnet] [--threads 1,2] [--iters N] [--repeats R]
 *                 [--json] [--smoke] [--no-tfjs] [--tfjs-iters N] [--tfjs-workloads mlp,simple,deep] [--backend auto|native|wasm|js] [--anchors FILE]
 *
 * --backend auto (default) uses the native GEMM addon when it was built, else WebAssembly alone.
 *
 * --json prints one JSON object per line, like /work/shared/perf/run-anchors.sh, instead of the table.
 * --anchors FILE reads run-anchors.sh's JSON lines and adds NumPy/PyTorch columns and ratios.
 * --smoke runs one tiny batch per workload (no alexnet), to check the benchmark still works: no timing
 * means anything in this mode.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchData, runKeiko, WORKLOADS, type WorkloadName } from './workloads.ts';

interface Args {
  workloads: WorkloadName[];
  threads: number[];
  iters?: number;
  repeats: number;
  json: boolean;
  smoke: boolean;
  tfjs: boolean;
  tfjsIters?: number;
  tfjsWorkloads: string[];
  backend: 'auto' | 'native' | 'wasm' | 'js';
  anchors?: string;
  child?: 'keiko' | 'tfjs';
  dataDir?: string;
}

function parseArgs(argv: string[]): Args {
  const get = (k: string): string | undefined => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const has = (k: string): boolean => argv.includes(`--${k}`);
  const smoke = has('smoke');
  const workloads = (get('workloads') ?? (smoke ? 'mlp,simple,deep' : WORKLOADS.join(','))).split(',').map((w) => {
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w} (${WORKLOADS.join(', ')})`);
    return w as WorkloadName;
  });
  const cores = availableParallelism();
  const threads = [...new Set((get('threads') ?? '1,2').split(',').map(Number).map((t) => Math.max(1, Math.min(t, cores))))];
  const num = (k: string): number | undefined => (get(k) === undefined ? undefined : Number(get(k)));
  return {
    workloads, threads, iters: num('iters'), repeats: num('repeats') ?? (smoke ? 1 : 3), json: has('json'), smoke,
    tfjs: !has('no-tfjs'), tfjsIters: num('tfjs-iters'), tfjsWorkloads: (get('tfjs-workloads') ?? 'mlp,simple,deep').split(','), backend: (['native', 'wasm', 'js'].includes(get('backend') ?? '') ? get('backend') : 'auto') as Args['backend'], anchors: get('anchors'),
    child: get('child') as Args['child'], dataDir: get('data-dir'),
  };
}

/**
 * mnist (8,000 train / 2,000 test) through the engine's loader, done once in the parent and handed to the
 * children as raw float32/uint8 files — as the reference scripts read data/x.f32 — so that a child's peak
 * RSS is training's, not the JSON parse of the `mnist` package (about 500 MB of RSS by itself).
 */
async function exportData(dir: string): Promise<void> {
  const { loadBuiltinDataset } = await import('../src/engine/data/builtin.ts');
  const { train, test } = await loadBuiltinDataset({ id: 'mnist', trainSize: 8000, testSize: 2000, seed: 0 });
  const x = new Float32Array(train.x.length + test.x.length);
  x.set(train.x);
  x.set(test.x, train.x.length);
  writeFileSync(join(dir, 'x.f32'), new Uint8Array(x.buffer));
  writeFileSync(join(dir, 'y.u8'), Uint8Array.from([...Array.from(train.y), ...Array.from(test.y)]));
}

function loadData(dir: string): BenchData {
  const xb = readFileSync(join(dir, 'x.f32'));
  const x = new Float32Array(xb.buffer.slice(xb.byteOffset, xb.byteOffset + xb.byteLength));
  const y = new Uint8Array(readFileSync(join(dir, 'y.u8')));
  return { xTrain: x.subarray(0, 8000 * 784), yTrain: y.subarray(0, 8000), xTest: x.subarray(8000 * 784), yTest: y.subarray(8000) };
}

const peakRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

/** One measurement in this (child) process; prints `RESULT {json}`. */
async function child(a: Args): Promise<void> {
  const name = a.workloads[0]!;
  const threads = a.threads[0]!;
  const data = name === 'alexnet' ? null : loadData(a.dataDir!);
  let line: Record<string, unknown>;
  if (a.child === 'tfjs') {
    const { runTfjs } = await import('./tfjs.ts');
    const iters = a.tfjsIters ?? (a.smoke ? 1 : { mlp: 10, simple: 2, deep: 1, alexnet: 1 }[name]);
    // TF.js deep takes about a minute per batch: one timed batch after one warm-up.
    const r = await runTfjs(name, data!, { iters, repeats: a.smoke || name === 'deep' ? 1 : Math.min(a.repeats, 3), warmup: a.smoke ? 0 : 1, batch: a.smoke ? 10 : 100 });
    line = { system: 'tfjs-cpu', workload: name, threads: 1, ...r, peak_rss_mb: peakRssMb() };
  } else {
    if (a.backend !== 'js') {
      const { installKernels } = await import('../src/parallel/pool.ts');
      await installKernels({ threads, native: a.backend === 'native' ? true : a.backend === 'wasm' ? false : undefined });
    } else {
      const { setBackend } = await import('../src/engine/kernels/backend.ts');
      const { referenceBackend } = await import('../src/engine/kernels/reference.ts');
      setBackend(referenceBackend);
    }
    const iters = a.iters ?? (a.smoke ? 1 : name === 'alexnet' ? 3 : 20);
    const r = runKeiko(name, data, {
      iters, repeats: a.repeats, warmup: a.smoke ? 0 : 2,
      ...(a.smoke ? { batchOverride: name === 'alexnet' ? 1 : 10, evalSamples: 20 } : {}),
    });
    line = { system: 'keiko', workload: name, threads, ...r, peak_rss_mb: peakRssMb() };
  }
  console.log(`RESULT ${JSON.stringify(line)}`);
  // Worker threads of the pool are unref'd; exit explicitly so nothing lingers.
  process.exit(0);
}

function runChild(kind: 'keiko' | 'tfjs', w: WorkloadName, t: number, a: Args): Record<string, unknown> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--child', kind, '--workloads', w, '--threads', String(t), '--repeats', String(a.repeats), '--backend', a.backend, '--data-dir', a.dataDir!];
  if (a.iters !== undefined) args.push('--iters', String(a.iters));
  if (a.tfjsIters !== undefined) args.push('--tfjs-iters', String(a.tfjsIters));
  if (a.smoke) args.push('--smoke');
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return { system: kind === 'tfjs' ? 'tfjs-cpu' : 'keiko', workload: w, threads: t, error: (r.stderr || `exit ${r.status}`).trim().split('\n').slice(-3).join(' | ').slice(0, 300) };
  return JSON.parse(line.slice(7)) as Record<string, unknown>;
}

function fmt(v: unknown, digits = 0): string {
  return typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—';
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) return child(a);
  const anchors: Record<string, unknown>[] = a.anchors
    ? readFileSync(a.anchors, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  const results: Record<string, unknown>[] = [];
  const emit = (r: Record<string, unknown>): void => {
    results.push(r);
    if (a.json) console.log(JSON.stringify(r));
  };
  a.dataDir = mkdtempSync(join(tmpdir(), 'keiko-bench-'));
  try {
    await exportData(a.dataDir);
    for (const w of a.workloads) {
      for (const t of a.threads) emit(runChild('keiko', w, t, a));
      if (a.tfjs && a.tfjsWorkloads.includes(w) && w !== 'alexnet' && (!a.smoke || w === 'mlp')) emit(runChild('tfjs', w, 1, a));
    }
  } finally {
    rmSync(a.dataDir, { recursive: true, force: true });
  }
  let failed = results.filter((r) => r.error && r.system === 'keiko').length;
  if (a.json) {
    if (failed) process.exitCode = 1;
    return;
  }
  // The best line when several match (e.g. PyTorch with different OpenBLAS settings: PERF.md's best setting).
  const find = (sys: string, w: string, t?: number): Record<string, unknown> | undefined =>
    [...results, ...anchors]
      .filter((r) => r.system === sys && r.workload === w && (t === undefined || Number(r.threads ?? 1) === t) && !r.error)
      .sort((x, y) => Number(y.train_samples_per_s ?? 0) - Number(x.train_samples_per_s ?? 0))[0];
  const rows: string[][] = [['workload', 'threads', 'keiko samples/s', 'TF.js cpu', 'keiko/TF.js', 'NumPy', 'PyTorch', 'keiko/best ref', 'keiko peak MB', 'PyTorch peak MB', 'eval 2000 s', 'PyTorch eval s']];
  for (const w of a.workloads) {
    for (const t of a.threads) {
      const k = find('keiko', w, t);
      const kerr = results.find((r) => r.system === 'keiko' && r.workload === w && r.threads === t && r.error);
      const tf = find('tfjs-cpu', w);
      const np = find('numpy-dlfs', w, t) ?? find('numpy', w, t);
      const pt = find('pytorch', w, t);
      const ks = k?.train_samples_per_s as number | undefined;
      const best = Math.max((np?.train_samples_per_s as number) ?? 0, (pt?.train_samples_per_s as number) ?? 0) || undefined;
      rows.push([
        w, String(t), kerr ? `ERROR ${String(kerr.error).slice(0, 60)}` : fmt(ks, ks !== undefined && ks < 100 ? 1 : 0),
        fmt(tf?.train_samples_per_s, 1), ks && tf ? `${fmt(ks / (tf.train_samples_per_s as number), 1)}×` : '—',
        fmt(np?.train_samples_per_s), fmt(pt?.train_samples_per_s, 1), ks && best ? `${fmt(ks / best, 2)}×` : '—',
        fmt(k?.peak_rss_mb), fmt(pt?.peak_rss_mb), fmt(k?.eval_2000_s, 3), fmt(pt?.eval_2000_s, 3),
      ]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((wd) => '-'.repeat(wd)).join('  '));
  }
  const be = results.find((r) => r.system === 'keiko' && r.backend)?.backend;
  console.log(`\nkeiko backend ${String(be ?? a.backend)}, ${availableParallelism()} cores${a.smoke ? ' — SMOKE MODE: tiny batches, timings mean nothing' : ''}`);
  if (failed) {
    console.error(`${failed} keiko measurement(s) failed`);
    process.exitCode = 1;
  }
  failed = 0;
}

await main();
