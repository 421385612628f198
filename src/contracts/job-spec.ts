import { z } from 'zod';
import {
  ModelSpecSchema,
  OptimizerSpecSchema,
  RegularizationSpecSchema,
  TrainingSpecSchema,
} from '../engine/spec/index.ts';

/** Which data a job trains on: a built-in dataset id (`mnist`, `synthetic-…`) or an uploaded dataset's id. */
export const DatasetRefSchema = z
  .strictObject({
    id: z.string().min(1).max(128),
    /** How many samples to train on (default: the dataset's whole train split). */
    trainSize: z.int().min(1).optional(),
    testSize: z.int().min(1).optional(),
    /** Seed of the permutation that splits built-in datasets (mnist) into train and test. */
    seed: z.int().min(0).max(2 ** 32 - 1).default(0),
  })
  .meta({ id: 'DatasetRef' });
export type DatasetRef = z.infer<typeof DatasetRefSchema>;

/** A training job as submitted to `POST /v1/jobs` (API.md "Job spec"). */
export const JobSpecSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    dataset: DatasetRefSchema,
    model: ModelSpecSchema,
    regularization: RegularizationSpecSchema.default({ l1: 0, l2: 0 }),
    optimizer: OptimizerSpecSchema.default({ type: 'sgd', learningRate: 0.01 }),
    training: TrainingSpecSchema,
  })
  .meta({ id: 'JobSpec' });
export type JobSpec = z.infer<typeof JobSpecSchema>;
export type JobSpecInput = z.input<typeof JobSpecSchema>;
