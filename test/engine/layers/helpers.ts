import '../../../src/engine/kernels/reference.ts';
import type { Layer } from '../../../src/engine/layers/layer.ts';
import { createLayer } from '../../../src/engine/layers/registry.ts';
import { Rng } from '../../../src/engine/random.ts';
import { type LayerSpecInput, LayerSpecSchema, type WeightInit } from '../../../src/engine/spec/layer-spec.ts';

/** Build one layer from a user-style spec (defaults filled by the zod schema). */
export function makeLayer(spec: LayerSpecInput, inputShape: number[], seed = 1, weightInit: WeightInit = 'he'): Layer {
  return createLayer(LayerSpecSchema.parse(spec), inputShape, { rng: new Rng(seed), weightInit });
}

/** Distinct values (a shuffled grid with spacing `step`, centred on 0): no ties, no kinks within ±step/2. */
export function distinctValues(n: number, seed: number, step = 0.05): Float32Array {
  const perm = new Rng(seed).permutation(n);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (perm[i] - n / 2 + 0.5) * step;
  return a;
}
