/**
 * Elementwise and per-channel hot loops, as pure functions over Float32Array (no allocation, outputs
 * passed in), so that a faster backend can replace them one by one. Batched tensors are row-major:
 * "channel" tensors are (N, C, P) with P = H·W spatial positions (P = 1 for a (N, features) tensor).
 * Reductions accumulate in float64 (JS numbers) and store float32.
 */

/** out[r, c] += bias[c] for a (rows, cols) matrix. */
export function addRowBias(out: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  for (let r = 0, o = 0; r < rows; r++) for (let c = 0; c < cols; c++, o++) out[o] += bias[c];
}

/** db[c] = Σ_r dout[r, c] for a (rows, cols) matrix (overwrites db). */
export function sumRows(dout: Float32Array, rows: number, cols: number, db: Float32Array): void {
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += dout[r * cols + c];
    db[c] = s;
  }
}

/** out[n, c, p] += bias[c] for an (N, C, P) tensor. */
export function addChannelBias(out: Float32Array, bias: Float32Array, N: number, C: number, P: number): void {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const b = bias[c];
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) out[o + p] += b;
    }
  }
}

/** db[c] = Σ_{n,p} dout[n, c, p] for an (N, C, P) tensor (overwrites db). */
export function sumChannels(dout: Float32Array, N: number, C: number, P: number, db: Float32Array): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) s += dout[o + p];
    }
    db[c] = s;
  }
}

/**
 * ReLU: y = max(x, 0) (the course's mask is x ≤ 0), computed as ½(x + |x|), which is exact in float64.
 * NOTE: branch-free on purpose: activations have random signs, and a `x > 0 ? x : 0` loop mispredicts
 * half its branches (measured 10× slower on such data in V8).
 */
export function reluForward(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = 0.5 * (v + Math.abs(v));
  }
}

/** ReLU backward from the output: dx = dout·[y > 0] (y > 0 exactly where x > 0); branch-free like the forward. */
export function reluBackward(y: Float32Array, dout: Float32Array, dx: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = dout[i] * +(y[i] > 0);
}

/** Sigmoid: y = 1/(1 + e^(−x)). */
export function sigmoidForward(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i]));
}

/** Sigmoid backward from the output: dx = dout·y·(1 − y). */
export function sigmoidBackward(y: Float32Array, dout: Float32Array, dx: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = y[i];
    dx[i] = dout[i] * v * (1 - v);
  }
}

/** Tanh: y = tanh(x). */
export function tanhForward(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
}

/** Tanh backward from the output: dx = dout·(1 − y²). */
export function tanhBackward(y: Float32Array, dout: Float32Array, dx: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = y[i];
    dx[i] = dout[i] * (1 - v * v);
  }
}

/** out = a ⊙ b (dropout forward and backward with a mask of scale factors). */
export function multiply(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
}

/**
 * Regularisation gradient: g += l1·sign(w) + l2·w over n elements (sign(0) = 0, NumPy's np.sign), summed
 * in float64 and stored in float32.
 */
export function addL1L2Gradient(w: Float32Array, g: Float32Array, n: number, l1: number, l2: number): void {
  if (l1 === 0) {
    // Weight decay alone (the usual case): no sign, so no data-dependent branch to mispredict.
    for (let i = 0; i < n; i++) g[i] += l2 * w[i];
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = w[i];
    // NOTE: sign(0) = 0, as NumPy's np.sign: a weight sitting exactly at 0 gets no L1 push.
    const s = x > 0 ? 1 : x < 0 ? -1 : 0;
    g[i] = g[i] + l1 * s + l2 * x;
  }
}

/** out = s·x. */
export function scale(x: Float32Array, s: number, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = s * x[i];
}

/**
 * Batch normalisation, training forward, per channel of an (N, C, P) tensor (P = 1: per feature).
 * μ_c = mean over (n, p), σ²_c = biased variance, invStd_c = 1/√(σ²_c + ε), x̂ = (x − μ_c)·invStd_c,
 * y = γ_c·x̂ + β_c. Writes mean, variance (biased), invStd (C each), xhat and y (N·C·P each).
 */
export function batchNormTrainForward(
  x: Float32Array, N: number, C: number, P: number, gamma: Float32Array, beta: Float32Array, eps: number,
  mean: Float32Array, variance: Float32Array, invStd: Float32Array, xhat: Float32Array, y: Float32Array,
): void {
  const M = N * P;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) s += x[o + p];
    }
    const mu = s / M;
    let v = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) {
        const d = x[o + p] - mu;
        v += d * d;
      }
    }
    v /= M;
    const is = 1 / Math.sqrt(v + eps);
    mean[c] = mu;
    variance[c] = v;
    invStd[c] = is;
    const g = gamma[c];
    const b = beta[c];
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) {
        const h = (x[o + p] - mu) * is;
        xhat[o + p] = h;
        y[o + p] = g * h + b;
      }
    }
  }
}

/** Batch normalisation with fixed statistics (eval): y = γ_c·(x − mean_c)/√(var_c + ε) + β_c. */
export function batchNormEvalForward(
  x: Float32Array, N: number, C: number, P: number, gamma: Float32Array, beta: Float32Array,
  mean: Float32Array, variance: Float32Array, eps: number, y: Float32Array,
): void {
  for (let c = 0; c < C; c++) {
    const is = 1 / Math.sqrt(variance[c] + eps);
    const a = gamma[c] * is;
    const b = beta[c] - a * mean[c];
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) y[o + p] = a * x[o + p] + b;
    }
  }
}

/**
 * Batch normalisation backward (training statistics), M = N·P values per channel:
 * dβ_c = Σ dout, dγ_c = Σ dout·x̂, dx = γ_c·invStd_c/M · (M·dout − dβ_c − x̂·dγ_c).
 * Overwrites dgamma, dbeta (C) and dx (N·C·P).
 */
export function batchNormBackward(
  dout: Float32Array, xhat: Float32Array, invStd: Float32Array, gamma: Float32Array, N: number, C: number, P: number,
  dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array,
): void {
  const M = N * P;
  for (let c = 0; c < C; c++) {
    let sb = 0;
    let sg = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) {
        const d = dout[o + p];
        sb += d;
        sg += d * xhat[o + p];
      }
    }
    dbeta[c] = sb;
    dgamma[c] = sg;
    const f = (gamma[c] * invStd[c]) / M;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * P;
      for (let p = 0; p < P; p++) dx[o + p] = f * (M * dout[o + p] - sb - xhat[o + p] * sg);
    }
  }
}

/**
 * Local response normalisation across channels (AlexNet paper, α not divided by size), (N, C, P) tensor:
 * s_i = k + α·Σ_{j=max(0,i−⌊size/2⌋)}^{min(C−1,i+⌊size/2⌋)} a_j², y_i = a_i·s_i^(−β).
 * Writes s (scaleOut) and s^(−β) (powOut) for the backward pass.
 */
export function lrnForward(
  x: Float32Array, N: number, C: number, P: number, size: number, alpha: number, beta: number, k: number,
  scaleOut: Float32Array, powOut: Float32Array, y: Float32Array,
): void {
  const half = Math.floor(size / 2);
  for (let n = 0; n < N; n++) {
    const base = n * C * P;
    for (let c = 0; c < C; c++) {
      const o = base + c * P;
      const lo = Math.max(0, c - half);
      const hi = Math.min(C - 1, c + half);
      for (let p = 0; p < P; p++) scaleOut[o + p] = 0;
      for (let j = lo; j <= hi; j++) {
        const oj = base + j * P;
        for (let p = 0; p < P; p++) {
          const a = x[oj + p];
          scaleOut[o + p] += a * a;
        }
      }
      for (let p = 0; p < P; p++) {
        const s = k + alpha * scaleOut[o + p];
        const q = Math.pow(s, -beta);
        scaleOut[o + p] = s;
        powOut[o + p] = q;
        y[o + p] = x[o + p] * q;
      }
    }
  }
}

/**
 * LRN backward: dx_j = dout_j·s_j^(−β) − 2αβ·a_j·Σ_{i: |i−j| ≤ ⌊size/2⌋} dout_i·a_i·s_i^(−β−1)
 * (the window is symmetric, so i ranges over j's own window). `t` is a scratch tensor of N·C·P.
 */
export function lrnBackward(
  x: Float32Array, dout: Float32Array, scaleIn: Float32Array, powIn: Float32Array,
  N: number, C: number, P: number, size: number, alpha: number, beta: number, t: Float32Array, dx: Float32Array,
): void {
  const half = Math.floor(size / 2);
  const total = N * C * P;
  for (let i = 0; i < total; i++) t[i] = (dout[i] * x[i] * powIn[i]) / scaleIn[i];
  const f = 2 * alpha * beta;
  for (let n = 0; n < N; n++) {
    const base = n * C * P;
    for (let c = 0; c < C; c++) {
      const o = base + c * P;
      const lo = Math.max(0, c - half);
      const hi = Math.min(C - 1, c + half);
      for (let p = 0; p < P; p++) dx[o + p] = 0;
      for (let j = lo; j <= hi; j++) {
        const oj = base + j * P;
        for (let p = 0; p < P; p++) dx[o + p] += t[oj + p];
      }
      for (let p = 0; p < P; p++) dx[o + p] = dout[o + p] * powIn[o + p] - f * x[o + p] * dx[o + p];
    }
  }
}
