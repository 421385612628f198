/**
 * keiko's engine: the only import path used outside `src/engine/` (see README.md for the contract).
 * Importing it registers the reference kernel backend as the default.
 */

// specs (zod schemas and their z.infer types)
export * from './spec/index.ts';
export { Rng } from './random.ts';
export { type KernelBackend, type ConvGeometry, backend, setBackend, convGeometry } from './kernels/backend.ts';
export { referenceBackend } from './kernels/reference.ts';

// errors
export { EngineError, SpecError, ShapeError } from './errors.ts';

// models
export { resolveModelSpec } from './model/presets.ts';
export { describeModel, type ModelSummary } from './model/describe.ts';
export { Sequential, buildModel } from './model/sequential.ts';
export { type NamedTensor, getWeights, setWeights, expectedTensors } from './model/weights.ts';

// loss
export { softmaxCrossEntropy } from './losses/softmax-cross-entropy.ts';

// data
export { type Dataset, type DatasetSplit, makeDataset } from './data/dataset.ts';
export { type BuiltinDatasetInfo, builtinDatasets, loadBuiltinDataset } from './data/builtin.ts';

// training
export { type FitOptions, type FitResult, type FitProgress, fit } from './train/fit.ts';
export { type Checkpoint, serializeCheckpoint, deserializeCheckpoint } from './train/checkpoint.ts';
