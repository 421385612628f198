import { z } from 'zod';
import { JobSchema, JobStatusSchema } from '../contracts/job.ts';
import { EpochMetricsSchema } from '../engine/index.ts';

/**
 * Request and response schemas of the API's own routes (the domain schemas live in src/contracts and
 * src/engine/spec). Query strings are text: numbers are parsed from digits explicitly, never coerced.
 */

/** A positive integer written in digits, within [min, max] (`"5"` → 5; `" 5"`, `"5.0"`, `"1e3"` are errors). */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'expected an integer written in digits')
    .transform(Number)
    .pipe(z.int().min(min).max(max));

export const JobIdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

export const ListJobsQuerySchema = z.strictObject({
  status: JobStatusSchema.optional().describe('Only jobs in this status.'),
  limit: queryInt(1, 500).optional().describe('Page size, 1–500 (default 50).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` of the previous page.'),
});

export const JobListSchema = z
  .strictObject({
    items: z.array(JobSchema),
    nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page.'),
  })
  .meta({ id: 'JobList' });

export const JobMetricsSchema = z
  .strictObject({
    jobId: z.string(),
    metrics: z.array(EpochMetricsSchema).describe('One entry per finished epoch, in order.'),
  })
  .meta({ id: 'JobMetrics' });

/** `Idempotency-Key`: printable ASCII, as Stripe's keys (a UUID is typical). */
export const SubmitHeadersSchema = z.looseObject({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .describe('Repeat a submission safely: the same key and body give the same job; the same key with another body is a 409.'),
});

/** A Redis Stream entry id, as the stream messages' `cursor`. */
export const CursorSchema = z.string().regex(/^\d{1,20}-\d{1,20}$/, 'expected a cursor (a stream entry id like 1700000000000-0)');

export const StreamQuerySchema = z.strictObject({
  from: CursorSchema.optional().describe('Resume after this cursor (the `cursor` of the last message received).'),
  token: z.string().optional().describe('The API key, for browsers that cannot set `Authorization` on a WebSocket.'),
});
