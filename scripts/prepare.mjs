#!/usr/bin/env node
// Runs on `npm install`: builds what the project compiles from source (the WebAssembly kernels).
// Each step is listed in scripts/prepare.d/ order; a missing optional toolchain is reported, not fatal.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const steps = [['node', ['scripts/build-wasm.mjs'], 'scripts/build-wasm.mjs']];
for (const [cmd, args, file] of steps) {
  if (!existsSync(file)) continue;
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
