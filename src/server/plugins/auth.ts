import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { UnauthorizedError } from '../errors.ts';

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The key a request presents: `Authorization: Bearer KEY`, or `?token=KEY` on a WebSocket upgrade (browsers cannot set headers there). */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1];
  }
  if (request.headers.upgrade?.toLowerCase() === 'websocket') {
    const token = new URL(request.url, 'http://x').searchParams.get('token');
    return token ?? undefined;
  }
  return undefined;
}

/** With `KEIKO_API_KEYS` set, every `/v1` route and stream needs one of the keys; 401 problem+json otherwise. */
async function authPlugin(app: FastifyInstance): Promise<void> {
  const keys = app.keiko.apiKeys;
  if (keys.length === 0) return;
  app.addHook('onRequest', async (request) => {
    // The matched route pattern, and the raw path for unmatched ones (so a 404 under /v1 reveals nothing either).
    const isV1 = (p: string | undefined) => p !== undefined && (p === '/v1' || p.startsWith('/v1/'));
    if (!isV1(request.routeOptions.url) && !isV1(request.url.split('?')[0])) return;
    const key = presentedKey(request);
    if (key === undefined) throw new UnauthorizedError();
    if (!keys.some((k) => safeEqual(k, key))) throw new UnauthorizedError('the API key is not valid');
  });
}

export const auth = fp(authPlugin, { name: 'keiko-auth' });
