import { describe, expect, it } from 'vitest';
import { workerHarness, jobEvents, SLOW_ITERATIONS, smallSpec, streamEpochs, submit, waitFor } from './worker-fixtures.ts';

// SIGTERM of a real worker process mid-job: the job goes back to the queue without consuming an attempt and
// another worker resumes it from the last committed epoch. With a grace period the running epoch is finished
// first; without one the thread stops at the next batch boundary and that epoch is trained again elsewhere.
const h = workerHarness();

const EPOCHS = 5;

describe('training worker shutdown', () => {
  it.each([
    { grace: '8000', how: 'after its current epoch' },
    { grace: '0', how: 'at the next batch boundary (grace period over)' },
  ])('on SIGTERM stops the running job $how, exits, and the job resumes on another worker', async ({ grace }) => {
    const { keys, tq, queue, spawn } = await h.setup(`term${grace}`, grace);
    // Both workers are up before the job exists (so the other one is ready to take over at once); SIGTERM goes to
    // whichever took the job.
    const workersUp = await Promise.all([spawn(), spawn()]);
    await submit(h.redis, tq, keys, 'job', smallSpec(EPOCHS, SLOW_ITERATIONS));
    await waitFor('epoch 1 committed', async () => Number(await h.redis.hget(keys.job('job'), 'epoch')) >= 1, 40_000, 50);
    const holder = workersUp.findIndex((w) => w.output().includes('"msg":"attempt started"'));
    expect(holder).toBeGreaterThanOrEqual(0);
    const a = workersUp[holder]!;
    const b = workersUp[1 - holder]!;
    const atSignal = Number(await h.redis.hget(keys.job('job'), 'epoch'));
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.output()).toContain('shutdown: job returned to the queue');
    const stoppedAt = Number(/"epoch":(\d+),"msg":"shutdown: job returned to the queue"/.exec(a.output())?.[1]);
    // Drain: the epoch running at SIGTERM is finished and committed; no grace: nothing more is committed.
    expect(stoppedAt).toBe(grace === '0' ? atSignal : atSignal + 1);

    await waitFor('completed', async () => (await h.redis.hget(keys.job('job'), 'status')) === 'completed', 50_000);
    expect(await streamEpochs(h.redis, keys, 'job')).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(b.output()).toMatch(new RegExp(`"fromEpoch":${stoppedAt}[,}]`));
    const statuses = (await jobEvents(h.redis, keys, 'job')).filter((e) => e.m.type === 'status').map((e) => e.m.status);
    expect(statuses).toEqual(['queued', 'active', 'queued', 'active', 'completed']);
    // The shutdown did not consume a BullMQ attempt: only the completing attempt counts.
    expect((await queue.getJob('job'))?.attemptsMade).toBe(1);
  }, 60_000);
});
