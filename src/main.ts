import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadEnv } from './config/env.ts';
import { startApi, type ApiHandle } from './server.ts';

/**
 * `npm start`: all of keiko on one machine — the API (in this process) and one worker process (a child, restarted
 * if it dies). Redis comes from `REDIS_URL`; when it is unset, a Redis answering on 127.0.0.1:6379 is used, else a
 * `redis-server` found on PATH is started on a free port (and stopped on exit); with none, one line says how to
 * get one and the process exits 1. `npm run start:api` / `start:worker` run the halves separately (production).
 *
 * Launcher-only variables (not part of env.ts, which every process reads):
 * - `KEIKO_REDIS_PROBE_URL` (default `redis://127.0.0.1:6379`): where to look for a Redis when REDIS_URL is unset
 *   (tests point it at a free port, since a machine's own 6379 must not be touched);
 * - `KEIKO_LOCAL_REDIS_DIR` (default `.redis-local`): the launched redis-server's data directory, with AOF on, so
 *   jobs and models survive a restart of `npm start`.
 *
 * SIGTERM/SIGINT: the worker is asked to stop (its job checkpoints and goes back to the queue), the API closes,
 * then the launched redis-server (if any) is stopped. Runs once, whatever the number of signals.
 */
const env = loadEnv();
const log = pino({ name: 'keiko', level: env.LOG_LEVEL });
const here = import.meta.url;

const NO_REDIS =
  'keiko: no Redis — REDIS_URL is unset, nothing answers on %PROBE%, and redis-server is not on PATH: install Redis (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL=redis://HOST:PORT';

/** True when a Redis answers PING at `url` within a second. */
async function answers(url: string): Promise<boolean> {
  const c = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => ok(port));
    });
  });
}

const localRedisDir = resolve(process.env.KEIKO_LOCAL_REDIS_DIR ?? '.redis-local');
/** The port of the redis-server launched on `localRedisDir`, written while it runs. */
const portFile = join(localRedisDir, 'keiko-redis.port');

/**
 * A redis-server an earlier `npm start` launched on the same directory and left running (that launcher was
 * killed outright): reuse it, since a second server on the same AOF files would corrupt them.
 */
async function leftoverRedis(): Promise<string | undefined> {
  if (!existsSync(portFile)) return undefined;
  const port = Number(readFileSync(portFile, 'utf8').trim());
  const url = `redis://127.0.0.1:${port}`;
  return Number.isInteger(port) && port > 0 && (await answers(url)) ? url : undefined;
}

/** Start `bin` on a free port and wait until it answers. */
async function launchRedis(bin: string): Promise<{ url: string; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = localRedisDir;
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'];
  // Its own process group: a Ctrl-C in the terminal must not stop Redis before the worker has checkpointed.
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await answers(url))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server (${bin}) did not start on port ${port}: ${stderr.trim() || `exit code ${proc.exitCode}`}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  writeFileSync(portFile, `${port}\n`);
  return { url, proc, dir };
}

/** The worker process command: TypeScript through tsx in development, the built file under dist/. */
function workerCommand(): string[] {
  if (here.endsWith('.ts')) return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../workers/training-worker.ts', here))];
  return [fileURLToPath(new URL('../workers/training-worker.js', here))];
}

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const t = setTimeout(() => ok(false), ms);
    p.once('exit', () => {
      clearTimeout(t);
      ok(true);
    });
  });
}

let redisProc: ChildProcess | undefined;
/** A leftover redis-server this launcher adopted: stopped with SHUTDOWN (AOF flushed) on exit. */
let adoptedRedis: string | undefined;
let worker: ChildProcess | undefined;
let api: ApiHandle | undefined;
let stopping = false;
let restartTimer: NodeJS.Timeout | undefined;

/** Keep one worker process running: restart it when it dies, backing off (1 s, 2 s … 30 s) while it keeps dying. */
function startWorker(redisUrl: string, failures = 0): void {
  const started = Date.now();
  const child = spawn(process.execPath, workerCommand(), { env: { ...process.env, REDIS_URL: redisUrl }, stdio: 'inherit' });
  worker = child;
  log.info({ pid: child.pid }, 'worker process started');
  child.once('exit', (code, signal) => {
    if (stopping) return;
    const n = Date.now() - started > 60_000 ? 0 : failures + 1;
    const delay = Math.min(30_000, 1000 * 2 ** Math.max(0, n - 1));
    log.warn({ code, signal, restartInMs: delay }, 'worker process exited: restarting it');
    restartTimer = setTimeout(() => startWorker(redisUrl, n), delay);
  });
}

let shutting: Promise<void> | undefined;
function shutdown(reason: string, exitCode = 0): Promise<void> {
  shutting ??= (async () => {
    stopping = true;
    clearTimeout(restartTimer);
    log.info({ reason }, 'stopping keiko');
    const steps: [string, () => Promise<unknown>][] = [
      [
        'worker',
        async () => {
          if (!worker) return;
          worker.kill('SIGTERM');
          if (!(await waitExit(worker, env.SHUTDOWN_GRACE_MS + 20_000))) worker.kill('SIGKILL');
        },
      ],
      ['api', async () => api?.close()],
      [
        'redis-server',
        async () => {
          if (adoptedRedis) {
            const c = new Redis(adoptedRedis, { maxRetriesPerRequest: 0, retryStrategy: () => null });
            c.on('error', () => undefined);
            await c.call('SHUTDOWN').catch(() => undefined); // the server closes the connection as it exits
            c.disconnect();
          }
          if (redisProc) {
            redisProc.kill('SIGTERM');
            if (!(await waitExit(redisProc, 10_000))) redisProc.kill('SIGKILL');
          }
          if (redisProc || adoptedRedis) rmSync(portFile, { force: true });
        },
      ],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (e) {
        log.warn({ err: (e as Error).message }, `stopping the ${name} failed`);
      }
    }
    log.info('keiko stopped');
  })().finally(() => process.exit(exitCode));
  return shutting;
}

for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => void shutdown(s));
// Whatever goes wrong here, the worker and a launched redis-server (its own process group) are stopped too.
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception');
  void shutdown('uncaught exception', 1);
});

/** Where keiko's Redis is: REDIS_URL, else one answering at the probe address, else a redis-server of our own. */
async function resolveRedis(): Promise<string> {
  if (env.REDIS_URL) return env.REDIS_URL;
  const probe = process.env.KEIKO_REDIS_PROBE_URL ?? 'redis://127.0.0.1:6379';
  const where = new URL(probe).host;
  if (await answers(probe)) {
    log.info({ redis: probe }, 'REDIS_URL is unset: using the Redis that answers there');
    return probe;
  }
  const leftover = await leftoverRedis();
  if (leftover) {
    adoptedRedis = leftover;
    log.info({ redis: leftover, dir: localRedisDir }, `REDIS_URL is unset and nothing answers on ${where}: reusing the redis-server an earlier npm start left running on ${leftover}; it stops with keiko`);
    return leftover;
  }
  const bin = findOnPath('redis-server');
  if (!bin) {
    process.stderr.write(`${NO_REDIS.replace('%PROBE%', where)}\n`);
    process.exit(1);
  }
  try {
    const launched = await launchRedis(bin);
    redisProc = launched.proc;
    log.info({ redis: launched.url, bin, dir: launched.dir }, `REDIS_URL is unset and nothing answers on ${where}: started redis-server on ${launched.url} (data in ${launched.dir}); it stops with keiko`);
    launched.proc.once('exit', (code) => {
      if (!stopping) {
        log.error({ code }, 'the launched redis-server exited');
        void shutdown('redis-server exited', 1);
      }
    });
    return launched.url;
  } catch (e) {
    process.stderr.write(`keiko: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

const redisUrl = await resolveRedis();

try {
  api = await startApi({ ...env, REDIS_URL: redisUrl }, { logger: pino({ name: 'keiko-api', level: env.LOG_LEVEL }) });
  log.info({ url: api.url }, 'keiko API listening');
} catch (e) {
  log.fatal({ err: (e as Error).message }, 'the API did not start');
  await shutdown('the API did not start', 1);
}
if (!stopping) startWorker(redisUrl);
