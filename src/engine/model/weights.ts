import { SpecError } from '../errors.ts';
import { sizeOf } from '../layers/common.ts';
import type { LayersModelSpec } from '../spec/model-spec.ts';
import { describeLayers } from './describe.ts';
import type { Sequential } from './sequential.ts';

/** A named float32 tensor: `<layerIndex>.<name>` (weight, bias, gamma, beta, runningMean, runningVar). */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * The tensors a spec's model holds, in layer order (params then buffers within a layer), without building it.
 * @throws ShapeError when the spec's layers do not compose.
 */
export function expectedTensors(spec: LayersModelSpec): { name: string; shape: number[] }[] {
  return describeLayers(spec).flatMap((info, i) =>
    [...info.params, ...info.buffers].map((t) => ({ name: `${i}.${t.name}`, shape: [...t.shape] })));
}

function modelTensors(model: Sequential): { name: string; shape: readonly number[]; value: Float32Array }[] {
  return model.layers.flatMap((l, i) =>
    [...l.params(), ...l.buffers()].map((t) => ({ name: `${i}.${t.name}`, shape: t.shape, value: t.value })));
}

/** Copies of every parameter and buffer of the model, named `<layerIndex>.<name>`, in `expectedTensors` order. */
export function getWeights(model: Sequential): NamedTensor[] {
  return modelTensors(model).map((t) => ({ name: t.name, shape: [...t.shape], data: Float32Array.from(t.value) }));
}

/**
 * Copy `tensors` into the model. Strict, like MLX `load_weights`: every tensor must be present exactly
 * once with the exact shape and element count, and no extra tensor is allowed.
 * Nothing is written unless everything matches.
 * @throws SpecError (code `WEIGHTS_MISMATCH`, path `['weights', name]`) naming the missing, extra, duplicated
 *   or mis-shaped tensor.
 */
export function setWeights(model: Sequential, tensors: NamedTensor[]): void {
  const want = modelTensors(model);
  const byName = new Map<string, NamedTensor>();
  const matched: Float32Array[] = [];
  for (const t of tensors) {
    if (byName.has(t.name)) throw new SpecError(`tensor ${t.name} is given twice`, ['weights', t.name], 'WEIGHTS_MISMATCH');
    byName.set(t.name, t);
  }
  for (const w of want) {
    const t = byName.get(w.name);
    if (t === undefined) throw new SpecError(`tensor ${w.name} is missing`, ['weights', w.name], 'WEIGHTS_MISMATCH');
    const sameShape = t.shape.length === w.shape.length && t.shape.every((d, i) => d === w.shape[i]);
    if (!sameShape) throw new SpecError(`tensor ${w.name} has shape [${t.shape.join(', ')}], expected [${w.shape.join(', ')}]`, ['weights', w.name], 'WEIGHTS_MISMATCH');
    if (t.data.length !== sizeOf(w.shape)) throw new SpecError(`tensor ${w.name} has ${t.data.length} values, expected ${sizeOf(w.shape)}`, ['weights', w.name], 'WEIGHTS_MISMATCH');
    matched.push(t.data);
    byName.delete(w.name);
  }
  const extra = byName.keys().next();
  if (!extra.done) throw new SpecError(`tensor ${extra.value} is not part of this model`, ['weights', extra.value], 'WEIGHTS_MISMATCH');
  want.forEach((w, i) => w.value.set(matched[i]));
}
