import { z } from 'zod';

/** RFC 9457 problem details, as every error of the API is answered (`application/problem+json`). */
export const ProblemSchema = z
  .strictObject({
    type: z.string().describe('A URI naming the problem type: `urn:keiko:problem:<code in kebab case>`.'),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string().describe('Stable machine-readable code, e.g. VALIDATION_FAILED, JOB_NOT_FOUND, IDEMPOTENCY_CONFLICT.'),
    instance: z.string().describe('The request id (also in the `x-request-id` response header).'),
    errors: z.array(z.strictObject({ path: z.string(), message: z.string() })).describe('Every bad field (dotted path) — empty when the problem is not about fields.'),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

/**
 * Problem type URI of a code: `VALIDATION_FAILED` → `urn:keiko:problem:validation-failed`. A URN, not an http URL:
 * keiko has no documentation site to point at, and RFC 9457 asks clients not to dereference type URIs anyway.
 */
export function problemType(code: string): string {
  return `urn:keiko:problem:${code.toLowerCase().replace(/_/g, '-')}`;
}
