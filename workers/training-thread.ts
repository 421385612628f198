import { parentPort, workerData } from 'node:worker_threads';
import { loadDataset } from '../src/datasets/resolve.ts';
import {
  backend,
  buildModel,
  deserializeCheckpoint,
  fit,
  getWeights,
  resolveModelSpec,
  Rng,
  serializeCheckpoint,
  setWeights,
  type Checkpoint,
  type EpochMetrics,
} from '../src/engine/index.ts';
import { installKernels, shutdownThreads } from '../src/parallel/pool.ts';
import { createRedis } from '../src/redis/connection.ts';
import { createKeys } from '../src/redis/keys.ts';
import { loadModel } from '../src/redis/model-store.ts';
import { Control, type ThreadInit, type ThreadMessage } from './thread-protocol.ts';

/**
 * One training job, inside a worker thread: load the data, resolve and build the model (from `initFrom`
 * weights, or from the checkpoint when resuming), run `fit`, and post each epoch with its checkpoint, batch
 * progress and the final weights to the worker process (thread-protocol.ts). `fit` is synchronous CPU work,
 * so this thread's event loop is busy for the whole run: the process stops it through the shared control
 * word, which the engine reads at every batch boundary as `signal.aborted`.
 */

const init = workerData as ThreadInit;
const port = parentPort;
if (!port) throw new Error('training-thread.ts runs inside a worker thread');
const post = (m: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const word = new Int32Array(init.control);

/** Set once an epoch ends while the process asks for a drain (shutdown): stop at the next batch boundary. */
let drained = false;
const signal = {
  get aborted(): boolean {
    const v = Atomics.load(word, 0);
    return drained || v === Control.Cancel || v === Control.Stop || v === Control.Lost;
  },
};

/** Errors another attempt could get past: Redis (or the network) failing while the thread loads its inputs. */
function isRetryable(e: unknown): boolean {
  const err = e as { name?: string; code?: unknown; message?: string };
  if (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) return true; // ECONNREFUSED, ETIMEDOUT…
  return err.name === 'MaxRetriesPerRequestError' || /Connection is closed|Stream isn't writeable/.test(err.message ?? '');
}

function toErrorMessage(e: unknown): ThreadMessage {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = typeof (err as { code?: unknown }).code === 'string' && !isRetryable(err) ? (err as unknown as { code: string }).code : 'TRAINING_ERROR';
  return { type: 'error', code, message: err.message, retryable: isRetryable(err) };
}

/** A transferable copy when `u8` is a view of part of a larger (or shared) buffer. */
function ownBuffer(u8: Uint8Array): Uint8Array<ArrayBuffer> {
  if (u8.buffer instanceof ArrayBuffer && u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength) return u8 as Uint8Array<ArrayBuffer>;
  return new Uint8Array(u8);
}

async function main(): Promise<void> {
  const { spec } = init;
  const kernels = await useFastKernels(init.threads);

  // The client connects only if a command is sent (an uploaded dataset, initFrom weights): built-ins need none.
  const redis = createRedis(init.redisUrl, 'command', { lazyConnect: true, connectionName: 'keiko-thread' });
  const keys = createKeys(init.prefix);
  let resume: Checkpoint | undefined;
  try {
    const data = await loadDataset(redis, keys, spec.dataset);
    const resolvedSpec = resolveModelSpec(spec.model, { inputShape: data.train.inputShape, classes: data.train.classes });
    const rng = new Rng(spec.training.seed);
    const model = buildModel(resolvedSpec, rng);
    if (init.checkpoint) {
      resume = deserializeCheckpoint(init.checkpoint);
    } else if (spec.model.initFrom !== undefined) {
      const stored = await loadModel(redis, keys, spec.model.initFrom);
      if (!stored) throw Object.assign(new Error(`model.initFrom: model ${JSON.stringify(spec.model.initFrom)} does not exist`), { code: 'MODEL_NOT_FOUND' });
      setWeights(model, stored.tensors);
    }
    post({ type: 'ready', resolvedSpec, resumedFromEpoch: resume?.epoch ?? 0, kernels });
    if (signal.aborted) {
      post({ type: 'done', status: 'aborted', resolvedSpec });
      return;
    }

    const result = fit({
      model,
      data,
      optimizer: spec.optimizer,
      regularization: spec.regularization,
      // The process's budget may grant fewer kernel threads than the spec asks (results do not depend on it).
      training: { ...spec.training, threads: init.threads },
      rng,
      ...(resume ? { resume } : {}),
      signal,
      progressIntervalMs: init.progressIntervalMs,
      onEpoch(metrics: EpochMetrics, checkpoint: () => Checkpoint) {
        const bytes = ownBuffer(serializeCheckpoint(checkpoint()));
        post({ type: 'epoch', metrics, checkpoint: bytes }, [bytes.buffer]);
        if (Atomics.load(word, 0) === Control.Drain) drained = true;
      },
      onProgress(p) {
        post({ type: 'progress', ...p });
      },
    });

    if (result.status === 'aborted') {
      post({ type: 'done', status: 'aborted', resolvedSpec });
      return;
    }
    // Whether `result.epochs` repeats the resumed history or not, index every epoch seen by number.
    const byEpoch = new Map<number, EpochMetrics>();
    for (const m of [...(resume?.history ?? []), ...result.epochs]) byEpoch.set(m.epoch, m);
    const last = Math.max(0, ...byEpoch.keys());
    const metrics = byEpoch.get(result.bestEpoch ?? last) ?? byEpoch.get(last);
    // Copies: the model's tensors may be views of backend (WebAssembly, shared) memory, which cannot be transferred.
    const weights = getWeights(model).map((t) => ({ name: t.name, shape: [...t.shape], data: new Float32Array(t.data) }));
    post({ type: 'done', status: result.status, resolvedSpec, ...(metrics ? { metrics } : {}), weights }, weights.map((t) => t.data.buffer as ArrayBuffer));
  } finally {
    redis.disconnect();
    // The kernel pool's threads would keep this thread alive.
    await shutdownThreads().catch(() => undefined);
  }
}

/**
 * The fastest kernels this machine has (WebAssembly SIMD, with the native GEMM when it was built), split over the
 * granted threads; the engine's reference JavaScript kernels when they cannot load (WebAssembly not built).
 * Results do not depend on the thread count.
 */
async function useFastKernels(threads: number): Promise<string> {
  try {
    const r = await installKernels({ threads });
    return `${r.backend.name}×${r.threads}`;
  } catch {
    return backend().name;
  }
}

main().catch((e: unknown) => {
  post(toErrorMessage(e));
});
