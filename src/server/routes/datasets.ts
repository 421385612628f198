import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DatasetValidationError } from '../../datasets/errors.ts';
import { BuiltinDatasetSchema, DatasetMetaSchema, type BuiltinDataset } from '../../datasets/meta.ts';
import { DatasetCsvQuerySchema, DatasetJsonUploadSchema, parseCsvUpload, parseJsonUpload, type ParsedDataset } from '../../datasets/upload.ts';
import { builtinDatasets } from '../../engine/index.ts';
import { deleteDataset, getDatasetMeta, listDatasets, saveDataset } from '../../redis/dataset-store.ts';
import { AppError, PayloadTooLargeError, ValidationError } from '../errors.ts';
import { ProblemSchema } from '../problem.ts';
import { queryInt } from '../schemas.ts';
import { flattenIssues } from '../zod-issues.ts';
import { toAppError, sendProblem } from '../plugins/error-handler.ts';

const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ProblemSchema]));

export class DatasetNotFoundHttpError extends AppError {
  constructor(id: string) {
    super(404, 'DATASET_NOT_FOUND', 'Dataset not found', `no dataset with id ${JSON.stringify(id)}`);
  }
}

const DatasetIdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

const ListDatasetsQuerySchema = z.strictObject({
  limit: queryInt(1, 500).optional().describe('Page size of the uploaded datasets, 1–500 (default 100).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` of the previous page.'),
});

const DatasetSchema = z.union([BuiltinDatasetSchema, DatasetMetaSchema]).meta({ id: 'Dataset' });

const DatasetListSchema = z
  .strictObject({
    items: z.array(DatasetSchema).describe('The built-ins first (on the first page), then the uploads, newest first.'),
    nextCursor: z.string().optional().describe('Pass as `cursor` for the next page of uploads; absent on the last page.'),
  })
  .meta({ id: 'DatasetList' });

function builtin(id: string): BuiltinDataset | undefined {
  const d = builtinDatasets.find((b) => b.id === id);
  return d && { id: d.id, name: d.id, source: 'builtin', description: d.description, inputShape: [...d.inputShape], classes: d.classes, size: d.size, trainSize: d.trainSize, testSize: d.testSize };
}

/**
 * `GET /v1/datasets` (built-ins and uploads), `POST /v1/datasets` (upload as JSON or CSV), `GET|DELETE /v1/datasets/:id`.
 * Uploads are validated completely before anything is stored, limited to MAX_UPLOAD_BYTES (413), and stored as
 * Float32/Uint8 bytes; a job trains on one with `dataset: { id }`.
 */
export async function datasetsRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { redis, keys, env } = app.keiko.deps;
  const uploadLimit = env.MAX_UPLOAD_BYTES;

  // CSV bodies arrive as text (encapsulated: only this plugin's routes accept text/csv).
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: uploadLimit }, (_req, body, done) => done(null, body));

  r.get(
    '/v1/datasets',
    {
      schema: {
        tags: ['datasets'],
        summary: 'List the built-in and uploaded datasets',
        querystring: ListDatasetsQuerySchema,
        response: { 200: DatasetListSchema, ...problems(400, 401) },
      },
    },
    async (request) => {
      const page = await listDatasets(redis, keys, { limit: request.query.limit ?? 100, cursor: request.query.cursor });
      const builtins = request.query.cursor === undefined ? builtinDatasets.map((d) => builtin(d.id)!) : [];
      return { items: [...builtins, ...page.items], nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/v1/datasets',
    {
      bodyLimit: uploadLimit,
      // The app-wide handler would quote MAX_BODY_BYTES in a 413; this route's limit is MAX_UPLOAD_BYTES.
      errorHandler: (err, request, reply) => {
        const mapped = toAppError(err, uploadLimit);
        if (mapped instanceof PayloadTooLargeError) return sendProblem(reply, request, mapped);
        return app.errorHandler(err, request, reply);
      },
      schema: {
        tags: ['datasets'],
        summary: 'Upload a dataset (JSON or CSV)',
        description:
          '`application/json`: `{ name, inputShape, classes, train: { x, y }, test: { x, y } }`, each x a list of samples, flat ' +
          '(prod(inputShape) numbers) or nested to inputShape, each y an integer label in [0, classes). ' +
          '`text/csv`: one sample a line, the label first, then the values in C,H,W order; an optional header line; with ' +
          '`?name=…&inputShape=1,28,28&classes=10` and optional `testFraction` (default 0.2: that share of the rows, chosen by a ' +
          'permutation seeded with `seed` (default 0), becomes the test split) and `header` (auto|true|false). ' +
          'Every problem is reported by field (`train.x.12`, `train.y.3`, CSV `line.7`); at most MAX_UPLOAD_BYTES (413). ' +
          'classes ≤ 256 (labels are stored as bytes).',
        // NOTE: no `body` schema: the body is JSON or CSV, and fastify-type-provider-zod's OpenAPI transform cannot
        // describe per-content-type bodies; both forms are parsed and validated in the handler (same zod schemas).
        consumes: ['application/json', 'text/csv'],
        response: { 201: DatasetMetaSchema, ...problems(400, 401, 413, 415) },
      },
    },
    async (request, reply) => {
      let parsed: ParsedDataset;
      try {
        if (typeof request.body === 'string') {
          const q = DatasetCsvQuerySchema.safeParse(request.query);
          if (!q.success) throw new ValidationError(flattenIssues(q.error.issues, request.query));
          parsed = parseCsvUpload(request.body, q.data);
        } else {
          if (request.query && Object.keys(request.query as object).length > 0) {
            throw new ValidationError(Object.keys(request.query as object).map((k) => ({ path: k, message: 'unknown query parameter (a JSON upload carries everything in its body)' })));
          }
          const b = DatasetJsonUploadSchema.safeParse(request.body);
          if (!b.success) throw new ValidationError(flattenIssues(b.error.issues, request.body));
          parsed = parseJsonUpload(b.data);
        }
      } catch (e) {
        if (e instanceof DatasetValidationError) throw new ValidationError(e.errors);
        throw e;
      }
      const meta = await saveDataset(redis, keys, parsed);
      return reply.code(201).header('location', `/v1/datasets/${encodeURIComponent(meta.id)}`).send(meta);
    },
  );

  r.get(
    '/v1/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'A dataset: shape, classes, sizes',
        params: DatasetIdParamsSchema,
        response: { 200: DatasetSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const b = builtin(id);
      if (b) return b;
      const meta = await getDatasetMeta(redis, keys, id);
      if (!meta) throw new DatasetNotFoundHttpError(id);
      return meta;
    },
  );

  r.delete(
    '/v1/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Delete an uploaded dataset',
        description: 'Built-in datasets cannot be deleted (403). Jobs already queued on a deleted dataset fail when they start.',
        params: DatasetIdParamsSchema,
        response: { 204: z.null().describe('Deleted.'), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (builtin(id)) throw new AppError(403, 'DATASET_BUILTIN', 'Built-in dataset', `${id} is built in and cannot be deleted`);
      if (!(await deleteDataset(redis, keys, id))) throw new DatasetNotFoundHttpError(id);
      return reply.code(204).send(null);
    },
  );
}
