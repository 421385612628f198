/**
 * The PERF.md workloads on keiko's engine: build the network, train `iters` batches, `repeats` times, and
 * report the median training samples/s; then the forward pass over the 2,000 test samples (eval mode).
 */
import { backend } from '../src/engine/kernels/backend.ts';
import '../src/engine/kernels/reference.ts';
import { softmaxCrossEntropy } from '../src/engine/losses/softmax-cross-entropy.ts';
import { resolveModelSpec } from '../src/engine/model/presets.ts';
import { buildModel } from '../src/engine/model/sequential.ts';
import { createOptimizer } from '../src/engine/optimizers/registry.ts';
import { Rng } from '../src/engine/random.ts';
import { L1L2 } from '../src/engine/regularizers/l1l2.ts';
import { ModelSpecSchema } from '../src/engine/spec/model-spec.ts';
import { OptimizerSpecSchema } from '../src/engine/spec/optimizer-spec.ts';

/** The workloads of PERF.md, by name. */
export const WORKLOADS = ['mlp', 'simple', 'deep', 'alexnet'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

interface WorkloadDef {
  model: unknown;
  optimizer: unknown;
  l2: number;
  batch: number;
  /** Random inputs of this shape instead of mnist (alexnet: 3×227×227, 1000 classes). */
  synthetic?: { shape: number[]; classes: number };
}

// Same networks and optimizers as /work/shared/perf/bench_torch.py (weight decay 5e-4 on alexnet as its SGD).
const DEFS: Record<WorkloadName, WorkloadDef> = {
  mlp: { model: { preset: 'mlp', hiddenLayers: 6, units: 100, inputShape: [784] }, optimizer: { type: 'sgd', learningRate: 0.01 }, l2: 0, batch: 100 },
  simple: { model: { preset: 'simple_convnet' }, optimizer: { type: 'adam', learningRate: 0.001 }, l2: 0, batch: 100 },
  deep: { model: { preset: 'deep_convnet' }, optimizer: { type: 'adam', learningRate: 0.001 }, l2: 0, batch: 100 },
  alexnet: {
    model: { preset: 'alexnet' }, optimizer: { type: 'momentum', learningRate: 0.01, momentum: 0.9 }, l2: 5e-4, batch: 8,
    synthetic: { shape: [3, 227, 227], classes: 1000 },
  },
};

/** mnist as the references use it: 8,000 train, 2,000 test (flattened 1×28×28, values in [0, 1]). */
export interface BenchData { xTrain: Float32Array; yTrain: Uint8Array; xTest: Float32Array; yTest: Uint8Array }

/** One measurement: samples/s of training, seconds of the 2,000-sample forward pass. */
export interface KeikoResult {
  train_samples_per_s: number;
  repeats: number[];
  eval_2000_s?: number;
  test_acc?: number;
  loss: number;
  backend: string;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Train workload `name` for `repeats` × `iters` batches after `warmup` batches (batch size `batchOverride`
 * or the workload's), on the engine's current backend.
 */
export function runKeiko(name: WorkloadName, data: BenchData | null, opts: { iters: number; repeats: number; warmup: number; batchOverride?: number; evalSamples?: number }): KeikoResult {
  const def = DEFS[name];
  const B = opts.batchOverride ?? def.batch;
  const rng = new Rng(0);
  const spec = resolveModelSpec(ModelSpecSchema.parse(def.model));
  const model = buildModel(spec, rng);
  const optimizer = createOptimizer(OptimizerSpecSchema.parse(def.optimizer));
  const reg = new L1L2({ l2: def.l2 });
  const params = model.params().map((p) => p.param);
  const be = backend();
  const inSize = spec.inputShape.reduce((a, b) => a * b, 1);
  const classes = model.outputShape[0]!;
  // The batch lives in the backend's memory, as a training loop gathering shuffled samples would keep it.
  const xb = be.alloc(B * inSize);
  const yb = new Uint8Array(B);
  const dlogits = be.alloc(B * classes);
  let nTrain: number;
  let source: Float32Array;
  let labels: Uint8Array;
  if (def.synthetic || !data) {
    nTrain = B;
    const r = new Rng(1);
    source = new Float32Array(B * inSize).map(() => r.normal());
    labels = Uint8Array.from({ length: B }, (_, i) => (i * 7) % Math.min(classes, 256));
  } else {
    nTrain = data.yTrain.length;
    source = data.xTrain;
    labels = data.yTrain;
  }
  let loss = 0;
  const step = (i: number): void => {
    const j = ((i * B) % nTrain) + B <= nTrain ? (i * B) % nTrain : 0;
    xb.set(source.subarray(j * inSize, (j + B) * inSize));
    yb.set(labels.subarray(j, j + B));
    const logits = model.forward(xb, B, 'train');
    loss = softmaxCrossEntropy(logits, yb, B, classes, dlogits).loss;
    model.backward(dlogits, B);
    reg.addGradients(params);
    optimizer.update(params);
  };
  for (let i = 0; i < opts.warmup; i++) step(i);
  const repeats: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    const t = performance.now();
    for (let i = 0; i < opts.iters; i++) step(i);
    repeats.push((opts.iters * B) / ((performance.now() - t) / 1000));
  }
  const out: KeikoResult = { train_samples_per_s: median(repeats), repeats, loss, backend: be.name };
  if (data && !def.synthetic) {
    // Forward over the test set in chunks of the training batch: the layers keep their training-size
    // buffers (one 2,000-sample batch would make every im2col buffer 20× larger).
    const n = Math.min(opts.evalSamples ?? data.yTest.length, data.yTest.length);
    let correct = 0;
    const t = performance.now();
    for (let s = 0; s < n; s += B) {
      const b = Math.min(B, n - s);
      const xe = b === B ? xb : xb.subarray(0, b * inSize);
      xe.set(data.xTest.subarray(s * inSize, (s + b) * inSize));
      const logits = model.forward(xe, b, 'eval');
      for (let k = 0; k < b; k++) {
        let arg = 0;
        for (let c = 1; c < classes; c++) if (logits[k * classes + c]! > logits[k * classes + arg]!) arg = c;
        if (arg === data.yTest[s + k]) correct++;
      }
    }
    out.eval_2000_s = ((performance.now() - t) / 1000) * (2000 / n);
    out.test_acc = correct / n;
  }
  return out;
}
