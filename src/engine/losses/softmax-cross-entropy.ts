/**
 * Softmax and softmax cross-entropy over logits (N, classes), row-major (COURSE.md B5).
 */

/** Row softmax: out[n, k] = e^(z[n,k] − max_k z[n]) / Σ_j e^(z[n,j] − max_k z[n]). `out` may alias `logits`. */
export function softmax(logits: Float32Array, batch: number, classes: number, out: Float32Array): void {
  for (let n = 0; n < batch; n++) {
    const o = n * classes;
    let max = -Infinity;
    for (let k = 0; k < classes; k++) if (logits[o + k] > max) max = logits[o + k];
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp(logits[o + k] - max);
      out[o + k] = e;
      sum += e;
    }
    for (let k = 0; k < classes; k++) out[o + k] /= sum;
  }
}

/**
 * Softmax cross-entropy, the course's SoftmaxWithLoss:
 * p = softmax(z) (row max subtracted), loss = −(1/N)·Σ_n log(p[n, t_n] + 1e-7) (accumulated in float64),
 * correct = #{n : argmax_k z[n, k] = t_n} (ties to the first class).
 * When `dlogits` (N·classes) is given it receives (p − onehot(t))/N: the division by the batch size
 * happens here, so every downstream gradient is a batch mean. `dlogits` may alias `logits`.
 * @param labels class indices t_n in [0, classes)
 */
export function softmaxCrossEntropy(
  logits: Float32Array, labels: ArrayLike<number>, batch: number, classes: number, dlogits?: Float32Array,
): { loss: number; correct: number } {
  if (logits.length < batch * classes) throw new RangeError(`softmaxCrossEntropy: expected ${batch}×${classes} logits, got ${logits.length}`);
  if (labels.length < batch) throw new RangeError(`softmaxCrossEntropy: expected ${batch} labels, got ${labels.length}`);
  // e^(z − max) of one row, computed once in float64 (the former version computed every exponential twice,
  // for the sum and for dlogits: half of the loss's ~22 µs per mlp batch). Same values, same results.
  const e = expRow(classes);
  let loss = 0;
  let correct = 0;
  for (let n = 0; n < batch; n++) {
    const t = labels[n];
    if (!Number.isInteger(t) || t < 0 || t >= classes) throw new RangeError(`softmaxCrossEntropy: label ${t} of sample ${n} is not in [0, ${classes})`);
    const o = n * classes;
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < classes; k++) {
      if (logits[o + k] > max) {
        max = logits[o + k];
        arg = k;
      }
    }
    if (arg === t) correct++;
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const v = Math.exp(logits[o + k] - max);
      e[k] = v;
      sum += v;
    }
    loss -= Math.log(e[t] / sum + 1e-7);
    if (dlogits) {
      const inv = 1 / (sum * batch);
      for (let k = 0; k < classes; k++) dlogits[o + k] = e[k] * inv;
      dlogits[o + t] = e[t] * inv - 1 / batch;
    }
  }
  return { loss: loss / batch, correct };
}

let expScratch = new Float64Array(16);

/** A reusable float64 row of at least `n` entries (the loss runs on one thread per engine instance). */
function expRow(n: number): Float64Array {
  if (expScratch.length < n) expScratch = new Float64Array(n);
  return expScratch;
}
