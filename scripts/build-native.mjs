#!/usr/bin/env node
// Optional: builds keiko's native GEMM addon (native/keiko.cc) into build/keiko-native.node with the
// system's g++ and Node's own headers — no node-gyp, no download, so it works offline. `-march=native`:
// the addon is built for the machine that installs it (a container image must be built on its target CPU
// family). Any failure only prints a note: keiko then runs on its WebAssembly kernels.
// Skip with KEIKO_NATIVE=0.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'keiko-native.node');
if (process.env.KEIKO_NATIVE === '0') {
  console.log('build-native: skipped (KEIKO_NATIVE=0)');
  process.exit(0);
}
const include = join(dirname(process.execPath), '..', 'include', 'node');
if (!existsSync(join(include, 'node_api.h'))) {
  console.log(`build-native: no Node headers at ${include}; using the WebAssembly kernels`);
  process.exit(0);
}
mkdirSync(dirname(out), { recursive: true });
const cxx = process.env.CXX || 'g++';
const args = ['-O3', '-march=native', '-pthread', '-shared', '-fPIC', '-std=c++17', '-DNODE_GYP_MODULE_NAME=keiko_native',
  `-I${include}`, join(root, 'native', 'keiko.cc'), '-o', out];
const r = spawnSync(cxx, args, { encoding: 'utf8' });
if (r.error || r.status !== 0) {
  console.log(`build-native: ${cxx} failed (${r.error?.message ?? r.stderr.split('\n').slice(0, 3).join(' ')}); using the WebAssembly kernels`);
  process.exit(0);
}
console.log(`build-native: ${out.slice(root.length + 1)}`);
