import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartPoints, externalRequests, launchBrowser, recordedPage, screenshot } from './browser.ts';
import { serviceEntriesExist, startService, type RunningService } from './service.ts';

/** The dashboard with `KEIKO_API_KEYS` on, against the real service: the key goes in once and is used everywhere. */
describe.skipIf(!serviceEntriesExist())('dashboard end to end with API keys', () => {
  const KEY = 'e2e-key-7f3a';
  let svc: RunningService;
  let browser: Browser;

  beforeAll(async () => {
    svc = await startService({ env: { KEIKO_API_KEYS: `other-key,${KEY}` } });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  }, 60_000);

  it('asks for a key, stores it, and sends it as Bearer and as ?token= on the streams', async () => {
    const { page, record } = await recordedPage(browser, svc.url);
    const authHeaders: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/')) authHeaders.push(r.headers()['authorization'] ?? '');
    });
    await page.goto('/');
    await page.waitForSelector('#key-dialog[open]', { timeout: 15_000 });
    await screenshot(page, 'e2e-auth-1-key-dialog');
    await page.fill('#key-input', KEY);
    await page.click('#key-dialog button[value="save"]');
    await page.waitForSelector('#live[data-state="live"]', { timeout: 15_000 });
    expect(await page.evaluate(() => localStorage.getItem('keiko.apiKey'))).toBe(KEY);
    expect(authHeaders).toContain(`Bearer ${KEY}`);
    expect(record.sockets.some((u) => new URL(u).pathname === '/v1/stream' && new URL(u).searchParams.get('token') === KEY)).toBe(true);

    // A small run on a synthetic set: submitted with the key, its stream opened with the token.
    await page.selectOption('#job-form [name="dataset"]', 'synthetic-blobs');
    await page.fill('#job-form [name="name"]', 'auth run');
    await page.fill('#job-form [name="hiddenLayers"]', '1');
    await page.fill('#job-form [name="units"]', '16');
    await page.fill('#job-form [name="epochs"]', '3');
    await page.fill('#job-form [name="batchSize"]', '50');
    await page.click('#submit-form');
    await expect.poll(() => page.getAttribute('#detail', 'data-status'), { timeout: 120_000 }).toBe('completed');
    await expect.poll(() => chartPoints(page, '#chart-acc')).toBe(3);
    const id = (await page.getAttribute('#detail', 'data-job-id'))!;
    const jobSocket = record.sockets.find((u) => new URL(u).pathname === `/v1/jobs/${id}/stream`);
    expect(jobSocket && new URL(jobSocket).searchParams.get('token')).toBe(KEY);

    // Downloads go through fetch with the key (a plain link could not carry it).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dl-weights')]);
    expect(download.suggestedFilename()).toBe('auth_run.safetensors');
    await screenshot(page, 'e2e-auth-2-completed');

    // Reloading keeps the key: no dialog, the list loads.
    await page.reload();
    await page.waitForSelector('#live[data-state="live"]');
    await expect.poll(() => page.locator('tr.job-row').count()).toBe(1);
    expect(await page.locator('#key-dialog[open]').count()).toBe(0);
    expect(externalRequests(record)).toEqual([]);
    // Only the first requests, before a key was entered, went without one.
    const first = authHeaders.indexOf(`Bearer ${KEY}`);
    expect(first).toBeGreaterThan(0);
    expect(authHeaders.slice(first).every((h) => h === `Bearer ${KEY}`)).toBe(true);
  });

  it('guards bull-board with the same keys', async () => {
    expect((await fetch(`${svc.url}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${svc.url}/admin/queues`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    const basic = Buffer.from(`admin:${KEY}`).toString('base64');
    expect((await fetch(`${svc.url}/admin/queues`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
    // The page itself holds no data and loads without a key.
    expect((await fetch(`${svc.url}/`)).status).toBe(200);
  });
});
