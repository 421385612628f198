import type { EpochMetrics, LayersModelSpec, NamedTensor } from '../src/engine/index.ts';
import type { JobSpec } from '../src/contracts/job-spec.ts';

/**
 * What the worker process and a training thread say to each other. The thread's event loop is busy inside
 * `fit` (synchronous CPU work), so the process never *sends* it messages while it trains: everything the
 * process needs to tell it goes through the shared {@link Control} word, which the engine polls at every batch
 * boundary. Messages only flow thread → process.
 */

/**
 * Values of the shared control word (`Int32Array` of length 1 over a `SharedArrayBuffer`), written by the
 * process with `Atomics.store`, read by the thread with `Atomics.load`.
 */
export const Control = {
  /** Keep training. */
  Run: 0,
  /** Cancellation requested: stop at the next batch boundary; the job ends `cancelled`. */
  Cancel: 1,
  /** Shutdown grace ran out: stop at the next batch boundary; the job resumes elsewhere from the last epoch. */
  Stop: 2,
  /** Shutdown: finish the current epoch (its checkpoint is committed), then stop. */
  Drain: 3,
  /** This attempt no longer owns the job (lock lost, a newer attempt took over): stop and write nothing. */
  Lost: 4,
} as const;
export type ControlValue = (typeof Control)[keyof typeof Control];

/** `workerData` of a training thread. */
export interface ThreadInit {
  jobId: string;
  spec: JobSpec;
  /** The thread opens its own short-lived Redis client to load an uploaded dataset and `initFrom` weights. */
  redisUrl: string;
  prefix: string;
  /** Kernel threads granted to this job (≤ `spec.training.threads`, within the process's WORKER_MAX_THREADS). */
  threads: number;
  /** One Int32 control word, see {@link Control}. */
  control: SharedArrayBuffer;
  /** The last committed epoch's checkpoint (engine `serializeCheckpoint` bytes), to resume from. */
  checkpoint?: Uint8Array;
  progressIntervalMs: number;
}

/** The thread loaded its data and built its model. */
export interface ReadyMessage {
  type: 'ready';
  /** The spec with presets expanded. */
  resolvedSpec: LayersModelSpec;
  /** 0 for a fresh run, else the epoch the checkpoint resumes after. */
  resumedFromEpoch: number;
  /** The kernel backend in use and its thread count, for the logs (e.g. `wasm-simd×2`). */
  kernels: string;
}

/** One finished epoch and the checkpoint taken right after it (its buffer is transferred, not copied). */
export interface EpochMessage {
  type: 'epoch';
  metrics: EpochMetrics;
  checkpoint: Uint8Array;
}

/** Batch progress, throttled by the engine; live only. */
export interface ProgressMessage {
  type: 'progress';
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
}

/** `fit` returned. `weights` and `metrics` are there unless it was aborted. */
export interface DoneMessage {
  type: 'done';
  status: 'completed' | 'early_stopped' | 'aborted';
  resolvedSpec: LayersModelSpec;
  /** The final model's metrics (the restored best epoch's with early stopping). */
  metrics?: EpochMetrics;
  weights?: NamedTensor[];
}

/**
 * The thread failed. `retryable` is true only for failures another attempt may not meet (Redis unreachable
 * while loading); a bad spec, a missing dataset or model and an engine error fail the job at once.
 */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
  retryable: boolean;
}

export type ThreadMessage = ReadyMessage | EpochMessage | ProgressMessage | DoneMessage | ErrorMessage;
