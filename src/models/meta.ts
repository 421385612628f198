import { z } from 'zod';
import { EpochMetricsSchema, InputShapeSchema, LayersModelSpecSchema } from '../engine/index.ts';

/**
 * What keiko records about a stored model (the `meta` field of its Redis hash, and `GET /v1/models/:id`).
 * The weights themselves live beside it as safetensors bytes.
 */
export const ModelLayerSummarySchema = z
  .strictObject({
    index: z.int().min(0),
    type: z.string(),
    /** Per-sample output shape (no batch axis). */
    outputShape: z.array(z.int().min(1)),
    paramCount: z.int().min(0),
  })
  .meta({ id: 'ModelLayerSummary' });

export const ModelMetaSchema = z
  .strictObject({
    id: z.string(),
    name: z.string().optional(),
    /** `job`: saved by a worker at the end of a training job; `import`: uploaded with `POST /v1/models`. */
    source: z.enum(['job', 'import']),
    /** The job that trained it. */
    jobId: z.string().optional(),
    /** The model whose weights the training started from (`model.initFrom`). */
    initFrom: z.string().optional(),
    /** The architecture, resolved to explicit layers (presets expanded), without `initFrom`. */
    spec: LayersModelSpecSchema,
    inputShape: InputShapeSchema,
    classes: z.int().min(1),
    paramCount: z.int().min(0),
    layers: z.array(ModelLayerSummarySchema),
    /** The final epoch's metrics (of the restored best epoch with early stopping). */
    metrics: EpochMetricsSchema.optional(),
    dataset: z.strictObject({ id: z.string() }).optional(),
    /** Size of the safetensors file `GET /v1/models/:id/weights` returns. */
    weightsBytes: z.int().min(0),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'ModelInfo' });
export type ModelMeta = z.infer<typeof ModelMetaSchema>;
