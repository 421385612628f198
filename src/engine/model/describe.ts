import { ShapeError } from '../errors.ts';
import { fmtShape, type LayerInfo, ShapeProblem, sizeOf } from '../layers/common.ts';
import { describeLayer } from '../layers/registry.ts';
import type { LayerType } from '../spec/layer-spec.ts';
import type { LayersModelSpec } from '../spec/model-spec.ts';

/** Per-layer and total shapes and learnable parameter counts of a model (buffers not counted). */
export interface ModelSummary {
  inputShape: number[];
  outputShape: number[];
  /** Learnable parameters (weights, biases, gamma, beta); batchnorm's running statistics are not counted. */
  paramCount: number;
  layers: { index: number; type: LayerType; outputShape: number[]; paramCount: number }[];
}

/**
 * The chain of layer descriptions (input shape → each layer's output, params, buffers), without allocating.
 * Throws ShapeError (path `['model', 'layers', i, field?]`) naming the first layer that does not fit.
 */
export function describeLayers(spec: LayersModelSpec): LayerInfo[] {
  let shape: number[] = [...spec.inputShape];
  const infos: LayerInfo[] = [];
  spec.layers.forEach((layer, i) => {
    let info: LayerInfo;
    try {
      info = describeLayer(layer, shape);
    } catch (e) {
      if (e instanceof ShapeProblem) throw new ShapeError(`layer ${i} (${layer.type}) on input ${fmtShape(shape)}: ${e.message}`, i, e.field);
      if (e instanceof RangeError) throw new ShapeError(`layer ${i} (${layer.type}) on input ${fmtShape(shape)}: ${e.message}`, i);
      throw e;
    }
    infos.push(info);
    shape = info.outputShape;
  });
  return infos;
}

/**
 * Shape-check a resolved spec without allocating weights: per-layer output shapes and parameter counts.
 * The last layer must output `[classes]` (a rank-1 shape with at least 2 entries; exactly `classes` when
 * given), since the loss is softmax cross-entropy over it.
 * @throws ShapeError naming the first bad layer (index, type, why), e.g. a kernel larger than its padded
 *   input, conv/pool/lrn on a 1-D input, groups not dividing channels or filters, a wrong final size.
 */
export function describeModel(spec: LayersModelSpec, classes?: number): ModelSummary {
  const infos = describeLayers(spec);
  const layers = infos.map((info, index) => ({
    index,
    type: spec.layers[index].type,
    outputShape: info.outputShape,
    paramCount: info.params.reduce((s, p) => s + sizeOf(p.shape), 0),
  }));
  const last = layers.length - 1;
  const out = infos[last].outputShape;
  if (out.length !== 1) {
    throw new ShapeError(`the last layer ${last} (${spec.layers[last].type}) outputs ${fmtShape(out)}; the loss needs [classes] (add flatten and dense)`, last);
  }
  if (classes !== undefined && out[0] !== classes) {
    throw new ShapeError(`the last layer ${last} (${spec.layers[last].type}) outputs ${out[0]} values but the dataset has ${classes} classes`, last);
  }
  if (out[0] < 2) throw new ShapeError(`the last layer ${last} (${spec.layers[last].type}) outputs ${out[0]} value; softmax needs at least 2 classes`, last);
  return {
    inputShape: [...spec.inputShape],
    outputShape: [...out],
    paramCount: layers.reduce((s, l) => s + l.paramCount, 0),
    layers,
  };
}
