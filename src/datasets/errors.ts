import type { FieldProblem } from '../models/errors.ts';

/** A dataset reference that names neither a built-in nor an uploaded dataset. */
export class DatasetNotFoundError extends Error {
  readonly code = 'DATASET_NOT_FOUND';
  constructor(readonly id: string) {
    super(`dataset ${JSON.stringify(id)} does not exist (neither built-in nor uploaded)`);
    this.name = 'DatasetNotFoundError';
  }
}

/** `trainSize`/`testSize` larger than the split holds. `path` is `dataset.trainSize` or `dataset.testSize`. */
export class DatasetSizeError extends Error {
  readonly code = 'DATASET_TOO_SMALL';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'DatasetSizeError';
  }
}

/** An upload that fails validation: every problem, each naming its field (`train.x.12`, `train.y.3`). */
export class DatasetValidationError extends Error {
  readonly code = 'INVALID_DATASET';
  constructor(readonly errors: FieldProblem[]) {
    super(errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; ') + (errors.length > 5 ? `; … ${errors.length - 5} more` : ''));
    this.name = 'DatasetValidationError';
  }
}
