import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Close code sent to every stream when the server shuts down ("going away"). */
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_HANDSHAKE_MS = 2000;

/**
 * @fastify/websocket with a shutdown that closes every stream with 1001 (the default closes without a code) and
 * stops its Redis reader, so a client knows to reconnect elsewhere with its last cursor.
 */
async function websocketPlugin(app: FastifyInstance): Promise<void> {
  await app.register(websocket, {
    options: { maxPayload: 64 * 1024 },
    preClose(done) {
      for (const [socket, cleanup] of app.keiko.sockets) {
        cleanup();
        socket.close(CLOSE_GOING_AWAY, 'server shutting down');
        // A client that never answers the close handshake must not hold the shutdown.
        setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
      }
      app.keiko.sockets.clear();
      app.websocketServer.close(() => done());
    },
  });
}

export const websocketSupport = fp(websocketPlugin, { name: 'keiko-websocket' });
