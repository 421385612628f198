import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, startRedis, type TestRedis } from '../helpers/redis.ts';

/**
 * The REAL keiko service for end-to-end tests: its own redis-server on a free port, the API process
 * (`tsx src/server.ts`) and a training worker (`tsx workers/training-worker.ts`) as child processes, configured
 * through the environment as src/config/env.ts reads it (REDIS_URL, PORT, HOST, KEIKO_PREFIX, LOG_LEVEL).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
export const API_ENTRY = 'src/server.ts';
export const WORKER_ENTRY = 'workers/training-worker.ts';

export interface RunningService {
  url: string;
  redis: TestRedis;
  prefix: string;
  /** The last lines each process wrote (for failure messages). */
  logs(): string;
  /** Stop the API process (SIGTERM) and start a fresh one on the same port; resolves once it is ready again. */
  restartApi(): Promise<void>;
  stop(): Promise<void>;
}

interface Proc {
  name: string;
  child: ChildProcess;
  output: string[];
}

function launch(name: string, entry: string, env: Record<string, string>): Proc {
  // Own process group (detached), so that stopping it reaches tsx's node child too.
  const child = spawn(TSX, [entry], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) output.push(line);
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, child, output };
}

async function stopProc(p: Proc): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 8000);
  await exited;
  clearTimeout(timer);
}

export function serviceEntriesExist(): boolean {
  return existsSync(join(ROOT, API_ENTRY)) && existsSync(join(ROOT, WORKER_ENTRY));
}

export async function startService(opts: { env?: Record<string, string>; readyTimeoutMs?: number } = {}): Promise<RunningService> {
  const redis = await startRedis();
  const port = await freePort();
  const prefix = `e2e-dash-${process.pid}-${Date.now().toString(36)}`;
  const env = {
    REDIS_URL: redis.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    KEIKO_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const procs = [launch('api', API_ENTRY, env), launch('worker', WORKER_ENTRY, env)];
  const url = `http://127.0.0.1:${port}`;
  const logs = () => procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.output.slice(-40).join('\n')}`).join('\n');
  const stop = async () => {
    await Promise.all(procs.map(stopProc));
    await redis.stop();
  };
  const waitReady = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited before the service was ready\n${logs()}`);
      try {
        const res = await fetch(`${url}/readyz`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the API did not become ready at ${url}/readyz\n${logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const restartApi = async () => {
    await stopProc(procs[0]!);
    procs[0] = launch('api', API_ENTRY, env);
    await waitReady(60_000);
  };

  try {
    await waitReady(opts.readyTimeoutMs ?? 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, redis, prefix, logs, stop, restartApi };
}
