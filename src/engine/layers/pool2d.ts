import { type ConvGeometry, convGeometry } from '../kernels/backend.ts';
import type { AvgPool2dSpec, MaxPool2dSpec } from '../spec/layer-spec.ts';
import { fmtShape, pair, ShapeProblem } from './common.ts';
import type { Shape } from './layer.ts';

/**
 * Shape rules shared by max and average pooling: a [C, H, W] input, stride defaulting to `poolSize`,
 * padding at most half the window (as PyTorch requires, so no window is all padding), the window no
 * larger than the padded input. OH = ⌊(H + 2·PH − KH)/SH⌋ + 1 (the standard formula; the course's
 * Pooling drops the padding from it, B4, which only matters when padding is used).
 */
export function poolGeometry(spec: MaxPool2dSpec | AvgPool2dSpec, inputShape: Shape, N = 1): ConvGeometry {
  if (inputShape.length !== 3) {
    throw new ShapeProblem(`${spec.type} needs a [channels, height, width] input, got ${fmtShape(inputShape)}`);
  }
  const [C, H, W] = inputShape as [number, number, number];
  const [KH, KW] = pair(spec.poolSize);
  const [SH, SW] = pair(spec.stride ?? spec.poolSize);
  const [PH, PW] = pair(spec.padding);
  if (2 * PH > KH || 2 * PW > KW) {
    throw new ShapeProblem(`padding ${PH}×${PW} is more than half the pool window ${KH}×${KW}`, 'padding');
  }
  if (KH > H + 2 * PH || KW > W + 2 * PW) {
    throw new ShapeProblem(`pool window ${KH}×${KW} is larger than the padded input ${H + 2 * PH}×${W + 2 * PW}`, 'poolSize');
  }
  return convGeometry(N, C, H, W, KH, KW, SH, SW, PH, PW);
}
