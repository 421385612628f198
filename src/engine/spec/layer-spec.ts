import { z } from 'zod';

/**
 * Layer specs: the JSON form of every layer keiko's engine builds. One `z.discriminatedUnion` on `type`
 * gives validation, the TypeScript types (`z.infer`) and the OpenAPI components; no interface mirrors it.
 * Objects are strict: an unknown field is an error, never dropped.
 */

const posInt = () => z.int().min(1);
const nonNegInt = () => z.int().min(0);
/** A size given once for both spatial axes, or as `[height, width]`. */
const size2 = () => z.union([posInt(), z.tuple([posInt(), posInt()])]);

/** Weight initialisation: `he` std √(2/fanIn), `xavier` std √(1/fanIn), or a number used as the std. */
export const WeightInitSchema = z
  .union([z.enum(['he', 'xavier']), z.number().positive().max(10)])
  .meta({ id: 'WeightInit', description: '`he` (std √(2/fanIn)), `xavier` (std √(1/fanIn)), or a fixed standard deviation.' });
export type WeightInit = z.infer<typeof WeightInitSchema>;

/** Fully connected: y = x·W + b, x flattened to (N, fanIn); W is (fanIn, units) as in the course. */
export const DenseSpecSchema = z.strictObject({
  type: z.literal('dense'),
  units: posInt(),
  useBias: z.boolean().default(true),
  weightInit: WeightInitSchema.optional(),
  biasInit: z.number().default(0),
}).meta({ id: 'DenseLayer' });

/** 2-D cross-correlation through im2col; W is (filters, C/groups, KH, KW). */
export const Conv2dSpecSchema = z.strictObject({
  type: z.literal('conv2d'),
  filters: posInt(),
  kernelSize: size2(),
  stride: size2().default(1),
  padding: z.union([nonNegInt(), z.tuple([nonNegInt(), nonNegInt()])]).default(0),
  groups: posInt().default(1),
  useBias: z.boolean().default(true),
  weightInit: WeightInitSchema.optional(),
  biasInit: z.number().default(0),
}).meta({ id: 'Conv2dLayer' });

const poolFields = {
  poolSize: size2(),
  /** Defaults to `poolSize` (non-overlapping windows); AlexNet's overlapping pooling is 3 with stride 2. */
  stride: size2().optional(),
  padding: z.union([nonNegInt(), z.tuple([nonNegInt(), nonNegInt()])]).default(0),
};
export const MaxPool2dSpecSchema = z.strictObject({ type: z.literal('maxpool2d'), ...poolFields }).meta({ id: 'MaxPool2dLayer' });
export const AvgPool2dSpecSchema = z.strictObject({ type: z.literal('avgpool2d'), ...poolFields }).meta({ id: 'AvgPool2dLayer' });

export const FlattenSpecSchema = z.strictObject({ type: z.literal('flatten') }).meta({ id: 'FlattenLayer' });
export const ReluSpecSchema = z.strictObject({ type: z.literal('relu') }).meta({ id: 'ReluLayer' });
export const SigmoidSpecSchema = z.strictObject({ type: z.literal('sigmoid') }).meta({ id: 'SigmoidLayer' });
export const TanhSpecSchema = z.strictObject({ type: z.literal('tanh') }).meta({ id: 'TanhLayer' });

/**
 * Dropout with drop probability `rate`. `inverted` (default, PyTorch/Keras): train y = x⊙m/(1−rate),
 * eval y = x. `eval` (the book's form): train y = x⊙m, eval y = (1−rate)·x.
 */
export const DropoutSpecSchema = z.strictObject({
  type: z.literal('dropout'),
  rate: z.number().min(0).lt(1),
  scaling: z.enum(['inverted', 'eval']).default('inverted'),
}).meta({ id: 'DropoutLayer' });

/**
 * Batch normalisation per feature (after dense) or per channel (after conv2d).
 * running ← momentum·running + (1−momentum)·batch (the course's convention: 0.9 keeps 90% of the old value).
 */
export const BatchNormSpecSchema = z.strictObject({
  type: z.literal('batchnorm'),
  momentum: z.number().min(0).lt(1).default(0.9),
  epsilon: z.number().positive().max(1).default(1e-5),
}).meta({ id: 'BatchNormLayer' });

/**
 * Local response normalisation across channels, the AlexNet paper's form:
 * b_i = a_i / (k + α·Σ_{j=max(0,i−⌊n/2⌋)}^{min(C−1,i+⌊n/2⌋)} a_j²)^β. α is NOT divided by n (Caffe and PyTorch divide).
 */
export const LrnSpecSchema = z.strictObject({
  type: z.literal('lrn'),
  size: posInt().default(5),
  alpha: z.number().nonnegative().default(1e-4),
  beta: z.number().nonnegative().default(0.75),
  k: z.number().nonnegative().default(2),
}).meta({ id: 'LrnLayer' });

export const LayerSpecSchema = z
  .discriminatedUnion('type', [
    DenseSpecSchema,
    Conv2dSpecSchema,
    MaxPool2dSpecSchema,
    AvgPool2dSpecSchema,
    FlattenSpecSchema,
    ReluSpecSchema,
    SigmoidSpecSchema,
    TanhSpecSchema,
    DropoutSpecSchema,
    BatchNormSpecSchema,
    LrnSpecSchema,
  ])
  .meta({ id: 'Layer' });

/** A parsed layer spec (defaults filled in). */
export type LayerSpec = z.infer<typeof LayerSpecSchema>;
/** A layer spec as a user writes it (defaults optional). */
export type LayerSpecInput = z.input<typeof LayerSpecSchema>;
export type LayerType = LayerSpec['type'];
export type DenseSpec = z.infer<typeof DenseSpecSchema>;
export type Conv2dSpec = z.infer<typeof Conv2dSpecSchema>;
export type MaxPool2dSpec = z.infer<typeof MaxPool2dSpecSchema>;
export type AvgPool2dSpec = z.infer<typeof AvgPool2dSpecSchema>;
export type DropoutSpec = z.infer<typeof DropoutSpecSchema>;
export type BatchNormSpec = z.infer<typeof BatchNormSpecSchema>;
export type LrnSpec = z.infer<typeof LrnSpecSchema>;
