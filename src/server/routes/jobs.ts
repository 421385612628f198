import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JobSpecSchema, type JobSpec } from '../../contracts/job-spec.ts';
import { JobSchema, type Job } from '../../contracts/job.ts';
import type { EpochMetrics } from '../../engine/index.ts';
import {
  cancelQueuedJob,
  claimIdempotencyKey,
  createJob,
  failQueuedJob,
  getEpochHistory,
  getJob,
  isTerminal,
  listJobs,
  requestCancel,
  waitForJob,
} from '../../redis/job-store.ts';
import { IdempotencyConflictError, JobNotFoundError, QueueUnavailableError } from '../errors.ts';
import { ProblemSchema } from '../problem.ts';
import { JobIdParamsSchema, JobListSchema, JobMetricsSchema, ListJobsQuerySchema, SubmitHeadersSchema } from '../schemas.ts';
import { validateSubmission } from '../submission.ts';

const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ProblemSchema]));

/** JSON with object keys sorted, so the same body sent with another key order hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Hash of the body as sent (before defaults), for `Idempotency-Key`: "the same body" means the same JSON value. */
const bodyHashes = new WeakMap<FastifyRequest, string>();

export const METRICS_CSV_COLUMNS = ['epoch', 'iteration', 'trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'learningRate', 'durationMs', 'samplesPerSecond'] as const satisfies readonly (keyof EpochMetrics)[];

export function metricsCsv(rows: readonly EpochMetrics[]): string {
  const lines = [METRICS_CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(METRICS_CSV_COLUMNS.map((c) => String(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/** Does the Accept header prefer `text/csv` over JSON? (q-values honoured; JSON wins ties and absence.) */
export function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  let csv = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) || 0 : 1;
    if (type === 'text/csv') csv = Math.max(csv, q);
    if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, type === '*/*' ? q * 0.99 : q);
  }
  return csv > 0 && csv > json;
}

/**
 * `POST /v1/jobs`, `GET /v1/jobs`, `GET /v1/jobs/:id`, `GET /v1/jobs/:id/metrics`, `POST /v1/jobs/:id/cancel`.
 */
export async function jobsRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const ctx = app.keiko;
  const { redis, keys, env, queue } = ctx.deps;

  /** Write the job, then hand it to BullMQ; a queue that refuses leaves the job `failed`, never stuck `queued`. */
  async function createAndEnqueue(id: string, spec: JobSpec, idempotencyKey: string | undefined): Promise<Job> {
    const job = await createJob(redis, keys, { id, spec, idempotencyKey });
    try {
      await queue.enqueue({ jobId: id, spec });
    } catch (e) {
      await failQueuedJob(redis, keys, id, { code: 'QUEUE_UNAVAILABLE', message: `the queue refused the job: ${(e as Error).message}` }).catch(() => undefined);
      throw new QueueUnavailableError(`the job could not be queued: ${(e as Error).message}`);
    }
    ctx.metrics.jobsSubmitted.inc();
    return job;
  }

  r.post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Submit a training job',
        description:
          'Validates the spec completely before a job exists: schema, dataset, layer shapes (the engine shape check), class count, ' +
          '`model.initFrom`, and the limits (MAX_LAYERS, MAX_PARAMS, MAX_EPOCHS, MAX_BODY_BYTES). A 400 lists every bad field. ' +
          'Answers 202 with the job and a `Location` header.',
        headers: SubmitHeadersSchema,
        body: JobSpecSchema,
        response: { 202: JobSchema, ...problems(400, 401, 409, 413, 415, 503) },
      },
      // The full check (async: dataset and model lookups) runs before the plain schema validation, so one 400
      // lists schema errors and dataset/shape errors together.
      preValidation: async (request) => {
        bodyHashes.set(request, createHash('sha256').update(canonicalJson(request.body)).digest('hex'));
        request.body = await validateSubmission(request.body, { redis, keys, limits: env });
      },
    },
    async (request, reply) => {
      const spec = request.body;
      const key = request.headers['idempotency-key'];
      let job: Job;
      if (key === undefined) {
        job = await createAndEnqueue(randomUUID(), spec, undefined);
      } else {
        const id = randomUUID();
        const claim = await claimIdempotencyKey(redis, keys, key, id, bodyHashes.get(request) ?? '');
        if (claim.kind === 'conflict') throw new IdempotencyConflictError(key);
        if (claim.kind === 'claimed') {
          job = await createAndEnqueue(id, spec, key);
        } else {
          reply.header('idempotent-replayed', 'true');
          const existing = await waitForJob(redis, keys, claim.jobId);
          if (!existing) {
            // The request that claimed the key died before writing its job: write it now (same key, same body).
            job = await createAndEnqueue(claim.jobId, spec, key);
          } else {
            // Make sure a queued job really is in the queue (the first attempt may have failed to enqueue it);
            // BullMQ ignores the add when the job id is already there.
            if (existing.status === 'queued') await queue.enqueue({ jobId: existing.id, spec: existing.spec });
            job = existing;
          }
        }
      }
      return reply.code(202).header('location', `/v1/jobs/${encodeURIComponent(job.id)}`).send(job);
    },
  );

  r.get(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        querystring: ListJobsQuerySchema,
        response: { 200: JobListSchema, ...problems(400, 401) },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const page = await listJobs(redis, keys, { status, limit: limit ?? 50, cursor });
      return page.nextCursor === undefined ? { items: page.items } : { items: page.items, nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'A job: spec, status, progress, latest metrics, timestamps, error, modelId once completed',
        params: JobIdParamsSchema,
        response: { 200: JobSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      const job = await getJob(redis, keys, request.params.id);
      if (!job) throw new JobNotFoundError(request.params.id);
      return job;
    },
  );

  r.get(
    '/v1/jobs/:id/metrics',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The whole per-epoch history (JSON, or CSV with `Accept: text/csv`)',
        params: JobIdParamsSchema,
        response: {
          200: {
            description: 'One entry per finished epoch.',
            content: {
              'application/json': { schema: JobMetricsSchema },
              'text/csv': { schema: z.string().describe(`CSV with the header ${METRICS_CSV_COLUMNS.join(',')}`) },
            },
          },
          ...problems(401, 404),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const exists = await redis.exists(keys.job(id));
      if (!exists) throw new JobNotFoundError(id);
      const metrics = await getEpochHistory(redis, keys, id);
      reply.header('vary', 'accept');
      if (prefersCsv(request.headers.accept)) {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `inline; filename="${id}-metrics.csv"`)
          .serializer((s: unknown) => s as string)
          .send(metricsCsv(metrics));
      }
      return reply.type('application/json; charset=utf-8').send({ jobId: id, metrics });
    },
  );

  r.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        description:
          'A queued job leaves the queue and is `cancelled` at once (200). A running job is asked to stop — from any API ' +
          'instance, through Redis — and ends `cancelled` at its next batch boundary (202, the job as it is now). ' +
          'A finished job is returned as it is (200).',
        params: JobIdParamsSchema,
        response: { 200: JobSchema, 202: JobSchema, ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const job = await getJob(redis, keys, id);
      if (!job) throw new JobNotFoundError(id);
      if (isTerminal(job.status)) return reply.code(200).send(job);
      ctx.metrics.jobsCancelRequested.inc({ status: job.status });
      // First the request (key + channel): a worker that takes the job from now on sees it, whatever happens next.
      await requestCancel(redis, keys, id);
      if (job.status === 'queued') {
        const removed = await queue.removeQueued(id);
        if (removed !== 'locked') {
          const cancelled = await cancelQueuedJob(redis, keys, id);
          if (cancelled && isTerminal(cancelled.status)) return reply.code(200).send(cancelled);
        }
      }
      const now = (await getJob(redis, keys, id)) ?? job;
      return reply.code(isTerminal(now.status) ? 200 : 202).send(now);
    },
  );
}
