import { EngineError, SpecError } from '../errors.ts';
import { backend } from '../kernels/backend.ts';
import type { Param } from '../layers/layer.ts';
import { softmaxCrossEntropy } from '../losses/softmax-cross-entropy.ts';
import type { Sequential } from '../model/sequential.ts';
import { getWeights, type NamedTensor, setWeights } from '../model/weights.ts';
import type { NamedParam } from '../optimizers/optimizer.ts';
import { createOptimizer } from '../optimizers/registry.ts';
import type { Rng } from '../random.ts';
import { L1L2 } from '../regularizers/l1l2.ts';
import type { OptimizerSpec } from '../spec/optimizer-spec.ts';
import type { RegularizationSpec } from '../spec/regularization-spec.ts';
import type { EpochMetrics, TrainingSpec } from '../spec/training-spec.ts';
import type { Dataset, DatasetSplit } from '../data/dataset.ts';
import { BatchSampler } from './batches.ts';
import type { Checkpoint } from './checkpoint.ts';

/** Batch progress reported (throttled) to `FitOptions.onProgress`. */
export interface FitProgress {
  /** 1-based epoch being trained. */
  epoch: number;
  /** Batches of this epoch done (1..batches). */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** The last batch's training loss: cross-entropy in train mode (before the update) + the L1/L2 penalty. */
  loss: number;
}

/** What `fit` needs. Specs are the parsed (`z.infer`) forms, defaults filled. */
export interface FitOptions {
  /** A model built by `buildModel(spec, rng)` with this same `rng`. Trained in place. */
  model: Sequential;
  /** Train and test sets whose `inputShape` and `classes` match the model. */
  data: DatasetSplit;
  optimizer: OptimizerSpec;
  regularization: RegularizationSpec;
  training: TrainingSpec;
  /** The run's one generator (already used for init; also the model's dropout generator). */
  rng: Rng;
  /** Continue exactly where the checkpoint was taken (restores weights, optimizer state, Rng state, history). */
  resume?: Checkpoint;
  /** Checked at every batch boundary; when true, `fit` returns `aborted` without finishing the epoch. */
  signal?: { readonly aborted: boolean };
  /**
   * After each epoch's evaluation. `checkpoint()` snapshots the run at this point; call it inside the callback
   * (afterwards it throws, since the run has moved on).
   */
  onEpoch?: (m: EpochMetrics, checkpoint: () => Checkpoint) => void;
  /** Batch progress, at most once per `progressIntervalMs` (the first batch always reports). */
  onProgress?: (p: FitProgress) => void;
  /** Throttle for onProgress in milliseconds (default 250). */
  progressIntervalMs?: number;
}

/** How a fit ended, and the metrics of every epoch (those of a resumed checkpoint included). */
export interface FitResult {
  status: 'completed' | 'aborted' | 'early_stopped';
  epochs: EpochMetrics[];
  /** With early stopping: the epoch with the best monitored value (its weights are restored when stopped early). */
  bestEpoch?: number;
}

/** Samples per forward pass when evaluating (at least the batch size). */
const EVAL_CHUNK = 100;

/**
 * Train `model` (synchronous CPU work: run it in a worker thread). Per epoch:
 *
 * 1. `BatchSampler` draws the epoch's batches from `rng` (see `training.sampling`); per batch, the samples
 *    are gathered into one reused backend buffer, then forward (train mode, dropout masks from `rng`),
 *    softmax cross-entropy, backward, `grad += l1·sign(W) + l2·W` (weights of dense/conv2d only), one
 *    optimizer step. `signal.aborted` is checked before every batch.
 * 2. The whole train and test sets are evaluated in eval mode in chunks of max(batchSize, 100):
 *    loss = mean CE + l1·Σ|W| + ½·l2·ΣW² (on the weights after the epoch), accuracy = correct / n.
 * 3. `EpochMetrics` { epoch, iteration (batches so far), trainLoss, trainAccuracy, testLoss, testAccuracy,
 *    learningRate, durationMs (wall time of the epoch, evaluation included), samplesPerSecond (training
 *    samples of the epoch / seconds spent training them) } go to `onEpoch`.
 * 4. Early stopping (`training.earlyStopping`): an epoch improves when its monitored value beats the best by
 *    more than `minDelta` (lower testLoss, higher testAccuracy); after `patience` epochs without improvement
 *    the run stops with status `early_stopped` and, with `restoreBest`, the best epoch's weights.
 *
 * Determinism: the Rng is drawn in a fixed order (init before `fit`, then per epoch the permutation, per
 * batch the indices, then the dropout masks), so one seed gives the same metrics bit for bit, and resuming
 * from epoch k's checkpoint continues the identical stream.
 *
 * NOTE: unlike the course's CNN evaluation (B9), the remainder beyond a multiple of the chunk size is not
 * skipped: every sample counts.
 * @throws SpecError when the data does not fit the model; EngineError for a checkpoint that does not fit the run.
 */
export function fit(opts: FitOptions): FitResult {
  const { model, data, training, rng } = opts;
  checkData(model, data.train, 'train');
  checkData(model, data.test, 'test');
  if (training.threads > 1) backend().setThreads?.(training.threads);

  const named: NamedParam[] = model.params().map(({ layerIndex, param }) => ({ name: `${layerIndex}.${param.name}`, param }));
  const params: Param[] = named.map((p) => p.param);
  const optimizer = createOptimizer(opts.optimizer);
  const reg = new L1L2({ l1: opts.regularization.l1, l2: opts.regularization.l2 });
  const es = training.earlyStopping;

  const history: EpochMetrics[] = [];
  let iteration = 0;
  let startEpoch = 1;
  let best: { epoch: number; value: number; weights: NamedTensor[] } | undefined;
  if (opts.resume) {
    const c = opts.resume;
    if (!Number.isInteger(c.epoch) || c.epoch < 0 || c.history.length !== c.epoch) {
      throw new EngineError('BAD_CHECKPOINT', `checkpoint: epoch ${c.epoch} does not match its ${c.history.length} history entries`);
    }
    if (c.epoch > training.epochs) throw new EngineError('BAD_CHECKPOINT', `checkpoint is at epoch ${c.epoch}, past the run's ${training.epochs} epochs`);
    setWeights(model, c.weights);
    optimizer.importState(c.optimizerState, named);
    rng.setState(c.rngState);
    history.push(...c.history);
    iteration = c.iteration;
    startEpoch = c.epoch + 1;
    if (c.best) best = { epoch: c.best.epoch, value: c.best.value, weights: c.best.weights };
    if (es && best && c.epoch - best.epoch >= es.patience) return stopEarly();
  }

  const inShape = model.inputShape;
  const size = inShape.reduce((a, b) => a * b, 1);
  const classes = model.outputShape[0]!;
  const sampler = new BatchSampler(data.train.n, training.batchSize, training.sampling, training.iterationsPerEpoch);
  const be = backend();
  const maxBatch = sampler.maxBatch;
  // Allocated once per fit and reused by every batch (views for each batch size are cached too).
  const xBuf = be.alloc(maxBatch * size);
  const dBuf = be.alloc(maxBatch * classes);
  const yBuf = new Uint8Array(maxBatch);
  const idx = new Uint32Array(maxBatch);
  const views = new Map<number, { x: Float32Array; d: Float32Array; y: Uint8Array }>();
  const viewsFor = (bs: number) => {
    let v = views.get(bs);
    if (!v) {
      v = { x: xBuf.subarray(0, bs * size), d: dBuf.subarray(0, bs * classes), y: yBuf.subarray(0, bs) };
      views.set(bs, v);
    }
    return v;
  };
  const evalChunk = Math.max(EVAL_CHUNK, training.batchSize);
  const evalBuf = be.alloc(Math.min(evalChunk, Math.max(data.train.n, data.test.n)) * size);

  const evaluate = (d: Dataset, penalty: number): { loss: number; accuracy: number } => {
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < d.n; start += evalChunk) {
      const bs = Math.min(evalChunk, d.n - start);
      const xb = bs * size === evalBuf.length ? evalBuf : evalBuf.subarray(0, bs * size);
      xb.set(d.x.subarray(start * size, (start + bs) * size));
      const logits = model.forward(xb, bs, 'eval');
      const r = softmaxCrossEntropy(logits, d.y.subarray(start, start + bs), bs, classes);
      lossSum += r.loss * bs;
      correct += r.correct;
    }
    return { loss: lossSum / d.n + penalty, accuracy: correct / d.n };
  };

  const interval = opts.progressIntervalMs ?? 250;
  let lastProgress = -Infinity;
  const batches = sampler.batchesPerEpoch;

  try {
    for (let epoch = startEpoch; epoch <= training.epochs; epoch++) {
      const t0 = performance.now();
      sampler.startEpoch(rng);
      let samples = 0;
      for (let b = 1; b <= batches; b++) {
        if (opts.signal?.aborted) return { status: 'aborted', epochs: history, ...(es && best ? { bestEpoch: best.epoch } : {}) };
        const bs = sampler.next(rng, idx);
        const v = viewsFor(bs);
        gather(data.train, idx, bs, size, v.x, v.y);
        const logits = model.forward(v.x, bs, 'train');
        const { loss } = softmaxCrossEntropy(logits, v.y, bs, classes, v.d);
        model.backward(v.d, bs);
        reg.addGradients(params);
        optimizer.update(params);
        iteration++;
        samples += bs;
        if (opts.onProgress) {
          const now = performance.now();
          if (now - lastProgress >= interval) {
            lastProgress = now;
            opts.onProgress({ epoch, batch: b, batches, loss: loss + reg.penalty(params) });
          }
        }
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const penalty = reg.penalty(params);
      const tr = evaluate(data.train, penalty);
      const te = evaluate(data.test, penalty);
      const m: EpochMetrics = {
        epoch,
        iteration,
        trainLoss: tr.loss,
        trainAccuracy: tr.accuracy,
        testLoss: te.loss,
        testAccuracy: te.accuracy,
        learningRate: optimizer.learningRate,
        durationMs: performance.now() - t0,
        samplesPerSecond: samples / Math.max(trainSeconds, 1e-9),
      };
      history.push(m);

      if (es) {
        const value = m[es.monitor];
        const improved = best === undefined || (es.monitor === 'testLoss' ? value < best.value - es.minDelta : value > best.value + es.minDelta);
        // NaN never improves (a diverged run keeps its last good weights as the best).
        if (improved && !Number.isNaN(value)) best = { epoch, value, weights: getWeights(model) };
      }

      if (opts.onEpoch) {
        let live = true;
        const snapshot = (): Checkpoint => {
          if (!live) throw new EngineError('CHECKPOINT_EXPIRED', 'checkpoint() must be called inside onEpoch: the run has moved on');
          const c: Checkpoint = {
            epoch,
            iteration,
            rngState: [...rng.state()],
            weights: getWeights(model),
            optimizerState: optimizer.exportState(named),
            history: history.map((h) => ({ ...h })),
          };
          if (best) c.best = { epoch: best.epoch, value: best.value, weights: best.weights };
          return c;
        };
        try {
          opts.onEpoch({ ...m }, snapshot);
        } finally {
          live = false;
        }
      }

      if (es && best && epoch - best.epoch >= es.patience) return stopEarly();
    }
    return { status: 'completed', epochs: history, ...(es && best ? { bestEpoch: best.epoch } : {}) };
  } finally {
    // NOTE: the WebAssembly backend hands out ranges of its own memory; give them back for the next job.
    be.free(xBuf);
    be.free(dBuf);
    be.free(evalBuf);
  }

  function stopEarly(): FitResult {
    if (es!.restoreBest) setWeights(model, best!.weights);
    return { status: 'early_stopped', epochs: history, bestEpoch: best!.epoch };
  }
}

/** Copy samples idx[0..bs) of `d` into x (bs × size) and y (bs), element by element (no views allocated). */
function gather(d: Dataset, idx: Uint32Array, bs: number, size: number, x: Float32Array, y: Uint8Array): void {
  const src = d.x;
  for (let k = 0; k < bs; k++) {
    const i = idx[k]!;
    const from = i * size;
    const to = k * size;
    for (let j = 0; j < size; j++) x[to + j] = src[from + j]!;
    y[k] = d.y[i]!;
  }
}

function checkData(model: Sequential, d: Dataset, which: 'train' | 'test'): void {
  const same = d.inputShape.length === model.inputShape.length && d.inputShape.every((v, i) => v === model.inputShape[i]);
  if (!same) throw new SpecError(`${which} data has samples of shape [${d.inputShape.join(', ')}], the model expects [${model.inputShape.join(', ')}]`, ['dataset', 'inputShape']);
  const classes = model.outputShape.reduce((a, b) => a * b, 1);
  if (d.classes !== classes) throw new SpecError(`${which} data has ${d.classes} classes, the model outputs ${classes}`, ['model', 'classes']);
  if (d.n < 1) throw new SpecError(`${which} data is empty`, ['dataset', which === 'train' ? 'trainSize' : 'testSize']);
}
