import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { buildModel, ModelSpecSchema, Rng, setWeights, type ModelSpec, type Sequential } from '../../engine/index.ts';
import { ModelWeightsError, type FieldProblem } from '../../models/errors.ts';
import { prepareImport } from '../../models/import.ts';
import { ModelMetaSchema, type ModelMeta } from '../../models/meta.ts';
import { exportOnnx } from '../../models/onnx/export.ts';
import { PredictCache } from '../../models/predict-cache.ts';
import { predictAll, PredictInputError, toBatch } from '../../models/predict.ts';
import { deleteModel, getModelMeta, getModelWeights, listModels, loadModel, saveModel } from '../../redis/model-store.ts';
import { AppError, PayloadTooLargeError, ValidationError } from '../errors.ts';
import { ProblemSchema } from '../problem.ts';
import { queryInt } from '../schemas.ts';
import { flattenIssues } from '../zod-issues.ts';

const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ProblemSchema]));

export class ModelNotFoundError extends AppError {
  constructor(id: string) {
    super(404, 'MODEL_NOT_FOUND', 'Model not found', `no model with id ${JSON.stringify(id)}`);
  }
}

/** A binary 200 response, documented as `application/octet-stream` (the Buffer is sent as it is, never serialized). */
const binary = (description: string) => ({ description, content: { 'application/octet-stream': { schema: z.any().describe(description) } } });

const ModelIdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

const ListModelsQuerySchema = z.strictObject({
  limit: queryInt(1, 500).optional().describe('Page size, 1–500 (default 50).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` of the previous page.'),
});

const ModelListSchema = z
  .strictObject({
    items: z.array(ModelMetaSchema),
    nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page.'),
  })
  .meta({ id: 'ModelList' });

/** `application/json` form of an import (the multipart form has the same fields, `weights` as a file). */
export const ModelImportJsonSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    spec: z.unknown().optional().describe('A model spec (explicit layers, or a preset with inputShape and classes). Default: the file\'s __metadata__.spec.'),
    weights: z.string().min(1).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64').describe('The .safetensors file, base64-encoded.'),
  })
  .meta({ id: 'ModelImportJson' });

const PredictBodySchema = z
  .strictObject({
    inputs: z
      .array(z.unknown())
      .min(1)
      .describe('One sample or many; each flat (prod(inputShape) numbers) or nested to inputShape.'),
  })
  .meta({ id: 'PredictRequest' });

const PredictResponseSchema = z
  .strictObject({
    modelId: z.string(),
    predictions: z.array(
      z.strictObject({
        class: z.int().min(0).describe('The most probable class (the first on ties).'),
        probabilities: z.array(z.number()).describe('Softmax of the logits, one per class.'),
      }),
    ),
  })
  .meta({ id: 'PredictResponse' });

interface CachedModel {
  meta: ModelMeta;
  model: Sequential;
}

/** A spec value → parsed spec, or its problems under `spec.…` (the union is flattened as for jobs). */
function parseSpec(raw: unknown, prefix = 'spec'): { spec?: ModelSpec; problems: FieldProblem[] } {
  const r = ModelSpecSchema.safeParse(raw);
  if (r.success) return { spec: r.data, problems: [] };
  return { problems: flattenIssues(r.error.issues, raw, [prefix]) };
}

/**
 * `GET /v1/models`, `GET|DELETE /v1/models/:id`, `GET /v1/models/:id/weights` (safetensors), `GET /v1/models/:id/onnx`,
 * `POST /v1/models` (import: multipart `spec` + `weights` file, or JSON with base64 weights) and
 * `POST /v1/models/:id/predict` (built models kept in a per-process LRU of `PREDICT_CACHE_SIZE`).
 */
export async function modelsRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { redis, keys, env } = app.keiko.deps;
  const uploadLimit = env.MAX_UPLOAD_BYTES;

  // Encapsulated here: only the import route reads multipart bodies.
  await app.register(multipart, { limits: { fileSize: uploadLimit, files: 1, fields: 10, fieldSize: Math.min(uploadLimit, 16 * 1_048_576) } });

  const cache = new PredictCache<CachedModel>(
    env.PREDICT_CACHE_SIZE,
    async (id) => {
      const loaded = await loadModel(redis, keys, id);
      if (!loaded) return null;
      // The Rng only fills the weights that setWeights overwrites at once: any seed gives the same model.
      const model = buildModel(loaded.meta.spec, new Rng(0));
      setWeights(model, loaded.tensors);
      return { meta: loaded.meta, model };
    },
    // NOTE: one EXISTS per hit (not a reload): a model deleted through another API instance is not served.
    async (id) => (await redis.exists(keys.model(id))) === 1,
  );

  r.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'List models, newest first',
        querystring: ListModelsQuerySchema,
        response: { 200: ModelListSchema, ...problems(400, 401) },
      },
    },
    async (request) => listModels(redis, keys, { limit: request.query.limit ?? 50, cursor: request.query.cursor }),
  );

  r.get(
    '/v1/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'A model: architecture, per-layer shapes, parameter count, final metrics, the job that made it',
        params: ModelIdParamsSchema,
        response: { 200: ModelMetaSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      const meta = await getModelMeta(redis, keys, request.params.id);
      if (!meta) throw new ModelNotFoundError(request.params.id);
      return meta;
    },
  );

  r.delete(
    '/v1/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'Delete a model',
        params: ModelIdParamsSchema,
        response: { 204: z.null().describe('Deleted.'), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const existed = await deleteModel(redis, keys, id);
      cache.invalidate(id);
      if (!existed) throw new ModelNotFoundError(id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/models/:id/weights',
    {
      schema: {
        tags: ['models'],
        summary: 'The weights as a .safetensors file',
        description:
          'F32 tensors named `<layerIndex>.<param>` (weight, bias, gamma, beta, runningMean, runningVar) in layer order; ' +
          'dense weights are [fanIn, units], conv weights [filters, C/groups, KH, KW]. `__metadata__.spec` holds the model spec as JSON, ' +
          'so the file imports back with `POST /v1/models` alone.',
        params: ModelIdParamsSchema,
        response: { 200: binary('A safetensors file.'), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const bytes = await getModelWeights(redis, keys, id);
      if (!bytes) throw new ModelNotFoundError(id);
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${encodeURIComponent(id)}.safetensors"`)
        .send(bytes);
    },
  );

  r.get(
    '/v1/models/:id/onnx',
    {
      schema: {
        tags: ['models'],
        summary: 'The model as an ONNX file (opset 13)',
        description:
          'Input `input` [N, ...inputShape] float; outputs `logits` and `probabilities` (softmax) [N, classes]; inference form ' +
          '(batchnorm with running statistics, dropout as identity or ×(1−rate) for `scaling: "eval"`). Runs in onnxruntime with keiko\'s predictions.',
        params: ModelIdParamsSchema,
        response: { 200: binary('An ONNX ModelProto.'), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const loaded = await loadModel(redis, keys, id);
      if (!loaded) throw new ModelNotFoundError(id);
      const { meta, tensors } = loaded;
      const bytes = exportOnnx(meta.spec, tensors, { name: meta.name ?? meta.id, metadata: { modelId: meta.id, ...(meta.jobId ? { jobId: meta.jobId } : {}) } });
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${encodeURIComponent(id)}.onnx"`)
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  /** The fields of an import request, from either body form; unknown fields and bad encodings are problems. */
  async function readImport(request: FastifyRequest): Promise<{ name?: string; specRaw?: unknown; hasSpec: boolean; weights?: Buffer; problems: FieldProblem[] }> {
    const out: { name?: string; specRaw?: unknown; hasSpec: boolean; weights?: Buffer; problems: FieldProblem[] } = { hasSpec: false, problems: [] };
    if (request.isMultipart()) {
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'weights') {
              out.problems.push({ path: part.fieldname, message: 'unknown field (the file field is `weights`)' });
              await part.toBuffer();
              continue;
            }
            out.weights = await part.toBuffer();
          } else if (part.fieldname === 'spec') {
            out.hasSpec = true;
            try {
              out.specRaw = JSON.parse(String(part.value));
            } catch {
              out.problems.push({ path: 'spec', message: 'is not valid JSON' });
            }
          } else if (part.fieldname === 'name') {
            const v = String(part.value);
            if (v.length < 1 || v.length > 200) out.problems.push({ path: 'name', message: 'must be 1 to 200 characters' });
            else out.name = v;
          } else {
            out.problems.push({ path: part.fieldname, message: 'unknown field' });
          }
        }
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
          throw new ValidationError([{ path: '', message: 'too many parts: send one `weights` file and the `spec` and `name` fields' }]);
        }
        if (code === 'FST_REQ_FILE_TOO_LARGE' || (e as { statusCode?: number }).statusCode === 413) throw new PayloadTooLargeError(uploadLimit);
        throw e;
      }
    } else {
      const parsed = ModelImportJsonSchema.safeParse(request.body);
      if (!parsed.success) {
        out.problems.push(...flattenIssues(parsed.error.issues, request.body));
        return out;
      }
      out.name = parsed.data.name;
      out.hasSpec = parsed.data.spec !== undefined;
      out.specRaw = parsed.data.spec;
      out.weights = Buffer.from(parsed.data.weights, 'base64');
    }
    if (!out.weights) out.problems.push({ path: 'weights', message: 'required: the .safetensors file' });
    return out;
  }

  r.post(
    '/v1/models',
    {
      bodyLimit: Math.ceil(uploadLimit * 1.34) + 65_536, // base64 JSON carries 4/3 of the file
      schema: {
        tags: ['models'],
        summary: 'Import a model: a spec and a .safetensors file',
        description:
          '`multipart/form-data` with fields `spec` (JSON: explicit layers, or a preset with `inputShape` and `classes`), `weights` (the file) ' +
          'and optional `name`; or `application/json` `{ spec, weights: BASE64, name? }`. Without `spec`, the file\'s `__metadata__.spec` ' +
          '(present in keiko\'s downloads) is used. A missing, extra or mis-shaped tensor, or a non-finite value, is a 400 naming it ' +
          '(`weights.3.weight`). Limited to MAX_UPLOAD_BYTES (413).',
        consumes: ['multipart/form-data', 'application/json'],
        response: { 201: ModelMetaSchema, ...problems(400, 401, 413, 415) },
      },
    },
    async (request, reply) => {
      const input = await readImport(request);
      const errors: FieldProblem[] = [...input.problems];
      let spec: ModelSpec | undefined;
      if (input.hasSpec && input.specRaw !== undefined) {
        const p = parseSpec(input.specRaw);
        errors.push(...p.problems);
        spec = p.spec;
      }
      // A spec that failed to parse is reported; the weights are still checked for their own problems.
      if (input.weights && !(input.hasSpec && !spec)) {
        try {
          const prepared = prepareImport(spec, input.weights, (raw) => parseSpec(raw, 'weights.__metadata__.spec'));
          if (errors.length === 0) {
            const meta = await saveModel(redis, keys, { spec: prepared.spec, name: input.name, source: 'import' }, prepared.tensors);
            return reply.code(201).header('location', `/v1/models/${encodeURIComponent(meta.id)}`).send(meta);
          }
        } catch (e) {
          if (!(e instanceof ModelWeightsError)) throw e;
          errors.push(...e.errors);
        }
      }
      throw new ValidationError(errors.length ? errors : [{ path: '', message: 'nothing to import' }]);
    },
  );

  r.post(
    '/v1/models/:id/predict',
    {
      schema: {
        tags: ['models'],
        summary: 'Predict classes and probabilities',
        description: 'Eval mode (batchnorm running statistics, no dropout). A wrong input size is a 400 naming the input (`inputs.3`).',
        params: ModelIdParamsSchema,
        body: PredictBodySchema,
        response: { 200: PredictResponseSchema, ...problems(400, 401, 404, 413) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const entry = await cache.get(id);
      if (!entry) throw new ModelNotFoundError(id);
      const { meta, model } = entry;
      let batch: ReturnType<typeof toBatch>;
      try {
        batch = toBatch(request.body.inputs, meta.inputShape);
      } catch (e) {
        if (e instanceof PredictInputError) throw new ValidationError(e.errors);
        throw e;
      }
      const size = meta.inputShape.reduce((a, b) => a * b, 1);
      return { modelId: id, predictions: predictAll((x, n) => model.predict(x, n), batch.x, batch.n, size, meta.classes) };
    },
  );
}
