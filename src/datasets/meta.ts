import { z } from 'zod';
import { InputShapeSchema } from '../engine/index.ts';

/** An uploaded dataset's record (the `meta` field of its Redis hash; `GET /v1/datasets/:id`). */
export const DatasetMetaSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    source: z.literal('upload'),
    /** How it was uploaded. */
    format: z.enum(['json', 'csv']),
    inputShape: InputShapeSchema,
    classes: z.int().min(2).max(256),
    trainSize: z.int().min(1),
    testSize: z.int().min(1),
    /** Bytes stored in Redis for the four arrays (F32 LE inputs, U8 labels). */
    bytes: z.int().min(0),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'UploadedDataset' });
export type DatasetMeta = z.infer<typeof DatasetMetaSchema>;

/** A built-in dataset as listed by `GET /v1/datasets` (from the engine's `builtinDatasets`). */
export const BuiltinDatasetSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    source: z.literal('builtin'),
    description: z.string(),
    inputShape: z.array(z.int().min(1)),
    classes: z.int().min(1),
    size: z.int().min(0),
    trainSize: z.int().min(0),
    testSize: z.int().min(0),
  })
  .meta({ id: 'BuiltinDataset' });
export type BuiltinDataset = z.infer<typeof BuiltinDatasetSchema>;
