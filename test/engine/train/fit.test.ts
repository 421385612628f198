import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  buildModel, type Checkpoint, deserializeCheckpoint, type EpochMetrics, fit, type FitOptions, getWeights, LayersModelSpecSchema,
  loadBuiltinDataset, OptimizerSpecSchema, RegularizationSpecSchema, Rng, serializeCheckpoint, softmaxCrossEntropy, SpecError,
  TrainingSpecSchema, type DatasetSplit, type LayersModelSpec, type NamedTensor,
} from '../../../src/engine/index.ts';
import { L1L2 } from '../../../src/engine/regularizers/l1l2.ts';

/** dense → batchnorm → relu → dropout → dense: init, batch order, dropout masks and BN running stats all matter. */
const spec: LayersModelSpec = LayersModelSpecSchema.parse({
  inputShape: [2],
  layers: [{ type: 'dense', units: 24 }, { type: 'batchnorm' }, { type: 'relu' }, { type: 'dropout', rate: 0.2 }, { type: 'dense', units: 3 }],
});

let spirals: DatasetSplit | undefined;
async function data(): Promise<DatasetSplit> {
  spirals ??= await loadBuiltinDataset({ id: 'synthetic-spirals', seed: 3, trainSize: 300, testSize: 150 });
  return spirals;
}

type Over = Partial<Omit<FitOptions, 'model' | 'rng' | 'data' | 'training' | 'optimizer' | 'regularization'>> & {
  seed?: number;
  training?: Record<string, unknown>;
  optimizer?: Record<string, unknown>;
  regularization?: Record<string, unknown>;
};

async function run(over: Over = {}) {
  const { seed = 11, training, optimizer, regularization, ...rest } = over;
  const rng = new Rng(seed);
  const model = buildModel(spec, rng);
  const d = await data();
  const result = fit({
    model,
    rng,
    data: d,
    training: TrainingSpecSchema.parse({ epochs: 5, batchSize: 32, ...training }),
    optimizer: OptimizerSpecSchema.parse({ type: 'adam', learningRate: 0.01, ...optimizer }),
    regularization: RegularizationSpecSchema.parse({ l2: 0.001, ...regularization }),
    ...rest,
  });
  return { model, result, rng, data: d };
}

/** Metrics without the wall-clock fields. */
function stable(ms: EpochMetrics[]): Omit<EpochMetrics, 'durationMs' | 'samplesPerSecond'>[] {
  return ms.map(({ durationMs: _d, samplesPerSecond: _s, ...m }) => m);
}

function sameTensors(a: NamedTensor[], b: NamedTensor[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]!.name && t.data.every((v, k) => Object.is(v, b[i]!.data[k])));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('fit', () => {
  it('learns the spirals and reports well-formed metrics per epoch', async () => {
    const { result } = await run({ training: { epochs: 8 } });
    expect(result.status).toBe('completed');
    expect(result.epochs.map((m) => m.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // ⌈300/32⌉ = 10 batches per epoch.
    expect(result.epochs.map((m) => m.iteration)).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    for (const m of result.epochs) {
      expect(m.learningRate).toBe(0.01);
      expect(m.durationMs).toBeGreaterThan(0);
      expect(m.samplesPerSecond).toBeGreaterThan(0);
    }
    const last = result.epochs.at(-1)!;
    expect(last.trainAccuracy).toBeGreaterThan(0.8);
    expect(last.testAccuracy).toBeGreaterThan(0.75);
    expect(last.trainLoss).toBeLessThan(result.epochs[0]!.trainLoss);
  });

  it('reports losses that include the regularization penalty, evaluated on the whole sets in eval mode', async () => {
    const { model, result, data: d } = await run({ training: { epochs: 2 }, regularization: { l1: 0.002, l2: 0.01 } });
    const last = result.epochs.at(-1)!;
    const params = model.params().map((p) => p.param);
    const penalty = new L1L2({ l1: 0.002, l2: 0.01 }).penalty(params);
    expect(penalty).toBeGreaterThan(0.01);
    for (const [set, loss, acc] of [[d.train, last.trainLoss, last.trainAccuracy], [d.test, last.testLoss, last.testAccuracy]] as const) {
      const logits = model.forward(set.x, set.n, 'eval');
      const r = softmaxCrossEntropy(logits, set.y, set.n, 3);
      expect(loss).toBeCloseTo(r.loss + penalty, 5);
      expect(acc).toBe(r.correct / set.n);
    }
  });

  it('gives identical metrics for the same seed and different ones for another seed', async () => {
    const a = await run();
    const b = await run();
    const c = await run({ seed: 12 });
    expect(stable(b.result.epochs)).toEqual(stable(a.result.epochs));
    expect(sameTensors(getWeights(a.model), getWeights(b.model))).toBe(true);
    expect(stable(c.result.epochs)).not.toEqual(stable(a.result.epochs));
  });

  it.each([
    ['shuffle + adam + dropout + early-stopping state', { sampling: 'shuffle', earlyStopping: { patience: 50 } }, { type: 'adam' }],
    ['replacement + momentum, 7 iterations per epoch', { sampling: 'replacement', iterationsPerEpoch: 7 }, { type: 'momentum', learningRate: 0.05 }],
    ['sequential + rmsprop', { sampling: 'sequential' }, { type: 'rmsprop', learningRate: 0.003 }],
  ])('resuming from epoch 2\'s serialized checkpoint equals the uninterrupted run (%s)', async (_title, training, optimizer) => {
    const full = await run({ training: { epochs: 5, ...training }, optimizer });
    let saved: Uint8Array | undefined;
    const first = await run({
      training: { epochs: 5, ...training },
      optimizer,
      onEpoch: (m, checkpoint) => {
        if (m.epoch === 2) saved = serializeCheckpoint(checkpoint());
      },
      signal: { get aborted() { return saved !== undefined; } },
    });
    expect(first.result.status).toBe('aborted');
    expect(first.result.epochs).toHaveLength(2);
    const ckpt: Checkpoint = deserializeCheckpoint(saved!);
    expect(ckpt.epoch).toBe(2);
    // A fresh process: another seed's init is overwritten by the checkpoint.
    const resumed = await run({ seed: 999, training: { epochs: 5, ...training }, optimizer, resume: ckpt });
    expect(resumed.result.status).toBe(full.result.status);
    expect(stable(resumed.result.epochs)).toEqual(stable(full.result.epochs));
    expect(sameTensors(getWeights(resumed.model), getWeights(full.model))).toBe(true);
    expect(resumed.rng.state()).toEqual(full.rng.state());
    expect(resumed.result.bestEpoch).toBe(full.result.bestEpoch);
  });

  it('stops at a batch boundary when the signal is aborted, with the weights of exactly those batches', async () => {
    let batches = 0;
    const aborted = await run({
      training: { epochs: 3 },
      onProgress: () => { batches++; },
      progressIntervalMs: 0,
      signal: { get aborted() { return batches >= 13; } },
    });
    // 10 batches per epoch: epoch 1 completes and is reported, epoch 2 stops after 3 batches.
    expect(aborted.result.status).toBe('aborted');
    expect(aborted.result.epochs.map((m) => m.epoch)).toEqual([1]);
    expect(batches).toBe(13);
    // 3 batches of epoch 1 leave the weights of a 1-epoch run of iterationsPerEpoch 3.
    let n = 0;
    const three = await run({ signal: { get aborted() { return n >= 3; } }, onProgress: () => { n++; }, progressIntervalMs: 0 });
    const short = await run({ training: { epochs: 1, iterationsPerEpoch: 3 } });
    expect(three.result.epochs).toHaveLength(0);
    expect(sameTensors(getWeights(three.model), getWeights(short.model))).toBe(true);
  });

  it('stops early after `patience` epochs without improvement and restores the best weights', async () => {
    let best: NamedTensor[] | undefined;
    // minDelta 1 on accuracy: only the first epoch can "improve", so the run must stop after epoch 1 + 2.
    const { model, result, data: d } = await run({
      training: { epochs: 10, earlyStopping: { monitor: 'testAccuracy', patience: 2, minDelta: 1 } },
      onEpoch: (m, checkpoint) => {
        if (m.epoch === 1) best = checkpoint().weights;
      },
    });
    expect(result.status).toBe('early_stopped');
    expect(result.bestEpoch).toBe(1);
    expect(result.epochs).toHaveLength(3);
    expect(sameTensors(getWeights(model), best!)).toBe(true);
    // Evaluating the restored model reproduces epoch 1's test accuracy.
    const r = softmaxCrossEntropy(model.forward(d.test.x, d.test.n, 'eval'), d.test.y, d.test.n, 3);
    expect(r.correct / d.test.n).toBe(result.epochs[0]!.testAccuracy);
  });

  it('early stopping on testLoss picks the epoch with the lowest loss', async () => {
    const { result } = await run({ training: { epochs: 12, earlyStopping: { patience: 2 } }, optimizer: { learningRate: 0.05 } });
    const losses = result.epochs.map((m) => m.testLoss);
    const argmin = losses.indexOf(Math.min(...losses)) + 1;
    expect(result.bestEpoch).toBe(argmin);
    // lr 0.05 on 300 points overfits: the test loss turns up within 12 epochs (seed 11).
    expect(result.status).toBe('early_stopped');
    expect(result.epochs.length - argmin).toBe(2);
    // Keep restoreBest false: the weights stay those of the last epoch.
    const noRestore = await run({ training: { epochs: 12, earlyStopping: { patience: 2, restoreBest: false } }, optimizer: { learningRate: 0.05 } });
    expect(stable(noRestore.result.epochs)).toEqual(stable(result.epochs));
  });

  it('throttles onProgress to one call per progressIntervalMs (a fake clock advancing 100 ms per batch)', async () => {
    let clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const calls: { epoch: number; batch: number; batches: number; loss: number }[] = [];
    await run({
      training: { epochs: 2 },
      signal: { get aborted() { clock += 100; return false; } },
      onProgress: (p) => calls.push(p),
    });
    // Batches end at 100, 200, … ms; with 250 ms the first batch reports, then every third: 1, 4, 7, 10, 13, 16, 19.
    expect(calls.map((c) => (c.epoch - 1) * 10 + c.batch)).toEqual([1, 4, 7, 10, 13, 16, 19]);
    expect(calls.every((c) => c.batches === 10 && Number.isFinite(c.loss) && c.loss > 0)).toBe(true);
    calls.length = 0;
    await run({ training: { epochs: 2 }, progressIntervalMs: 1e12, onProgress: (p) => calls.push(p) });
    expect(calls).toHaveLength(1);
  });

  it('trains a small CNN on synthetic-images (the CNN smoke set) past 90% test accuracy', async () => {
    const images = await loadBuiltinDataset({ id: 'synthetic-images', seed: 1 });
    const rng = new Rng(2);
    const model = buildModel(LayersModelSpecSchema.parse({
      inputShape: [1, 8, 8],
      layers: [{ type: 'conv2d', filters: 6, kernelSize: 3, padding: 1 }, { type: 'relu' }, { type: 'maxpool2d', poolSize: 2 }, { type: 'flatten' }, { type: 'dense', units: 4 }],
    }), rng);
    const r = fit({
      model, rng, data: images,
      training: TrainingSpecSchema.parse({ epochs: 6, batchSize: 32 }),
      optimizer: OptimizerSpecSchema.parse({ type: 'adam', learningRate: 0.01 }),
      regularization: RegularizationSpecSchema.parse({}),
    });
    expect(r.epochs.at(-1)!.testAccuracy).toBeGreaterThan(0.9);
  });

  it('checkpoint() works inside onEpoch only; a checkpoint of the last epoch resumes to the same result', async () => {
    let late: (() => Checkpoint) | undefined;
    let final: Checkpoint | undefined;
    const done = await run({
      training: { epochs: 2 },
      onEpoch: (m, checkpoint) => {
        late = checkpoint;
        if (m.epoch === 2) final = checkpoint();
      },
    });
    expect(() => late!()).toThrow(/inside onEpoch/);
    const again = await run({ training: { epochs: 2 }, resume: deserializeCheckpoint(serializeCheckpoint(final!)) });
    expect(again.result.status).toBe('completed');
    expect(stable(again.result.epochs)).toEqual(stable(done.result.epochs));
    // A checkpoint past the run's epochs is refused.
    await expect(run({ training: { epochs: 1 }, resume: final! })).rejects.toThrow(/past the run's 1 epochs/);
  });

  it('resuming a checkpoint taken when early stopping had just fired stops again with the best weights', async () => {
    const es = { monitor: 'testAccuracy', patience: 1, minDelta: 1 };
    let atStop: Checkpoint | undefined;
    const first = await run({ training: { epochs: 5, earlyStopping: es }, onEpoch: (m, c) => { if (m.epoch === 2) atStop = c(); } });
    expect(first.result.status).toBe('early_stopped');
    const resumed = await run({ seed: 5, training: { epochs: 5, earlyStopping: es }, resume: atStop! });
    expect(resumed.result).toEqual(first.result);
    expect(sameTensors(getWeights(resumed.model), getWeights(first.model))).toBe(true);
  });

  it('refuses data that does not fit the model', async () => {
    const rng = new Rng(1);
    const model = buildModel(spec, rng);
    const other = await loadBuiltinDataset({ id: 'synthetic-blobs-8', seed: 1 });
    expect(() => fit({
      model, rng, data: other,
      training: TrainingSpecSchema.parse({ epochs: 1, batchSize: 8 }),
      optimizer: OptimizerSpecSchema.parse({ type: 'sgd' }),
      regularization: RegularizationSpecSchema.parse({}),
    })).toThrow(SpecError);
  });
});
