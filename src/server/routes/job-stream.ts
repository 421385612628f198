import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import { StreamMessageSchema, type StreamMessage } from '../../contracts/job.ts';
import { getJob, isTerminal, readStreamAfter, type StreamEntry } from '../../redis/job-store.ts';
import { AppError, JobNotFoundError } from '../errors.ts';
import { ProgressHub, progressGate } from '../progress-hub.ts';
import { ProblemSchema } from '../problem.ts';
import { JobIdParamsSchema, StreamQuerySchema } from '../schemas.ts';
import { follow } from '../stream-follower.ts';

/** Normal closure after `done`. */
export const CLOSE_DONE = 1000;
/** The server failed (Redis error): reconnect with the last cursor. */
export const CLOSE_INTERNAL = 1011;
const PING_INTERVAL_MS = 30_000;

const streamResponse = {
  101: {
    description:
      'Switching Protocols, then one JSON message per frame (`StreamMessage`). Persisted messages carry a `cursor`; ' +
      'reconnect with `?from=<cursor>` to resume right after it.',
    content: { 'application/json': { schema: StreamMessageSchema } },
  },
};

/**
 * `WS /v1/jobs/:id/stream`: the job's persisted messages so far (status, epoch, log, done), then live ones and
 * live progress; closes with 1000 after `done`. `WS /v1/stream`: every job's persisted messages from the global
 * `events` stream (live from connect, or after `?from=`), plus every job's live progress.
 */
export async function jobStreamRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const ctx = app.keiko;
  const { redis, keys } = ctx.deps;
  const hub = new ProgressHub(() => ctx.blockingConnection(), keys.progress, (err) => app.log.warn({ err }, 'progress subscription'));
  app.addHook('onClose', async () => hub.close());

  /** Register a socket for shutdown, count it, keep it alive; returns the sender and the blocking connection. */
  function open(socket: WebSocket, route: string, extraCleanup: () => void) {
    const blocking = ctx.blockingConnection();
    blocking.on('error', () => undefined); // reported by the follower; avoid unhandled 'error' events
    ctx.metrics.wsConnections.inc({ route });
    ctx.metrics.wsConnectionsTotal.inc({ route });
    const ping = setInterval(() => socket.ping(), PING_INTERVAL_MS);
    ping.unref();
    let cleaned = false;
    const cleanup = () => {
      if (cleaned) return;
      cleaned = true;
      clearInterval(ping);
      extraCleanup();
      blocking.disconnect();
      ctx.metrics.wsConnections.dec({ route });
      ctx.sockets.delete(socket);
    };
    ctx.sockets.set(socket, cleanup);
    socket.on('close', cleanup);
    socket.on('error', cleanup);
    const send = (msg: StreamMessage) => {
      if (socket.readyState !== socket.OPEN) return;
      socket.send(JSON.stringify(msg));
      ctx.metrics.wsMessages.inc({ type: msg.type });
    };
    return { blocking, send, cleanup };
  }

  function fail(socket: WebSocket, request: FastifyRequest, err: unknown) {
    request.log.warn({ err }, 'stream failed');
    if (socket.readyState === socket.OPEN) socket.close(CLOSE_INTERNAL, 'stream error: reconnect with the last cursor');
  }

  r.route({
    method: 'GET',
    url: '/v1/jobs/:id/stream',
    handler: upgradeRequired,
    schema: {
      tags: ['streams'],
      summary: "A job's live stream (WebSocket)",
      description:
        'Replays every persisted message of the job (status, epoch, log, done) after `from` (or from the start), then follows ' +
        'live, with throttled `progress` messages (live only, may be dropped). After `done` the server closes with 1000; on ' +
        'shutdown with 1001. No message is lost or repeated across reconnects, restarts or API instances.',
      params: JobIdParamsSchema,
      querystring: StreamQuerySchema,
      response: { ...streamResponse, 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema, 426: ProblemSchema },
    },
    // Before the upgrade: an unknown job is a plain 404 problem, not a socket that closes at once.
    preHandler: async (request) => {
      const { id } = request.params;
      if (!(await redis.exists(keys.job(id)))) throw new JobNotFoundError(id);
    },
    wsHandler: (socket, request) => {
      const { id } = request.params;
      const gate = progressGate();
      let unsubscribe = () => {};
      const { blocking, send } = open(socket, '/v1/jobs/:id/stream', () => unsubscribe());
      unsubscribe = hub.subscribe((p) => {
        if (p.jobId !== id) return;
        if (gate(id, socket.bufferedAmount)) send(p);
        else ctx.metrics.wsProgressDropped.inc();
      });
      const streamKey = keys.jobEvents(id);
      const deliver = (e: StreamEntry) => {
        send(e.message);
        if (e.message.type === 'done') {
          socket.close(CLOSE_DONE, 'done');
          return true;
        }
        return false;
      };
      // Caught up and the job is over: deliver what its last MULTI wrote after our last read (its `done`), then end.
      const idle = async (after: string) => {
        const job = await getJob(redis, keys, id);
        if (!job || !isTerminal(job.status)) return false;
        const rest = await readStreamAfter(redis, streamKey, after, 10_000);
        for (const e of rest.entries) if (deliver(e)) return true;
        socket.close(CLOSE_DONE, 'done');
        return true;
      };
      follow({ redis, blocking, streamKey, after: request.query.from ?? '-', socket, deliver, idle }).catch((err) => fail(socket, request, err));
    },
  });

  r.route({
    method: 'GET',
    url: '/v1/stream',
    handler: upgradeRequired,
    schema: {
      tags: ['streams'],
      summary: "Every job's status changes, epochs and progress (WebSocket, for dashboards)",
      description:
        'Persisted messages of all jobs from the global `events` stream — live from connect, or everything after `from` still ' +
        'retained (the stream keeps about the last 10,000 messages) — plus throttled live `progress` of every job. Its cursors ' +
        'are positions in this global stream, not in a job\'s stream: resume each stream with its own cursors.',
      querystring: StreamQuerySchema,
      response: { ...streamResponse, 400: ProblemSchema, 401: ProblemSchema, 426: ProblemSchema },
    },
    wsHandler: async (socket, request) => {
      const gate = progressGate();
      let unsubscribe = () => {};
      const { blocking, send } = open(socket, '/v1/stream', () => unsubscribe());
      unsubscribe = hub.subscribe((p) => {
        if (gate(p.jobId, socket.bufferedAmount)) send(p);
        else ctx.metrics.wsProgressDropped.inc();
      });
      try {
        const after = request.query.from ?? (await lastId(redis, keys.events));
        await follow({ redis, blocking, streamKey: keys.events, after, socket, deliver: (e) => (send(e.message), false) });
      } catch (err) {
        fail(socket, request, err);
      }
    },
  });
}

/** A plain GET (or HEAD) on a stream route: the route exists, the protocol is wrong. */
async function upgradeRequired(): Promise<never> {
  throw new AppError(426, 'UPGRADE_REQUIRED', 'Upgrade required', 'this is a WebSocket endpoint: connect with Upgrade: websocket', [], { upgrade: 'websocket' });
}

/** The id of a stream's newest entry (`0-0` when empty): "live from now" without XREAD's `$`, which a loop cannot reuse. */
async function lastId(redis: Redis, key: string): Promise<string> {
  const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last[0]?.[0] ?? '0-0';
}
