import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import fp from 'fastify-plugin';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { flattenIssues } from '../zod-issues.ts';

/**
 * zod is the one schema source: it validates params, query strings, headers and bodies (fastify-type-provider-zod's
 * serializer encodes responses). The validator is fastify-type-provider-zod's, except that its failure is our
 * {@link ValidationError} listing EVERY bad field with union errors flattened (zod-issues.ts). Fastify's Ajv is
 * never used: a non-zod schema is refused when the route is compiled, so nothing can strip or coerce.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, method, url, httpPart }) => {
  if (!(schema instanceof z.ZodType)) throw new Error(`${method} ${url}: the ${httpPart ?? ''} schema is not a zod schema (keiko validates with zod only)`);
  return (data: unknown) => {
    const r = schema.safeParse(data);
    if (r.success) return { value: r.data };
    // Paths are relative to the part: `model.layers.2.units` in a body, `limit` in a query string.
    return { error: new ValidationError(flattenIssues(r.error.issues, data)) };
  };
};

async function zodPlugin(app: FastifyInstance): Promise<void> {
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
}

export const zod = fp(zodPlugin, { name: 'keiko-zod' });
