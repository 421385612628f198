import type { Redis } from 'ioredis';
import { ProgressMessageSchema } from '../contracts/job.ts';
import type { ProgressMessage } from '../redis/events-types.ts';

type Listener = (msg: ProgressMessage) => void;

/**
 * One pub/sub subscription to the `progress` channel per API instance, fanned out to the stream sockets that
 * want it. Progress is live only (never replayed); the connection is opened with the first listener.
 */
export class ProgressHub {
  private readonly listeners = new Set<Listener>();
  private sub: Redis | undefined;
  private closed = false;

  constructor(
    private readonly connect: () => Redis,
    private readonly channel: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    if (!this.sub && !this.closed) {
      const sub = this.connect();
      this.sub = sub;
      sub.on('message', (_channel: string, raw: string) => {
        let msg: ProgressMessage;
        try {
          const parsed = ProgressMessageSchema.safeParse(JSON.parse(raw));
          if (!parsed.success) return;
          msg = parsed.data;
        } catch {
          return;
        }
        for (const l of this.listeners) l(msg);
      });
      sub.on('error', this.onError);
      sub.subscribe(this.channel).catch(this.onError);
    }
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.sub?.disconnect();
    this.sub = undefined;
  }
}

/**
 * Per-socket throttle for progress: at most one message per job every `intervalMs`, and none while the socket
 * has more than `maxBuffered` bytes waiting (progress may be dropped; epochs never are).
 */
export function progressGate(intervalMs = 200, maxBuffered = 256 * 1024) {
  const last = new Map<string, number>();
  return (jobId: string, bufferedAmount: number, now = Date.now()): boolean => {
    if (bufferedAmount > maxBuffered) return false;
    const t = last.get(jobId);
    if (t !== undefined && now - t < intervalMs) return false;
    last.set(jobId, now);
    if (last.size > 10_000) last.clear();
    return true;
  };
}
