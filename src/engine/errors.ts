/**
 * The engine's errors. They carry a stable machine-readable `code` and never an HTTP status: the API's
 * error handler maps `SpecError` and `ShapeError` to 400 and anything else to 500.
 */

/** Base class of every error the engine throws on purpose. */
export class EngineError extends Error {
  /** Stable machine-readable code, e.g. `INVALID_SPEC`, `SHAPE_MISMATCH`, `WEIGHTS_MISMATCH`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}

/**
 * A spec (model, layer, weights) that cannot be used. `path` locates the offending value in the job
 * spec, e.g. `['model', 'layers', 3, 'kernelSize']`, like a zod issue path.
 */
export class SpecError extends EngineError {
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[] = [], code = 'INVALID_SPEC') {
    super(code, message);
    this.name = 'SpecError';
    this.path = path;
  }
}

/**
 * Layer shapes that do not compose (a kernel larger than its padded input, conv on a 1-D input, a final
 * output that is not `[classes]`…). `layerIndex` is the index in the resolved `layers` array and `path`
 * is `['model', 'layers', layerIndex]` plus the field when one is to blame.
 */
export class ShapeError extends SpecError {
  readonly layerIndex: number;
  constructor(message: string, layerIndex: number, field?: string) {
    super(message, field === undefined ? ['model', 'layers', layerIndex] : ['model', 'layers', layerIndex, field], 'SHAPE_MISMATCH');
    this.name = 'ShapeError';
    this.layerIndex = layerIndex;
  }
}
