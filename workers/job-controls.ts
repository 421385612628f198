import { Control, type ControlValue } from './thread-protocol.ts';

/** Which request wins when several arrive: losing the job beats a cancel, a cancel beats a shutdown. */
const PRIORITY: Record<ControlValue, number> = {
  [Control.Run]: 0,
  [Control.Drain]: 1,
  [Control.Stop]: 2,
  [Control.Cancel]: 3,
  [Control.Lost]: 4,
};

/** The control word of one running job (see thread-protocol.ts), shared with its thread. */
export class JobControl {
  readonly buffer = new SharedArrayBuffer(4);
  private readonly word = new Int32Array(this.buffer);

  get value(): ControlValue {
    return Atomics.load(this.word, 0) as ControlValue;
  }

  /** Raise the request to `v` unless a stronger one is already set; the thread sees it at its next batch. */
  request(v: ControlValue): void {
    for (;;) {
      const cur = Atomics.load(this.word, 0) as ControlValue;
      if (PRIORITY[cur] >= PRIORITY[v]) return;
      if (Atomics.compareExchange(this.word, 0, cur, v) === cur) return;
    }
  }
}

/** The jobs this process is running, by job id, so cancel messages and signals reach their threads. */
export class JobControls {
  private readonly jobs = new Map<string, JobControl>();

  add(jobId: string): JobControl {
    const c = new JobControl();
    this.jobs.set(jobId, c);
    return c;
  }

  delete(jobId: string): void {
    this.jobs.delete(jobId);
  }

  has(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  ids(): string[] {
    return [...this.jobs.keys()];
  }

  request(jobId: string, v: ControlValue): boolean {
    const c = this.jobs.get(jobId);
    c?.request(v);
    return c !== undefined;
  }

  requestAll(v: ControlValue): void {
    for (const c of this.jobs.values()) c.request(v);
  }

  get size(): number {
    return this.jobs.size;
  }
}

/**
 * Kernel threads of one process, shared by its jobs (WORKER_MAX_THREADS). A job asks `spec.training.threads` and
 * gets what is left, at least 1 (its own training thread): a job is never refused, so with more concurrent jobs
 * than threads each runs single-threaded.
 */
export class ThreadBudget {
  private used = 0;
  constructor(readonly max: number) {}

  acquire(wanted: number): number {
    const granted = Math.max(1, Math.min(wanted, this.max - this.used));
    this.used += granted;
    return granted;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}
