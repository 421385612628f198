import type { ChainableCommander, Redis } from 'ioredis';
import { type PersistedMessage, type ProgressMessage } from './events-types.ts';
import { EVENTS_MAXLEN, type Keys } from './keys.ts';

/**
 * Queue the XADDs of one persisted message onto a MULTI (or pipeline): the job's own stream (replayed to
 * `WS /v1/jobs/:id/stream`, never trimmed while the job exists) and the capped global stream (`WS /v1/stream`).
 * Callers put it in the same MULTI as the state it reports, so a crash never leaves one without the other.
 * The message is stored without `cursor`: the entry id is the cursor.
 */
export function addEventTo(tx: ChainableCommander, keys: Keys, msg: PersistedMessage): ChainableCommander {
  const { cursor: _cursor, ...rest } = msg;
  const m = JSON.stringify(rest);
  tx.xadd(keys.jobEvents(msg.jobId), '*', 'm', m);
  tx.xadd(keys.events, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'm', m);
  return tx;
}

/** Publish a live-only progress message (not persisted). */
export async function publishProgress(redis: Redis, keys: Keys, msg: ProgressMessage): Promise<void> {
  await redis.publish(keys.progress, JSON.stringify(msg));
}
