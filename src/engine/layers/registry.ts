import type { LayerSpec, LayerType } from '../spec/layer-spec.ts';
import { ReLU, Sigmoid, Tanh } from './activations.ts';
import { AvgPool2d } from './avg-pool2d.ts';
import { BatchNorm } from './batch-norm.ts';
import type { LayerContext, LayerFactory, LayerInfo } from './common.ts';
import { Conv2d } from './conv2d.ts';
import { Dense } from './dense.ts';
import { Dropout } from './dropout.ts';
import { Flatten } from './flatten.ts';
import type { Layer, Shape } from './layer.ts';
import { LRN } from './lrn.ts';
import { MaxPool2d } from './max-pool2d.ts';

/** The spec type of one layer type. */
export type SpecOf<T extends LayerType> = Extract<LayerSpec, { type: T }>;

/**
 * Every layer type's static description and constructor. Exhaustive: a new `type` in `LayerSpecSchema`
 * does not compile until it is registered here.
 */
export const layerFactories = {
  dense: { describe: Dense.describe, create: (s, i, c) => new Dense(s, i, c) },
  conv2d: { describe: Conv2d.describe, create: (s, i, c) => new Conv2d(s, i, c) },
  maxpool2d: { describe: MaxPool2d.describe, create: (s, i, c) => new MaxPool2d(s, i, c) },
  avgpool2d: { describe: AvgPool2d.describe, create: (s, i, c) => new AvgPool2d(s, i, c) },
  flatten: { describe: Flatten.describe, create: (_s, i) => new Flatten(i) },
  relu: { describe: ReLU.describe, create: (_s, i, c) => new ReLU(i, c) },
  sigmoid: { describe: Sigmoid.describe, create: (_s, i, c) => new Sigmoid(i, c) },
  tanh: { describe: Tanh.describe, create: (_s, i, c) => new Tanh(i, c) },
  dropout: { describe: Dropout.describe, create: (s, i, c) => new Dropout(s, i, c) },
  batchnorm: { describe: BatchNorm.describe, create: (s, i, c) => new BatchNorm(s, i, c) },
  lrn: { describe: LRN.describe, create: (s, i, c) => new LRN(s, i, c) },
} satisfies { [T in LayerType]: LayerFactory<SpecOf<T>> };

/** Output shape, params and buffers of `spec` on `inputShape`, without allocating; throws ShapeProblem. */
export function describeLayer(spec: LayerSpec, inputShape: Shape): LayerInfo {
  return (layerFactories[spec.type] as LayerFactory).describe(spec, inputShape);
}

/** Build one layer from its spec (draws its initial weights from `ctx.rng`). */
export function createLayer(spec: LayerSpec, inputShape: Shape, ctx: LayerContext): Layer {
  return (layerFactories[spec.type] as LayerFactory).create(spec, inputShape, ctx);
}
