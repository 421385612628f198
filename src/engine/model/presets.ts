import { ZodError } from 'zod';
import { SpecError } from '../errors.ts';
import type { LayerSpecInput } from '../spec/layer-spec.ts';
import {
  type AlexnetPresetSchema, type AlexnetSmallPresetSchema, type DeepConvnetPresetSchema, type LayersModelSpec,
  LayersModelSpecSchema, type MlpPresetSchema, type ModelSpec, type PresetModelSpec, type SimpleConvnetPresetSchema,
} from '../spec/model-spec.ts';
import type { z } from 'zod';

/**
 * Presets: each expands into an explicit `layers` list. `batchNorm` options insert a batchnorm right after
 * each hidden dense/conv2d (before its activation), as the course's MultiLayerNetExtend does.
 */

type Preset<P extends z.ZodType> = z.infer<P>;
interface Dims {
  inputShape: number[];
  classes: number;
}

const bn = (on: boolean): LayerSpecInput[] => (on ? [{ type: 'batchnorm' }] : []);
const drop = (rate: number, scaling: 'inverted' | 'eval' = 'inverted'): LayerSpecInput[] =>
  (rate > 0 ? [{ type: 'dropout', rate, scaling }] : []);

/** MultiLayerNet: hiddenLayers × (dense units → [batchnorm] → activation → [dropout]) → dense classes. */
function mlp(p: Preset<typeof MlpPresetSchema>, d: Dims): LayerSpecInput[] {
  const layers: LayerSpecInput[] = [];
  for (let i = 0; i < p.hiddenLayers; i++) {
    layers.push({ type: 'dense', units: p.units }, ...bn(p.batchNorm), { type: p.activation }, ...drop(p.dropout, p.dropoutScaling));
  }
  layers.push({ type: 'dense', units: d.classes });
  return layers;
}

/** SimpleConvNet (book ch07): conv → [bn] → relu → maxpool 2 s2 → flatten → dense hidden → [bn] → relu → [dropout] → dense classes. */
function simpleConvnet(p: Preset<typeof SimpleConvnetPresetSchema>, d: Dims): LayerSpecInput[] {
  return [
    { type: 'conv2d', filters: p.filters, kernelSize: p.kernelSize, stride: p.stride, padding: p.padding },
    ...bn(p.batchNorm), { type: 'relu' },
    { type: 'maxpool2d', poolSize: 2, stride: 2 },
    { type: 'flatten' },
    { type: 'dense', units: p.hidden }, ...bn(p.batchNorm), { type: 'relu' }, ...drop(p.dropout),
    { type: 'dense', units: d.classes },
  ];
}

/**
 * DeepConvNet (book ch08): conv 3×3 16, 16, 32, 32 (pad 2), 64, 64 (pad 1 otherwise), each → [bn] → relu,
 * maxpool 2 s2 after every second; flatten → dense 50 → [bn] → relu → dropout → dense classes → [dropout on
 * the logits, as the book]. Dropout uses keiko's default (inverted) scaling.
 */
function deepConvnet(p: Preset<typeof DeepConvnetPresetSchema>, d: Dims): LayerSpecInput[] {
  const layers: LayerSpecInput[] = [];
  [16, 16, 32, 32, 64, 64].forEach((filters, i) => {
    layers.push({ type: 'conv2d', filters, kernelSize: 3, padding: i === 3 ? 2 : 1 }, ...bn(p.batchNorm), { type: 'relu' });
    if (i % 2 === 1) layers.push({ type: 'maxpool2d', poolSize: 2, stride: 2 });
  });
  layers.push({ type: 'flatten' }, { type: 'dense', units: 50 }, ...bn(p.batchNorm), { type: 'relu' }, ...drop(p.dropout));
  layers.push({ type: 'dense', units: d.classes });
  if (p.logitDropout) layers.push(...drop(p.dropout));
  return layers;
}

/** Sizes of an AlexNet-shaped network: five conv widths and kernel/stride/pad of conv1 and conv2, dense width. */
interface AlexSizes {
  conv: [number, number, number, number, number];
  k1: number; s1: number; p1: number;
  k2: number; p2: number;
  fc: number;
  /** AlexNet's biases of 1 in conv2, conv4, conv5, fc6, fc7 (paper §5); alexnet_small keeps 0. */
  biasOne: boolean;
}

function alexLayers(p: Preset<typeof AlexnetPresetSchema> | Preset<typeof AlexnetSmallPresetSchema>, d: Dims, s: AlexSizes): LayerSpecInput[] {
  const g = p.grouped ? 2 : 1;
  const b1 = s.biasOne ? 1 : 0;
  const lrn: LayerSpecInput[] = p.lrn ? [{ type: 'lrn', size: 5, alpha: 1e-4, beta: 0.75, k: 2 }] : [];
  const pool: LayerSpecInput = { type: 'maxpool2d', poolSize: 3, stride: 2 };
  const relu: LayerSpecInput = { type: 'relu' };
  const [c1, c2, c3, c4, c5] = s.conv;
  return [
    { type: 'conv2d', filters: c1, kernelSize: s.k1, stride: s.s1, padding: s.p1 }, ...bn(p.batchNorm), relu, ...lrn, pool,
    { type: 'conv2d', filters: c2, kernelSize: s.k2, padding: s.p2, groups: g, biasInit: b1 }, ...bn(p.batchNorm), relu, ...lrn, pool,
    { type: 'conv2d', filters: c3, kernelSize: 3, padding: 1 }, ...bn(p.batchNorm), relu,
    { type: 'conv2d', filters: c4, kernelSize: 3, padding: 1, groups: g, biasInit: b1 }, ...bn(p.batchNorm), relu,
    { type: 'conv2d', filters: c5, kernelSize: 3, padding: 1, groups: g, biasInit: b1 }, ...bn(p.batchNorm), relu, pool,
    { type: 'flatten' },
    { type: 'dense', units: s.fc, biasInit: b1 }, ...bn(p.batchNorm), relu, ...drop(p.dropout, p.dropoutScaling),
    { type: 'dense', units: s.fc, biasInit: b1 }, ...bn(p.batchNorm), relu, ...drop(p.dropout, p.dropoutScaling),
    { type: 'dense', units: d.classes },
  ];
}

/**
 * AlexNet (COURSE.md A11, Caffe's bvlc_alexnet pads): conv1 96@11×11 s4 → relu → lrn → maxpool 3 s2;
 * conv2 256@5×5 p2 (2 groups) → relu → lrn → pool; conv3 384@3×3 p1; conv4 384@3×3 p1 (groups);
 * conv5 256@3×3 p1 (groups) → pool; fc6 4096, fc7 4096 with relu and dropout; fc8 classes.
 * LRN k = 2, n = 5, α = 1e-4, β = 0.75. Biases 1 in conv2/4/5 and fc6/fc7 (paper), 0 elsewhere; weights
 * N(0, 0.01²) by default. 3×227×227 and 1000 classes: 60,965,224 parameters (62,378,344 ungrouped).
 */
const ALEXNET: AlexSizes = { conv: [96, 256, 384, 384, 256], k1: 11, s1: 4, p1: 0, k2: 5, p2: 2, fc: 4096, biasOne: true };

/**
 * alexnet_small: the same sequence (5 conv with LRN after conv1/conv2, three overlapping 3×3 s2 max pools,
 * three dense with dropout) scaled for 1×28×28 or 3×32×32, small enough to train on a CPU in seconds:
 * conv1 16@5×5 p2, conv2 32@5×5 p2, conv3 48@3×3 p1, conv4 48@3×3 p1, conv5 32@3×3 p1, fc 128, 128.
 * Spatial sizes 28 → 13 → 6 → 2 (flatten 128) or 32 → 15 → 7 → 3 (flatten 288). Biases 0, He init.
 * 96,074 parameters on 1×28×28 with 10 classes (72,394 grouped); 117,354 on 3×32×32.
 */
const ALEXNET_SMALL: AlexSizes = { conv: [16, 32, 48, 48, 32], k1: 5, s1: 1, p1: 2, k2: 5, p2: 2, fc: 128, biasOne: false };

const DEFAULT_DIMS: Record<PresetModelSpec['preset'], Dims> = {
  mlp: { inputShape: [784], classes: 10 },
  simple_convnet: { inputShape: [1, 28, 28], classes: 10 },
  deep_convnet: { inputShape: [1, 28, 28], classes: 10 },
  alexnet: { inputShape: [3, 227, 227], classes: 1000 },
  alexnet_small: { inputShape: [1, 28, 28], classes: 10 },
};

function presetLayers(p: PresetModelSpec, d: Dims): LayerSpecInput[] {
  switch (p.preset) {
    case 'mlp': return mlp(p, d);
    case 'simple_convnet': return simpleConvnet(p, d);
    case 'deep_convnet': return deepConvnet(p, d);
    case 'alexnet': return alexLayers(p, d, ALEXNET);
    case 'alexnet_small': return alexLayers(p, d, ALEXNET_SMALL);
  }
}

/**
 * Expand a preset into explicit layers (an explicit `layers` spec is returned unchanged).
 * The input shape and class count come from the preset's own options, else from `data` (the dataset),
 * else from the preset's default (alexnet 3×227×227 and 1000 classes; the others MNIST's 1×28×28, or
 * [784] for mlp, and 10 classes). The preset's `weightInit` becomes the model's.
 * @throws SpecError (path under `['model']`) when the result is not a valid layers spec (e.g. a 2-D input shape).
 */
export function resolveModelSpec(spec: ModelSpec, data: { inputShape?: readonly number[]; classes?: number } = {}): LayersModelSpec {
  if ('layers' in spec) return spec;
  const def = DEFAULT_DIMS[spec.preset];
  const dims: Dims = {
    inputShape: [...(spec.inputShape ?? data.inputShape ?? def.inputShape)],
    classes: spec.classes ?? data.classes ?? def.classes,
  };
  const raw = {
    inputShape: dims.inputShape,
    layers: presetLayers(spec, dims),
    weightInit: spec.weightInit,
    ...(spec.initFrom === undefined ? {} : { initFrom: spec.initFrom }),
  };
  try {
    return LayersModelSpecSchema.parse(raw);
  } catch (e) {
    if (e instanceof ZodError) {
      const issue = e.issues[0];
      throw new SpecError(`preset ${spec.preset}: ${issue?.message ?? 'invalid'} at ${issue?.path.join('.') ?? ''}`, ['model', ...(issue?.path ?? []).map((k) => (typeof k === 'symbol' ? String(k) : k))]);
    }
    throw e;
  }
}
