import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis.ts';
import { waitFor } from './worker-fixtures.ts';

// `npm start` (src/main.ts) as a real process. The probe address is a free port, never this machine's 6379.
const children: ChildProcess[] = [];
const dirs: string[] = [];
/** Launched redis-servers (their own process group) and worker pids, stopped after each test whatever happened. */
const redisUrls: string[] = [];
const pids: number[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const url of redisUrls.splice(0)) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    await c
      .connect()
      .then(() => c.call('SHUTDOWN', 'NOSAVE'))
      .catch(() => undefined);
    c.disconnect();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}, 20_000);

function launch(env: Record<string, string | undefined>): { proc: ChildProcess; output(): string; stderr(): string; exited: Promise<number | string> } {
  const { REDIS_URL: _unset, ...base } = process.env;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  return { proc, output: () => out + err, stderr: () => err, exited };
}

async function answers(url: string): Promise<boolean> {
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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

describe('npm start (src/main.ts)', () => {
  it('starts its own redis-server when none answers, runs the API and a worker, trains a job, and stops it all on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keiko-launcher-'));
    dirs.push(dir);
    const port = await freePort();
    const k = launch({
      KEIKO_REDIS_PROBE_URL: `redis://127.0.0.1:${await freePort()}`,
      KEIKO_LOCAL_REDIS_DIR: dir,
      PORT: String(port),
      HOST: '127.0.0.1',
      KEIKO_PREFIX: 'launcher',
    });
    const redisUrl = await waitFor('the launched redis-server', async () => /started redis-server on (redis:\/\/127\.0\.0\.1:\d+)/.exec(k.output())?.[1], 20_000);
    redisUrls.push(redisUrl);
    expect(await answers(redisUrl)).toBe(true);
    await waitFor('API and worker', async () => k.output().includes('keiko API listening') && k.output().includes('worker ready'), 30_000);

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const spec = {
      dataset: { id: 'synthetic-blobs' },
      model: { inputShape: [2], layers: [{ type: 'dense', units: 16 }, { type: 'relu' }, { type: 'dense', units: 3 }] },
      training: { epochs: 2, batchSize: 32 },
    };
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = await waitFor(
      'job completed',
      async () => {
        const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { status: string; modelId?: string };
        return j.status === 'completed' ? j : undefined;
      },
      30_000,
      200,
    );
    expect(job.modelId).toBeTruthy();
    expect((await fetch(`${base}/v1/models/${job.modelId}`)).status).toBe(200);

    // Cancel through the API while the worker process trains: it ends `cancelled` at a batch boundary.
    const long = { ...spec, training: { epochs: 500, batchSize: 32, sampling: 'replacement', iterationsPerEpoch: 500 } };
    const res2 = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long) });
    const { id: longId } = (await res2.json()) as { id: string };
    const jobUrl = `${base}/v1/jobs/${longId}`;
    await waitFor('running', async () => ((await (await fetch(jobUrl)).json()) as { progress: { epoch: number } }).progress.epoch >= 1, 30_000, 100);
    expect((await fetch(`${jobUrl}/cancel`, { method: 'POST' })).status).toBe(202);
    await waitFor('cancelled', async () => ((await (await fetch(jobUrl)).json()) as { status: string }).status === 'cancelled', 20_000, 100);

    k.proc.kill('SIGTERM');
    expect(await k.exited).toBe(0);
    expect(k.output()).toContain('keiko stopped');
    expect(await answers(redisUrl)).toBe(false);
  }, 60_000);

  it('reuses the redis-server a killed launcher left running on the same data directory, and stops it on exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keiko-launcher-'));
    dirs.push(dir);
    const env = { KEIKO_REDIS_PROBE_URL: `redis://127.0.0.1:${await freePort()}`, KEIKO_LOCAL_REDIS_DIR: dir, HOST: '127.0.0.1', KEIKO_PREFIX: 'launcher2' };
    const first = launch({ ...env, PORT: String(await freePort()) });
    const redisUrl = await waitFor('the launched redis-server', async () => /started redis-server on (redis:\/\/127\.0\.0\.1:\d+)/.exec(first.output())?.[1], 20_000);
    redisUrls.push(redisUrl);
    const workerPid = Number(await waitFor('worker pid', async () => /"pid":(\d+),"msg":"worker process started"/.exec(first.output())?.[1], 20_000));
    pids.push(workerPid);
    first.proc.kill('SIGKILL');
    await first.exited;
    process.kill(workerPid, 'SIGKILL'); // the orphaned worker child
    expect(await answers(redisUrl)).toBe(true);

    const second = launch({ ...env, PORT: String(await freePort()) });
    await waitFor('reuse', async () => second.output().includes(`left running on ${redisUrl}`), 20_000);
    await waitFor('API listening', async () => second.output().includes('keiko API listening'), 20_000);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(await answers(redisUrl)).toBe(false);
    expect(existsSync(join(dir, 'keiko-redis.port'))).toBe(false);
  }, 60_000);

  it('with no Redis and no redis-server on PATH, stops with one line saying how to get one', async () => {
    const emptyDir = mkdtempSync(join(tmpdir(), 'keiko-nopath-'));
    dirs.push(emptyDir);
    const k = launch({ PATH: emptyDir, KEIKO_REDIS_PROBE_URL: `redis://127.0.0.1:${await freePort()}`, PORT: String(await freePort()) });
    expect(await k.exited).toBe(1);
    const lines = k.stderr().split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/redis-server/);
    expect(lines[0]).toMatch(/apt-get install -y redis-server/);
    expect(lines[0]).toMatch(/REDIS_URL/);
  }, 30_000);
});
