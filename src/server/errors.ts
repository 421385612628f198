/**
 * Every error the API answers on purpose. Each carries a stable machine-readable `code`, an HTTP status and,
 * for validation, the list of bad fields. The error handler (plugins/error-handler.ts) turns them into RFC 9457
 * `application/problem+json`; anything else becomes a 500 with a generic message.
 */

/** One bad field, as in the problem body's `errors[]`. `path` is dotted (`model.layers.2.kernelSize`). */
export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly errors: FieldError[] = [],
    /** Extra response headers (`Retry-After`, `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

/** 400: the request does not validate. Every bad field is listed. */
export class ValidationError extends AppError {
  constructor(errors: FieldError[], detail?: string) {
    super(400, 'VALIDATION_FAILED', 'Validation failed', detail ?? summarize(errors), errors);
  }
}

function summarize(errors: FieldError[]): string {
  const n = errors.length;
  const first = errors.slice(0, 3).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  return `${n} invalid field${n === 1 ? '' : 's'}: ${first.join('; ')}${n > 3 ? '; …' : ''}`;
}

export class JobNotFoundError extends AppError {
  constructor(id: string) {
    super(404, 'JOB_NOT_FOUND', 'Job not found', `no job with id ${JSON.stringify(id)}`);
  }
}

export class RouteNotFoundError extends AppError {
  constructor(method: string, url: string) {
    super(404, 'ROUTE_NOT_FOUND', 'Not found', `no route ${method} ${url.split('?')[0]}`);
  }
}

export class IdempotencyConflictError extends AppError {
  constructor(key: string) {
    super(409, 'IDEMPOTENCY_CONFLICT', 'Idempotency key reused', `Idempotency-Key ${JSON.stringify(key)} was already used with a different request body`);
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail = 'a valid API key is required: Authorization: Bearer KEY') {
    super(401, 'UNAUTHORIZED', 'Unauthorized', detail, [], { 'www-authenticate': 'Bearer realm="keiko"' });
  }
}

export class NotReadyError extends AppError {
  constructor(detail: string) {
    super(503, 'NOT_READY', 'Service unavailable', detail, [], { 'retry-after': '1' });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, 'PAYLOAD_TOO_LARGE', 'Payload too large', `the request body exceeds ${limit} bytes`);
  }
}

export class InvalidCursorParamError extends AppError {
  constructor(param = 'cursor') {
    super(400, 'VALIDATION_FAILED', 'Validation failed', `${param} is not a cursor this API returned`, [{ path: param, message: 'invalid cursor' }]);
  }
}

/** The queue (Redis) refused the job after its record was written. */
export class QueueUnavailableError extends AppError {
  constructor(detail: string) {
    super(503, 'QUEUE_UNAVAILABLE', 'Queue unavailable', detail, [], { 'retry-after': '1' });
  }
}
