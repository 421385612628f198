import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type TestRedis } from '../helpers/redis.ts';
import { connectStream } from './stream-client.ts';

// The API process entry as the dashboard and e2e tests start it: `tsx src/server.ts` with PORT, HOST, REDIS_URL,
// KEIKO_PREFIX, LOG_LEVEL. SIGTERM: 503 from then on, streams closed with 1001, clean exit.
let server: TestRedis;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startRedis();
}, 30_000);
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.stop();
}, 30_000);

function startApiProcess(env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', KEIKO_API_KEYS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exited, output: () => out };
}

async function waitUntil(what: string, fn: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('src/server.ts', () => {
  it('listens on HOST:PORT, serves, and on SIGTERM closes streams with 1001 and exits 0', async () => {
    const port = await freePort();
    const api = startApiProcess({ PORT: String(port), HOST: '127.0.0.1', REDIS_URL: server.url, KEIKO_PREFIX: `srv${process.pid}` });
    await waitUntil('listening', () => api.output().includes('keiko API listening'));
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const c = await connectStream(`ws://127.0.0.1:${port}/v1/stream`);
    api.proc.kill('SIGTERM');
    expect((await c.closed).code).toBe(1001);
    expect(await api.exited).toBe(0);
  }, 60_000);

  it('refuses to start without REDIS_URL', async () => {
    const api = startApiProcess({ PORT: String(await freePort()), HOST: '127.0.0.1', REDIS_URL: '' });
    expect(await api.exited).toBe(1);
    expect(api.output()).toMatch(/REDIS_URL is required/);
  }, 60_000);
});
