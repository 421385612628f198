import { z } from 'zod';
import { JobSpecSchema } from '../contracts/job-spec.ts';

/** The BullMQ queue that carries training jobs. */
export const TRAINING_QUEUE = 'training';
/** The one job name on it. */
export const TRAIN_JOB = 'train';

/**
 * The payload of a BullMQ training job. The worker parses it again with this schema (Redis is a trust
 * boundary); an invalid payload fails with UnrecoverableError and is never retried.
 */
export const TrainingJobDataSchema = z.strictObject({ jobId: z.string().min(1), spec: JobSpecSchema });
export type TrainingJobData = z.infer<typeof TrainingJobDataSchema>;
