import { z } from 'zod';
import { LayerSpecSchema, WeightInitSchema } from './layer-spec.ts';

/**
 * A network: explicit `layers`, or a named `preset` with its options. The loss is always softmax
 * cross-entropy on the last layer's output, so the last layer must produce (N, classes).
 */

/** Input shape of one sample: `[features]` or `[channels, height, width]`. */
export const InputShapeSchema = z
  .union([z.tuple([z.int().min(1)]), z.tuple([z.int().min(1), z.int().min(1), z.int().min(1)])])
  .meta({ id: 'InputShape', description: '`[features]` or `[channels, height, width]`.' });
export type InputShape = z.infer<typeof InputShapeSchema>;

const modelCommon = {
  /** Default initialisation for every dense/conv2d layer without its own `weightInit`. */
  weightInit: WeightInitSchema.default('he'),
  /** Start from a stored model's weights (same architecture) instead of a fresh initialisation. */
  initFrom: z.string().min(1).max(128).optional(),
};

export const LayersModelSpecSchema = z
  .strictObject({
    inputShape: InputShapeSchema,
    layers: z.array(LayerSpecSchema).min(1),
    ...modelCommon,
  })
  .meta({ id: 'LayersModel' });

/** Shared preset options: the input shape and class count default to the dataset's. */
const presetCommon = {
  inputShape: InputShapeSchema.optional(),
  classes: z.int().min(2).optional(),
  initFrom: modelCommon.initFrom,
};

/** The course's MultiLayerNet: hiddenLayers × (dense units → [batchnorm] → activation → [dropout]) → dense classes. */
export const MlpPresetSchema = z.strictObject({
  preset: z.literal('mlp'),
  ...presetCommon,
  hiddenLayers: z.int().min(0).max(64).default(6),
  units: z.int().min(1).default(100),
  activation: z.enum(['relu', 'sigmoid', 'tanh']).default('relu'),
  dropout: z.number().min(0).lt(1).default(0),
  dropoutScaling: z.enum(['inverted', 'eval']).default('inverted'),
  batchNorm: z.boolean().default(false),
  weightInit: WeightInitSchema.default('he'),
}).meta({ id: 'MlpPreset' });

/** The book's SimpleConvNet: conv filters@k×k → ReLU → maxpool 2 s2 → dense hidden → ReLU → dense classes; init std 0.01. */
export const SimpleConvnetPresetSchema = z.strictObject({
  preset: z.literal('simple_convnet'),
  ...presetCommon,
  filters: z.int().min(1).default(30),
  kernelSize: z.int().min(1).default(5),
  stride: z.int().min(1).default(1),
  padding: z.int().min(0).default(0),
  hidden: z.int().min(1).default(100),
  dropout: z.number().min(0).lt(1).default(0),
  batchNorm: z.boolean().default(false),
  weightInit: WeightInitSchema.default(0.01),
}).meta({ id: 'SimpleConvnetPreset' });

/** The book's DeepConvNet (ch08): 6 conv 3×3 (16,16,32,32 pad 2,64,64), maxpool after every second, dense 50, dropout 0.5, dense classes, dropout on logits; He init. */
export const DeepConvnetPresetSchema = z.strictObject({
  preset: z.literal('deep_convnet'),
  ...presetCommon,
  dropout: z.number().min(0).lt(1).default(0.5),
  /** The book also drops out the logits (Dropout 0.5 after the last Affine); PyTorch-style nets do not. */
  logitDropout: z.boolean().default(true),
  batchNorm: z.boolean().default(false),
  weightInit: WeightInitSchema.default('he'),
}).meta({ id: 'DeepConvnetPreset' });

/** AlexNet (Krizhevsky et al. 2012): 5 conv + 3 dense, LRN after conv1/conv2, overlapping maxpool 3 s2, dropout 0.5 in fc6/fc7; input 3×227×227. */
export const AlexnetPresetSchema = z.strictObject({
  preset: z.literal('alexnet'),
  ...presetCommon,
  /** conv2, conv4 and conv5 in two groups, as on the paper's two GPUs (60,965,224 parameters; 62,378,344 ungrouped). */
  grouped: z.boolean().default(true),
  lrn: z.boolean().default(true),
  dropout: z.number().min(0).lt(1).default(0.5),
  dropoutScaling: z.enum(['inverted', 'eval']).default('inverted'),
  batchNorm: z.boolean().default(false),
  weightInit: WeightInitSchema.default(0.01),
}).meta({ id: 'AlexnetPreset' });

/** AlexNet's shape (conv-LRN-pool ×2, three 3×3 convs, pool, three dense with dropout) scaled for 1×28×28 or 3×32×32. */
export const AlexnetSmallPresetSchema = z.strictObject({
  preset: z.literal('alexnet_small'),
  ...presetCommon,
  grouped: z.boolean().default(false),
  lrn: z.boolean().default(true),
  dropout: z.number().min(0).lt(1).default(0.5),
  dropoutScaling: z.enum(['inverted', 'eval']).default('inverted'),
  batchNorm: z.boolean().default(false),
  weightInit: WeightInitSchema.default('he'),
}).meta({ id: 'AlexnetSmallPreset' });

export const PresetModelSpecSchema = z
  .discriminatedUnion('preset', [
    MlpPresetSchema,
    SimpleConvnetPresetSchema,
    DeepConvnetPresetSchema,
    AlexnetPresetSchema,
    AlexnetSmallPresetSchema,
  ])
  .meta({ id: 'PresetModel' });

/** `model` of a job: explicit layers or a preset. */
export const ModelSpecSchema = z.union([LayersModelSpecSchema, PresetModelSpecSchema]).meta({ id: 'Model' });

export type LayersModelSpec = z.infer<typeof LayersModelSpecSchema>;
export type PresetModelSpec = z.infer<typeof PresetModelSpecSchema>;
export type PresetName = PresetModelSpec['preset'];
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type ModelSpecInput = z.input<typeof ModelSpecSchema>;
