import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PersistedMessage } from '../../src/contracts/job.ts';
import { addEventTo, publishProgress } from '../../src/redis/events.ts';
import { setStatusTo } from '../../src/redis/job-status.ts';
import { startHarness, smallSpec, type ApiInstance, type Harness } from './api-harness.ts';
import { connectStream, upgradeStatus } from './stream-client.ts';

// Every test here touches Redis: a hard limit, so a leftover client or a lost message fails fast instead of hanging.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });

// The job streams over real WebSockets against a real redis-server. A "worker" is simulated by writing epoch
// events with events.ts, exactly as the worker does (same MULTI helpers).
let h: Harness;
let base: string;

beforeAll(async () => {
  h = await startHarness({ listen: true });
  base = h.api.url!.replace('http', 'ws');
}, 30_000);
afterAll(async () => {
  await h?.close();
}, 30_000);

async function newJob(): Promise<string> {
  const res = await h.api.app.inject({ method: 'POST', url: '/v1/jobs', payload: smallSpec() });
  return res.json().id as string;
}

async function write(...msgs: PersistedMessage[]): Promise<void> {
  const tx = h.redis.multi();
  for (const m of msgs) addEventTo(tx, h.keys, m);
  await tx.exec();
}

const epoch = (jobId: string, n: number): PersistedMessage => ({
  type: 'epoch',
  jobId,
  epoch: n,
  iteration: n * 10,
  trainLoss: 1 / n,
  trainAccuracy: 0.5,
  testLoss: 1 / n,
  testAccuracy: 0.5,
  learningRate: 0.1,
  durationMs: 5,
  samplesPerSecond: 100,
});

async function finish(jobId: string, status: 'completed' | 'failed' | 'cancelled' = 'completed'): Promise<void> {
  const tx = h.redis.multi();
  setStatusTo(tx, h.keys, jobId, status, Date.now(), { finishedAt: new Date().toISOString(), modelId: jobId });
  addEventTo(tx, h.keys, { type: 'status', jobId, status, at: new Date().toISOString() });
  addEventTo(tx, h.keys, { type: 'done', jobId, status, modelId: jobId });
  await tx.exec();
}

/** Call `fn` every 100 ms until stopped (for live-only messages a subscription may not have caught yet). */
function keepPublishing(fn: () => Promise<unknown>) {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await fn();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { stop: () => void (stopped = true), done };
}

const epochsOf = (msgs: Record<string, unknown>[]) => msgs.filter((m) => m.type === 'epoch').map((m) => m.epoch);

describe('WS /v1/jobs/:id/stream', () => {
  it('replays everything so far, goes live, ends with done and closes 1000', async () => {
    const id = await newJob();
    await write(epoch(id, 1), epoch(id, 2));
    const c = await connectStream(`${base}/v1/jobs/${id}/stream`);
    await c.until((m) => epochsOf(m).length === 2);
    expect(c.messages.map((m) => m.type)).toEqual(['status', 'epoch', 'epoch']);
    expect(c.messages.every((m) => typeof m.cursor === 'string' && m.jobId === id)).toBe(true);
    await write(epoch(id, 3));
    await c.until((m) => epochsOf(m).length === 3);
    await finish(id);
    const closed = await c.closed;
    expect(closed.code).toBe(1000);
    expect(epochsOf(c.messages)).toEqual([1, 2, 3]);
    expect(c.messages.at(-1)).toMatchObject({ type: 'done', status: 'completed', modelId: id });
  });

  it('resumes with ?from=CURSOR with exactly the messages after it, also for a finished job, then closes 1000', async () => {
    const id = await newJob();
    await write(...[1, 2, 3, 4, 5].map((n) => epoch(id, n)));
    await finish(id);
    const full = await connectStream(`${base}/v1/jobs/${id}/stream`);
    expect((await full.closed).code).toBe(1000);
    const all = full.messages;
    expect(all.map((m) => m.type)).toEqual(['status', 'epoch', 'epoch', 'epoch', 'epoch', 'epoch', 'status', 'done']);
    for (let i = 0; i < all.length; i++) {
      const c = await connectStream(`${base}/v1/jobs/${id}/stream?from=${all[i]!.cursor as string}`);
      await c.closed;
      expect(c.messages).toEqual(all.slice(i + 1));
    }
  });

  it('loses and repeats nothing across reconnects while epochs arrive', async () => {
    const id = await newJob();
    const writer = (async () => {
      for (let n = 1; n <= 60; n++) {
        await write(epoch(id, n));
        if (n % 7 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await finish(id);
    })();
    const got: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (let round = 0; round < 200; round++) {
      const c = await connectStream(`${base}/v1/jobs/${id}/stream${cursor ? `?from=${cursor}` : ''}`);
      // Take a few messages, then drop the connection abruptly.
      await c.until((m) => m.length >= 3 || m.some((x) => x.type === 'done'), 10_000).catch(() => undefined);
      c.ws.terminate();
      await c.closed;
      got.push(...c.messages);
      const last = c.messages.at(-1);
      if (last) cursor = last.cursor as string;
      if (got.some((m) => m.type === 'done')) break;
    }
    await writer;
    expect(epochsOf(got)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(got.filter((m) => m.type === 'done')).toHaveLength(1);
  });

  it('pages a long history and follows a burst without losing or reordering an epoch', async () => {
    const id = await newJob();
    await write(...Array.from({ length: 1800 }, (_, i) => epoch(id, i + 1)));
    const c = await connectStream(`${base}/v1/jobs/${id}/stream`);
    c.ws.pause(); // a slow reader: the server buffers, and must not skip anything
    await write(...Array.from({ length: 1200 }, (_, i) => epoch(id, 1801 + i)));
    await finish(id);
    await new Promise((r) => setTimeout(r, 200));
    c.ws.resume();
    expect((await c.closed).code).toBe(1000);
    expect(epochsOf(c.messages)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('is served the same by a second API instance on the same Redis, and across a restart', async () => {
    const id = await newJob();
    await write(epoch(id, 1));
    const a = await connectStream(`${base}/v1/jobs/${id}/stream`);
    await a.until((m) => epochsOf(m).length === 1);
    const cursor = a.messages.at(-1)!.cursor as string;
    await a.close();
    // "Restart": this instance is new, has never seen the job; the client resumes with its cursor.
    const other: ApiInstance = await h.startInstance({ listen: true });
    try {
      const b = await connectStream(`${other.url!.replace('http', 'ws')}/v1/jobs/${id}/stream?from=${cursor}`);
      const c = await connectStream(`${base}/v1/jobs/${id}/stream?from=${cursor}`);
      await write(epoch(id, 2));
      await finish(id);
      await Promise.all([b.closed, c.closed]);
      expect(epochsOf(b.messages)).toEqual([2]);
      expect(b.messages).toEqual(c.messages);
    } finally {
      await other.close();
    }
  });

  it('relays live progress for its job only', async () => {
    const id = await newJob();
    const c = await connectStream(`${base}/v1/jobs/${id}/stream`);
    await c.until((m) => m.length >= 1);
    // Progress is live only and best effort: publish until the subscription (made on connect) delivers one.
    const got = keepPublishing(async () => {
      await publishProgress(h.redis, h.keys, { type: 'progress', jobId: 'someone-else', epoch: 1, batch: 1, batches: 10 });
      await publishProgress(h.redis, h.keys, { type: 'progress', jobId: id, epoch: 1, batch: 2, batches: 10, loss: 0.5 });
    });
    await c.until((m) => m.some((x) => x.type === 'progress')).finally(got.stop);
    const progress = c.messages.filter((m) => m.type === 'progress');
    expect(progress.every((m) => m.jobId === id)).toBe(true);
    expect(progress[0]).toEqual({ type: 'progress', jobId: id, epoch: 1, batch: 2, batches: 10, loss: 0.5 });
    await c.close();
  });

  it('refuses an unknown job (404) and a malformed cursor (400) before upgrading', async () => {
    expect(await upgradeStatus(`${base}/v1/jobs/nope/stream`)).toBe(404);
    const id = await newJob();
    expect(await upgradeStatus(`${base}/v1/jobs/${id}/stream?from=abc`)).toBe(400);
    expect(await upgradeStatus(`${base}/v1/jobs/${id}/stream?from=1-0`)).toBe(101);
  });
});

describe('WS /v1/stream', () => {
  it('carries every job status change and epoch from connect on, and resumes with ?from=', async () => {
    const before = await newJob(); // its queued event is history: not sent
    const c = await connectStream(`${base}/v1/stream`);
    // The server fixes its starting point just after the upgrade: write markers until one arrives, then go.
    const markers = keepPublishing(() => write({ type: 'log', jobId: 'marker', level: 'info', message: 'm', at: new Date().toISOString() }));
    await c.until((m) => m.some((x) => x.jobId === 'marker')).finally(markers.stop);
    await markers.done;
    const start = c.messages.length;
    await new Promise((r) => setTimeout(r, 50));
    const j1 = await newJob();
    const j2 = await newJob();
    await write(epoch(j1, 1), epoch(j2, 1));
    await c.until((m) => epochsOf(m).length === 2);
    const live = c.messages.slice(start).filter((m) => m.jobId !== 'marker');
    expect(live.map((m) => `${m.type}:${m.jobId === j1 ? 'j1' : m.jobId === j2 ? 'j2' : 'x'}`)).toEqual(['status:j1', 'status:j2', 'epoch:j1', 'epoch:j2']);
    expect(c.messages.some((m) => m.jobId === before)).toBe(false);
    const cursor = live[1]!.cursor as string;
    await c.close();
    const r = await connectStream(`${base}/v1/stream?from=${cursor}`);
    await r.until((m) => m.length >= 2);
    expect(r.messages.slice(0, 2)).toEqual(live.slice(2));
    await r.close();
  });

  it('relays live progress of every job', async () => {
    const c = await connectStream(`${base}/v1/stream`);
    const p = keepPublishing(async () => {
      await publishProgress(h.redis, h.keys, { type: 'progress', jobId: 'a', epoch: 1, batch: 1, batches: 3 });
      await publishProgress(h.redis, h.keys, { type: 'progress', jobId: 'b', epoch: 1, batch: 1, batches: 3 });
    });
    await c.until((m) => new Set(m.filter((x) => x.type === 'progress').map((x) => x.jobId)).size === 2).finally(p.stop);
    await c.close();
  });
});

describe('shutdown', () => {
  it('closes open streams with 1001 and answers 503 while closing', async () => {
    const inst = await h.startInstance({ listen: true });
    const id = await newJob();
    const c = await connectStream(`${inst.url!.replace('http', 'ws')}/v1/jobs/${id}/stream`);
    await c.until((m) => m.length >= 1);
    const closing = inst.close();
    expect((await c.closed).code).toBe(1001);
    await closing;
  });
});

describe('plain HTTP on a stream route', () => {
  it('answers 426 problem+json', async () => {
    const res = await h.api.app.inject('/v1/stream');
    expect(res.statusCode).toBe(426);
    expect(res.json()).toMatchObject({ code: 'UPGRADE_REQUIRED' });
    expect(res.headers.upgrade).toBe('websocket');
  });
});
