import { z } from 'zod';

/**
 * How a run iterates: epochs of `iterationsPerEpoch` batches (default ⌈N/batchSize⌉), drawn by `sampling`,
 * evaluated on the whole train and test sets (eval mode) after each epoch. One seed drives every random draw.
 */
export const EarlyStoppingSpecSchema = z
  .strictObject({
    monitor: z.enum(['testLoss', 'testAccuracy']).default('testLoss'),
    /** Epochs without an improvement larger than `minDelta` before stopping. */
    patience: z.int().min(1),
    minDelta: z.number().min(0).default(0),
    restoreBest: z.boolean().default(true),
  })
  .meta({ id: 'EarlyStopping' });

export const TrainingSpecSchema = z
  .strictObject({
    epochs: z.int().min(1),
    batchSize: z.int().min(1),
    seed: z.int().min(0).max(2 ** 32 - 1).default(0),
    sampling: z.enum(['shuffle', 'sequential', 'replacement']).default('shuffle'),
    iterationsPerEpoch: z.int().min(1).optional(),
    earlyStopping: EarlyStoppingSpecSchema.optional(),
    /** Threads that split the large kernels (1 up to the machine's cores). Results do not depend on it. */
    threads: z.int().min(1).max(64).default(1),
  })
  .meta({ id: 'Training' });
export type TrainingSpec = z.infer<typeof TrainingSpecSchema>;
export type EarlyStoppingSpec = z.infer<typeof EarlyStoppingSpecSchema>;

/** What the engine reports after each epoch. Losses include the regularisation term. */
export const EpochMetricsSchema = z
  .strictObject({
    epoch: z.int().min(1),
    iteration: z.int().min(0),
    trainLoss: z.number(),
    trainAccuracy: z.number().min(0).max(1),
    testLoss: z.number(),
    testAccuracy: z.number().min(0).max(1),
    learningRate: z.number(),
    durationMs: z.number().min(0),
    samplesPerSecond: z.number().min(0),
  })
  .meta({ id: 'EpochMetrics' });
export type EpochMetrics = z.infer<typeof EpochMetricsSchema>;
