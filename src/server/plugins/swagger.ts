import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const API_VERSION = '1.0.0';

/**
 * The OpenAPI document, generated from the routes' zod schemas (schemas with a `.meta({ id })` in zod's global
 * registry become `components/schemas`). Served at `/openapi.json`, browsable at `/docs`, and written to
 * `openapi.yaml` by `npm run openapi` (src/tools/emit-openapi.ts).
 */
async function swaggerPlugin(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'keiko',
        version: API_VERSION,
        description:
          'Training service for neural networks: submit a job spec, follow its epochs live, download the model. ' +
          'Errors are RFC 9457 `application/problem+json` with a stable `code`. With `KEIKO_API_KEYS` set, every `/v1` ' +
          'route and stream needs `Authorization: Bearer KEY` (a browser WebSocket may pass `?token=KEY`).',
      },
      tags: [
        { name: 'jobs', description: 'Training jobs' },
        { name: 'streams', description: 'WebSocket streams (GET with `Upgrade: websocket`)' },
        { name: 'operations', description: 'Health, readiness, metrics' },
      ],
      // Keys are optional per deployment: `{}` says a request without one is fine when KEIKO_API_KEYS is unset.
      security: [{ bearerAuth: [] }, {}],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of KEIKO_API_KEYS (only when it is set).' } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

export const swaggerDocs = fp(swaggerPlugin, { name: 'keiko-swagger' });
