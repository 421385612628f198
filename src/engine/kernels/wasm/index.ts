/**
 * The WebAssembly SIMD backend: `wasmBackend()` (the process-wide instance), `enableWasmBackend()` to make
 * it the engine's backend when available. Threads are installed from outside the engine (src/parallel/).
 */
import { setBackend } from '../backend.ts';
import { wasmAvailable, wasmBackend } from './wasm-backend.ts';

export { createWasmBackend, type KernelExports, type KernelName, kernelsModule, PARALLEL_KERNELS, type ParallelRunner, WasmBackend, wasmAvailable, wasmBackend } from './wasm-backend.ts';
export { RangeAllocator } from './allocator.ts';

/**
 * Make the WebAssembly backend the one every layer built from now on uses. Returns false (and changes
 * nothing) when the kernels were not built or the runtime lacks WebAssembly SIMD / shared memory.
 */
export function enableWasmBackend(): boolean {
  if (!wasmAvailable()) return false;
  try {
    setBackend(wasmBackend());
    return true;
  } catch {
    return false;
  }
}
