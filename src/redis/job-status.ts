import type { ChainableCommander } from 'ioredis';
import { JobStatusSchema, type JobStatus } from '../contracts/job.ts';
import type { Keys } from './keys.ts';

/**
 * Queue onto a MULTI the writes that move a job to `status`: the hash field and the per-status index
 * (removed from every other status set, added to the new one with the creation-time score).
 * Callers add the matching `status` event (events.ts) to the same MULTI.
 */
export function setStatusTo(tx: ChainableCommander, keys: Keys, jobId: string, status: JobStatus, createdAtMs: number, fields: Record<string, string> = {}): ChainableCommander {
  tx.hset(keys.job(jobId), { status, ...fields });
  for (const s of JobStatusSchema.options) if (s !== status) tx.zrem(keys.jobsByStatus(s), jobId);
  tx.zadd(keys.jobsByStatus(status), createdAtMs, jobId);
  return tx;
}
