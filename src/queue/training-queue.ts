import { Queue, type ConnectionOptions } from 'bullmq';
import type { Env } from '../config/env.ts';
import type { Keys } from '../redis/keys.ts';
import { TRAIN_JOB, TRAINING_QUEUE, TrainingJobDataSchema, type TrainingJobData } from './names.ts';

/**
 * The producer side of the training queue. The API only adds jobs and removes queued ones; the worker
 * engineer's process consumes them. BullMQ's entries are transport, not the record: the job's Redis hash and
 * event stream are the truth, so finished BullMQ entries can be dropped early.
 */
export interface TrainingQueue {
  /** Enqueue (idempotent: BullMQ ignores a second add with the same `jobId`). */
  enqueue(data: TrainingJobData): Promise<void>;
  /**
   * Remove a job that no worker holds. `removed`: it is gone and will never run; `locked`: a worker has it (or is
   * taking it) — cancel through Redis instead; `missing`: BullMQ has no such job.
   */
  removeQueued(jobId: string): Promise<'removed' | 'locked' | 'missing'>;
  /** The BullMQ queue itself (bull-board shows it); absent in fakes. */
  readonly bull?: Queue;
  close(): Promise<void>;
}

/** Job options of every training job: retried after crashes (`JOB_ATTEMPTS`), entries kept a while for bull-board. */
export function trainingJobOptions(env: Pick<Env, 'JOB_ATTEMPTS'>, jobId: string) {
  return {
    jobId,
    attempts: env.JOB_ATTEMPTS,
    // A crashed attempt is retried after 1 s, 2 s, 4 s…: long enough for a restarting worker, short for a user.
    backoff: { type: 'exponential' as const, delay: 1000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
  };
}

export function createTrainingQueue(
  connection: ConnectionOptions,
  keys: Keys,
  env: Pick<Env, 'JOB_ATTEMPTS'>,
  /** Connection errors (Redis down); the failing command itself rejects too. Default: ignored. */
  onError: (err: Error) => void = () => undefined,
): TrainingQueue {
  const bull = new Queue<TrainingJobData>(TRAINING_QUEUE, { connection, prefix: keys.bullPrefix });
  // Without a listener BullMQ prints every reconnection error while Redis is down.
  bull.on('error', onError);
  let closing: Promise<void> | undefined;
  return {
    bull,
    async enqueue(data) {
      // Parse again: the payload crosses into another process through Redis.
      const payload = TrainingJobDataSchema.parse(data);
      await bull.add(TRAIN_JOB, payload, trainingJobOptions(env, payload.jobId));
    },
    async removeQueued(jobId) {
      const job = await bull.getJob(jobId);
      if (!job) return 'missing';
      const n = await bull.remove(jobId);
      return n === 1 ? 'removed' : 'locked';
    },
    close() {
      closing ??= bull.close();
      return closing;
    },
  };
}
