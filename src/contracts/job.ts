import { z } from 'zod';
import { EpochMetricsSchema } from '../engine/spec/index.ts';
import { JobSpecSchema } from './job-spec.ts';

export const JobStatusSchema = z.enum(['queued', 'active', 'completed', 'failed', 'cancelled']).meta({ id: 'JobStatus' });
export type JobStatus = z.infer<typeof JobStatusSchema>;
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export const JobErrorSchema = z.strictObject({ code: z.string(), message: z.string() }).meta({ id: 'JobError' });

/** A job as `GET /v1/jobs/:id` returns it (and as read back from its Redis hash, parsed again). */
export const JobSchema = z
  .strictObject({
    id: z.string(),
    name: z.string().optional(),
    status: JobStatusSchema,
    spec: JobSpecSchema,
    progress: z.strictObject({ epoch: z.int().min(0), epochs: z.int().min(1) }),
    latestMetrics: EpochMetricsSchema.optional(),
    createdAt: z.iso.datetime(),
    startedAt: z.iso.datetime().optional(),
    finishedAt: z.iso.datetime().optional(),
    error: JobErrorSchema.optional(),
    modelId: z.string().optional(),
    attempts: z.int().min(0),
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof JobSchema>;

/**
 * Stream messages (API.md "The stream"). `status`, `epoch`, `log` and `done` are persisted in the job's Redis
 * Stream and carry the entry id as `cursor`; `progress` is live only. `jobId` is on every message so that
 * `WS /v1/stream` can mix jobs.
 */
const base = { jobId: z.string(), cursor: z.string().optional() };
export const StatusMessageSchema = z.strictObject({ type: z.literal('status'), ...base, status: JobStatusSchema, at: z.iso.datetime(), error: JobErrorSchema.optional() });
export const EpochMessageSchema = z.strictObject({ type: z.literal('epoch'), ...base, ...EpochMetricsSchema.shape });
export const ProgressMessageSchema = z.strictObject({
  type: z.literal('progress'),
  ...base,
  epoch: z.int().min(1),
  batch: z.int().min(0),
  batches: z.int().min(1),
  loss: z.number().optional(),
});
export const LogMessageSchema = z.strictObject({ type: z.literal('log'), ...base, level: z.enum(['info', 'warn', 'error']), message: z.string(), at: z.iso.datetime() });
export const DoneMessageSchema = z.strictObject({
  type: z.literal('done'),
  ...base,
  status: z.enum(['completed', 'failed', 'cancelled']),
  modelId: z.string().optional(),
  error: JobErrorSchema.optional(),
});
export const StreamMessageSchema = z
  .discriminatedUnion('type', [StatusMessageSchema, EpochMessageSchema, ProgressMessageSchema, LogMessageSchema, DoneMessageSchema])
  .meta({ id: 'StreamMessage' });
export type StreamMessage = z.infer<typeof StreamMessageSchema>;
export type PersistedMessage = Exclude<StreamMessage, { type: 'progress' }>;
