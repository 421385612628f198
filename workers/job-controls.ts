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
 * gets at most its share, ⌊max / concurrency⌋, so the jobs running at once never use more than `max` threads
 * together (their kernel pools spin briefly while waiting: oversubscribed cores would slow every job down).
 * A job always gets at least 1 (its own training thread): with more concurrent jobs than threads, each runs
 * single-threaded.
 */
export class ThreadBudget {
  private used = 0;
  private readonly share: number;

  constructor(
    readonly max: number,
    concurrency: number,
  ) {
    this.share = Math.max(1, Math.floor(max / Math.max(1, concurrency)));
  }

  acquire(wanted: number): number {
    const granted = Math.max(1, Math.min(wanted, this.share, this.max - this.used));
    this.used += granted;
    return granted;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}
