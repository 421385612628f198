/**
 * The course's 2_6 SimpleConvNet with Adam (COURSE.md A10) on keiko's mnist data, at a size CI affords.
 *
 * Size choices (fixed seeds; data split seed 0):
 * - Train 5,000 and test 1,000, as the course (5,000 / 1,000 of the official sets); smaller train sets top
 *   out near 0.92 (2,000 digits: 0.913–0.925 after 400 iterations).
 * - The default `simple_convnet` preset (conv 30@5×5 → ReLU → maxpool 2 → dense 100 → ReLU → dense 10,
 *   init std 0.01), batch 100 drawn with replacement.
 * - Adam with lr 0.003 for 500 iterations instead of lr 0.001 for 1,000: half the work, and the same
 *   place (measured 0.952–0.959 test at 500; lr 0.001 gives 0.943–0.948 at 600, too close to 0.94).
 * - Evaluated twice (every 250 iterations): each evaluation runs all 6,000 digits.
 * Measured: about 75 s wall (≈ 30 s of CPU) with the WebAssembly kernels on 2 cores shared with other jobs.
 * The reference JS kernels are about 10× slower through this net: expect 4–5 minutes there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type DatasetSplit, loadBuiltinDataset } from '../../../src/engine/index.ts';
import { courseRun, useFastestBackend } from './course-helpers.ts';

let data: DatasetSplit;

beforeAll(async () => {
  useFastestBackend();
  data = await loadBuiltinDataset({ id: 'mnist', seed: 0, trainSize: 5000, testSize: 1000 });
}, 60_000);

describe('course 2_6: simple convnet with Adam', () => {
  it('passes 0.94 test accuracy on 5,000 training digits', () => {
    const r = courseRun({ data, model: { preset: 'simple_convnet' }, optimizer: { type: 'adam', learningRate: 0.003 }, iterations: 500, every: 250, seed: 1 });
    // Course: 0.950–0.962 test, 0.992–0.997 train after 1,000 iterations at lr 0.001.
    expect(r.last.testAccuracy).toBeGreaterThan(0.94);
    expect(r.last.trainAccuracy).toBeGreaterThan(0.96);
    expect(r.last.iteration).toBe(500);
  }, 600_000);
});
