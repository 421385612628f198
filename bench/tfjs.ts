/**
 * TF.js 4.22 (cpu backend) on the same workloads, the same way as /work/shared/perf/bench_tfjs.mjs:
 * NHWC input, same layers and optimizers, `optimizer.minimize` per batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchData, WorkloadName } from './workloads.ts';

/** samples/s of TF.js training (median of `repeats`), or an error message when it cannot train. */
export async function runTfjs(name: WorkloadName, data: BenchData, opts: { iters: number; repeats: number; warmup: number; batch?: number }): Promise<{ train_samples_per_s?: number; repeats?: number[]; error?: string; version: string }> {
  await tf.setBackend('cpu');
  await tf.ready();
  const B = opts.batch ?? 100;
  const n = data.yTrain.length;
  const xtr = tf.tensor4d(data.xTrain, [n, 28, 28, 1]);
  const ytr = tf.oneHot(tf.tensor1d(Int32Array.from(data.yTrain), 'int32'), 10);
  const m = tf.sequential();
  let opt: tf.Optimizer;
  if (name === 'mlp') {
    m.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
    for (let i = 0; i < 6; i++) m.add(tf.layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }));
    m.add(tf.layers.dense({ units: 10 }));
    opt = tf.train.sgd(0.01);
  } else if (name === 'simple') {
    m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 30, kernelSize: 5, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 100, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 10 }));
    opt = tf.train.adam(0.001);
  } else if (name === 'deep') {
    const c = (f: number, extra: Record<string, unknown> = {}): void => {
      m.add(tf.layers.conv2d({ filters: f, kernelSize: 3, padding: 'same', activation: 'relu', ...extra }));
    };
    c(16, { inputShape: [28, 28, 1] });
    c(16);
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    c(32);
    m.add(tf.layers.zeroPadding2d({ padding: 1 }));
    c(32);
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    c(64);
    c(64);
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 50, activation: 'relu' }));
    m.add(tf.layers.dropout({ rate: 0.5 }));
    m.add(tf.layers.dense({ units: 10 }));
    opt = tf.train.adam(0.001);
  } else {
    return { error: 'not measured on TF.js (no reference script)', version: tf.version.tfjs };
  }
  const step = (i: number): void => {
    const j = (i * B) % (n - B + 1);
    tf.tidy(() => {
      const x = xtr.slice([j, 0, 0, 0], [B, 28, 28, 1]);
      const y = ytr.slice([j, 0], [B, 10]);
      opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
    });
  };
  try {
    for (let i = 0; i < opts.warmup; i++) step(i);
    const repeats: number[] = [];
    for (let r = 0; r < opts.repeats; r++) {
      const t = performance.now();
      for (let i = 0; i < opts.iters; i++) step(i);
      repeats.push((opts.iters * B) / ((performance.now() - t) / 1000));
    }
    const s = [...repeats].sort((a, b) => a - b);
    return { train_samples_per_s: s[Math.floor(s.length / 2)], repeats, version: tf.version.tfjs };
  } catch (e) {
    return { error: String((e as Error).message ?? e).slice(0, 200), version: tf.version.tfjs };
  } finally {
    xtr.dispose();
    ytr.dispose();
  }
}
