import { describe, expect, it } from 'vitest';
import { workerHarness, jobEvents, SLOW_ITERATIONS, smallSpec, streamEpochs, submit, waitFor } from './worker-fixtures.ts';

// Real worker processes; LOCK_DURATION_MS = STALLED_INTERVAL_MS = 2000 (worker-fixtures.ts), so a
// killed worker's job is taken up again within a few seconds.
const h = workerHarness();

const EPOCHS = 5;

describe('training worker recovery', () => {
  it('resumes a job from its checkpoint on a second worker after kill -9, no epoch lost or repeated', async () => {
    const { keys, tq, spawn } = await h.setup('k9');
    const a = await spawn();
    await submit(h.redis, tq, keys, 'job', smallSpec(EPOCHS, SLOW_ITERATIONS));
    await waitFor('epoch 2 committed', async () => Number(await h.redis.hget(keys.job('job'), 'epoch')) >= 2, 40_000, 50);
    a.proc.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    const killedAt = Number(await h.redis.hget(keys.job('job'), 'epoch'));
    expect(killedAt).toBeLessThan(EPOCHS);

    const b = await spawn();
    await waitFor('completed', async () => (await h.redis.hget(keys.job('job'), 'status')) === 'completed', 50_000);
    const epochs = await streamEpochs(h.redis, keys, 'job');
    expect(epochs).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(await h.redis.hget(keys.job('job'), 'attempts')).toBe('2');
    expect(b.output()).toMatch(new RegExp(`"fromEpoch":${killedAt}[,}]`));
    const logs = (await jobEvents(h.redis, keys, 'job')).filter((e) => e.m.type === 'log').map((e) => e.m.message);
    expect(logs).toContain(`attempt 2 resumes from the checkpoint of epoch ${killedAt}`);

    // The resumed run is the uninterrupted run: the same spec trained in one go gives the same metrics, bit for bit.
    await submit(h.redis, tq, keys, 'ref', smallSpec(EPOCHS, SLOW_ITERATIONS));
    await waitFor('reference completed', async () => (await h.redis.hget(keys.job('ref'), 'status')) === 'completed', 30_000);
    const values = async (id: string) =>
      (await jobEvents(h.redis, keys, id)).filter((e) => e.m.type === 'epoch').map(({ m }) => [m.epoch, m.iteration, m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy]);
    expect(await values('job')).toEqual(await values('ref'));
  }, 60_000);

});
