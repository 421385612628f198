import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import { parseEntries, readStreamAfter, type StreamEntry } from '../redis/job-store.ts';

/**
 * Follow one Redis Stream for one WebSocket, exactly once: page the history after `after` with XRANGE, then
 * XREAD BLOCK from the last id seen, on a connection of its own (STACK.md: a late subscriber that does this gets
 * every entry once). Entry ids are the messages' cursors, so a client that reconnects with `?from=<cursor>`
 * resumes right after the last message it got — on any API instance, after any restart.
 *
 * Persisted messages (epochs) are never dropped: before each read the follower waits until the socket has sent
 * what it buffered (back-pressure), so a slow client slows its own reader and nothing else.
 */
export interface FollowOptions {
  /** Command connection for the history (non-blocking). */
  redis: Redis;
  /** Dedicated connection for XREAD BLOCK; the caller disconnects it to stop the follower. */
  blocking: Redis;
  streamKey: string;
  /** Exclusive start: `-` for the beginning, else a cursor. */
  after: string;
  socket: WebSocket;
  /** Deliver one entry; return true to stop following (e.g. after `done`). */
  deliver(entry: StreamEntry): boolean;
  /** Called after the history and after every idle block; return true to stop (e.g. the job is over). */
  idle?(after: string): Promise<boolean>;
  /** How long one XREAD blocks before `idle` runs. */
  blockMs?: number;
}

const HISTORY_PAGE = 500;
/** Above this many buffered bytes the follower waits for the socket to drain before it reads more. */
export const HIGH_WATER_BYTES = 1 << 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OPEN = 1;

async function drained(socket: WebSocket): Promise<boolean> {
  while (socket.readyState === OPEN && socket.bufferedAmount > HIGH_WATER_BYTES) await sleep(20);
  return socket.readyState === OPEN;
}

/** Resolves when following ends: stopped by `deliver`/`idle`, the socket closed, or the blocking connection dropped. */
export async function follow(o: FollowOptions): Promise<'stopped' | 'closed'> {
  let after = o.after;
  // History, paged, on the command connection.
  for (;;) {
    if (!(await drained(o.socket))) return 'closed';
    const page = await readStreamAfter(o.redis, o.streamKey, after, HISTORY_PAGE);
    for (const entry of page.entries) if (o.deliver(entry)) return 'stopped';
    if (page.last !== undefined) after = page.last;
    if (page.raw < HISTORY_PAGE) break;
  }
  if (o.idle && (await o.idle(after))) return 'stopped';
  // Live: block on the dedicated connection from the last id seen.
  for (;;) {
    if (!(await drained(o.socket))) return 'closed';
    let res: [string, [string, string[]][]][] | null;
    try {
      res = (await o.blocking.xread('COUNT', HISTORY_PAGE, 'BLOCK', o.blockMs ?? 5000, 'STREAMS', o.streamKey, after)) as typeof res;
    } catch (e) {
      // The caller disconnected the connection (socket closed, shutdown): not an error.
      if (o.socket.readyState !== OPEN || o.blocking.status === 'end' || o.blocking.status === 'close') return 'closed';
      throw e;
    }
    if (o.socket.readyState !== OPEN) return 'closed';
    if (!res || res.length === 0) {
      if (o.idle && (await o.idle(after))) return 'stopped';
      continue;
    }
    const raw = res[0]![1];
    for (const entry of parseEntries(raw)) if (o.deliver(entry)) return 'stopped';
    after = raw[raw.length - 1]![0];
  }
}
