import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { SpecError } from '../../engine/index.ts';
import { InvalidCursorError } from '../../redis/model-store.ts';
import { AppError, InvalidCursorParamError, PayloadTooLargeError, RouteNotFoundError, ValidationError } from '../errors.ts';
import { problemType, type Problem } from '../problem.ts';
import { formatPath } from '../zod-issues.ts';

/**
 * One error format everywhere (RFC 9457 problem+json with a stable `code` and the request id as `instance`):
 * our AppErrors as they are; Fastify's own errors (body too large, bad JSON, wrong content type) mapped to codes;
 * Redis being unreachable to 503; anything else to a 500 whose detail reveals nothing. 404 for unknown routes.
 */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: AppError): FastifyReply {
  const body: Problem = {
    type: problemType(err.code),
    title: err.title,
    status: err.statusCode,
    detail: err.message,
    code: err.code,
    instance: request.id,
    errors: err.errors,
  };
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  // Serialized here, so a route's response schema never sees (or rejects) the problem body.
  return reply.code(err.statusCode).type('application/problem+json; charset=utf-8').serializer(JSON.stringify).send(body);
}

function isRedisUnavailable(err: Error): boolean {
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|Stream isn't writeable|Reached the max retries/i.test(err.message)
  );
}

/** Map any thrown value to an AppError (null: an unexpected error, answered 500). */
export function toAppError(err: unknown, bodyLimit: number): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof InvalidCursorError) return new InvalidCursorParamError();
  // A spec the engine refuses (ShapeError included) wherever it surfaces: the engine's path and message.
  if (err instanceof SpecError) return new ValidationError([{ path: formatPath(err.path), message: err.message }]);
  if (!(err instanceof Error)) return null;
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ValidationError([{ path: '', message: 'the body is empty' }], 'a JSON body is required');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError(400, 'INVALID_JSON', 'Invalid JSON', `the body is not valid JSON: ${err.message}`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(400, 'BAD_REQUEST', 'Bad request', fe.message);
    case 'FST_ERR_VALIDATION':
      // Only reached by a non-zod schema's validator (our compiler throws ValidationError itself).
      return new ValidationError([{ path: fe.validationContext ?? '', message: fe.message }]);
  }
  if (err instanceof SyntaxError && fe.statusCode === 400) {
    return new AppError(400, 'INVALID_JSON', 'Invalid JSON', `the body is not valid JSON: ${err.message}`);
  }
  if (isRedisUnavailable(err)) return new AppError(503, 'REDIS_UNAVAILABLE', 'Service unavailable', 'Redis is unreachable; try again shortly', [], { 'retry-after': '1' });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(fe.statusCode, fe.code ? fe.code.replace(/^FST_ERR_/, '') : 'BAD_REQUEST', 'Bad request', fe.message);
  }
  return null;
}

async function errorHandlerPlugin(app: FastifyInstance, opts: { bodyLimit: number }): Promise<void> {
  app.setErrorHandler((err, request, reply) => {
    const mapped = toAppError(err, opts.bodyLimit);
    if (mapped) {
      if (mapped.statusCode >= 500) request.log.warn({ err }, mapped.message);
      return sendProblem(reply, request, mapped);
    }
    request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, request, new AppError(500, 'INTERNAL', 'Internal server error', 'an unexpected error occurred; the request id identifies it in the logs'));
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new RouteNotFoundError(request.method, request.url)));
}

export const errorHandler = fp(errorHandlerPlugin, { name: 'keiko-error-handler' });
