/** One problem, in the `errors[]` form of the problem+json body (API.md). */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * A weights file that does not fit its spec: missing, extra or mis-shaped tensors, non-finite values, or a
 * malformed safetensors file. Every problem is listed, each naming its tensor (`weights.3.weight`).
 * The routes answer it with a 400.
 */
export class ModelWeightsError extends Error {
  readonly code = 'INVALID_WEIGHTS';
  constructor(readonly errors: FieldProblem[]) {
    super(errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    this.name = 'ModelWeightsError';
  }
}
