import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartPoints, externalRequests, launchBrowser, recordedPage, screenshot, type PageRecord } from './browser.ts';
import { startFakeService, type FakeService } from './fake-service.ts';

/**
 * The dashboard's own logic in a real browser (Debian's chromium) against a scripted stand-in of the API
 * (fake-service.ts): deterministic timing, so a dropped stream, its `?from=` resume and the absence of a double
 * point can be asserted exactly. dashboard.e2e.test.ts runs the same page against the real service.
 */
describe('dashboard UI (scripted API)', () => {
  let svc: FakeService;
  let browser: Browser;
  let page: Page;
  let record: PageRecord;

  beforeAll(async () => {
    svc = await startFakeService({ epochMs: 400, batches: 4 });
    browser = await launchBrowser();
    ({ page, record } = await recordedPage(browser, svc.url));
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  const submitFromForm = async (fields: Record<string, string>) => {
    for (const [name, value] of Object.entries(fields)) {
      const sel = `#job-form [name="${name}"]`;
      if ((await page.locator(sel).evaluate((e) => e.tagName)) === 'SELECT') await page.selectOption(sel, value);
      else await page.fill(sel, value);
    }
    await page.click('#submit-form');
  };

  it('loads with datasets from the API and live status', async () => {
    await page.goto('/');
    await page.waitForSelector('#live[data-state="live"]');
    await page.waitForSelector('#dataset-select option[value="synthetic-blobs"]', { state: 'attached' });
    expect(await page.locator('#jobs-empty').isVisible()).toBe(true);
  });

  it('submits from the form and draws one point per epoch, resuming after a drop with no gap or double', async () => {
    await submitFromForm({ name: 'ui-small', preset: 'mlp', dataset: 'synthetic-blobs', epochs: '6', batchSize: '50', l2: '0.01', optimizer: 'adam' });
    expect(await page.inputValue('#job-form [name="learningRate"]')).toBe('0.001'); // optimizer default followed
    await page.waitForSelector('#detail:not([hidden])');
    const row = page.locator('tr.job-row').first();
    await expect.poll(() => row.getAttribute('data-status')).toBe('active');
    const id = await row.getAttribute('data-job-id');
    expect(await page.getAttribute('#detail', 'data-job-id')).toBe(id);

    await expect.poll(() => chartPoints(page, '#chart-acc'), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const before = await chartPoints(page, '#chart-acc');
    // Drop the job's stream as a flaky network would: it comes back with ?from=<last cursor>.
    expect(await page.evaluate(() => (window as any).__keiko.detail.stream.drop())).toBe(true);
    await expect.poll(() => page.getAttribute('#detail', 'data-status'), { timeout: 15_000 }).toBe('completed');
    await expect.poll(() => chartPoints(page, '#chart-acc')).toBe(6);
    expect(await chartPoints(page, '#chart-loss')).toBe(6);
    expect(before).toBeLessThan(6);
    const jobSockets = record.sockets.filter((u) => u.includes(`/v1/jobs/${id}/stream`));
    expect(jobSockets.length).toBeGreaterThanOrEqual(2);
    expect(jobSockets[0]).not.toContain('from=');
    expect(jobSockets[1]).toMatch(/[?&]from=\d+-\d+/);
    expect(await page.getAttribute('#detail', 'data-duplicates')).toBe('0');
    // The list caught up over /v1/stream: status and latest test accuracy.
    await expect.poll(() => row.getAttribute('data-status')).toBe('completed');
    expect(await row.locator('.col-acc').textContent()).toMatch(/%$/);
    expect(await page.locator('#dl-weights').getAttribute('href')).toBe(`/v1/models/m-${id}/weights`);
    expect(await page.locator('#dl-onnx').getAttribute('href')).toBe(`/v1/models/m-${id}/onnx`);
    await screenshot(page, 'ui-1-completed');
  });

  it('cancels a running job', async () => {
    await submitFromForm({ name: 'ui-long', epochs: '200' });
    await expect.poll(() => page.getAttribute('#detail', 'data-status')).toBe('active');
    await page.click('#detail-cancel');
    await expect.poll(() => page.getAttribute('#detail', 'data-status')).toBe('cancelled');
    await expect.poll(() => page.locator('tr.job-row').first().getAttribute('data-status')).toBe('cancelled');
    expect(await page.locator('#detail-cancel').isHidden()).toBe(true);
  });

  it('compares two runs on one chart with a legend entry each', async () => {
    await submitFromForm({ name: 'ui-other', epochs: '4', l2: '0' });
    await expect.poll(() => page.getAttribute('#detail', 'data-status'), { timeout: 15_000 }).toBe('completed');
    const completed = page.locator('tr.job-row[data-status="completed"]');
    await expect.poll(() => completed.count()).toBe(2); // the table renders on the next frame
    for (let i = 0; i < 2; i++) await completed.nth(i).locator('.compare-check').check();
    await page.waitForSelector('#compare:not([hidden])');
    await expect.poll(() => page.getAttribute('#compare-chart', 'data-series')).toBe('2');
    await expect.poll(() => chartPoints(page, '#compare-chart')).toBe(6); // epochs 1..6 (the shorter run stops at 4)
    const legend = await page.locator('#compare-chart .u-legend .u-series th').allTextContents();
    expect(legend.slice(1).map((t) => t.trim())).toEqual(['ui-other', 'ui-small']);
    // The summary under the chart: one row per run, with the train − test gap.
    await expect.poll(() => page.locator('#compare-body tr').count()).toBe(2);
    expect(await page.locator('#compare-body tr').first().locator('td').nth(2).textContent()).toBe('4');
    expect(await page.locator('#compare-body tr').nth(1).locator('td').nth(5).textContent()).toMatch(/^-?\d+\.\d pt$/);
    expect(await page.inputValue('#compare-metric')).toBe('testAccuracy');
    await page.selectOption('#compare-metric', 'testLoss');
    await expect.poll(() => page.getAttribute('#compare', 'data-metric')).toBe('testLoss');
    await page.selectOption('#compare-metric', 'testAccuracy');
    await screenshot(page, 'ui-2-compare');
  });

  it('shows API errors next to the field their path names', async () => {
    await submitFromForm({ epochs: '0', batchSize: '0' });
    await expect.poll(() => page.textContent('[data-error-for="training.epochs"]')).toMatch(/>=1/);
    expect(await page.textContent('[data-error-for="training.batchSize"]')).toMatch(/>=1/);
    expect(await page.getAttribute('#job-form [name="epochs"]', 'aria-invalid')).toBe('true');
    await screenshot(page, 'ui-3-form-error');
    // Editing the field clears its error.
    await page.fill('#job-form [name="epochs"]', '3');
    expect(await page.textContent('[data-error-for="training.epochs"]')).toBe('');

    // A nested path from the JSON editor ("model.layers.3.kernelSize") is listed with its path.
    await page.click('#tab-json');
    const spec = {
      dataset: { id: 'mnist' },
      model: { inputShape: [1, 28, 28], layers: [{ type: 'conv2d', filters: 4, kernelSize: 3 }, { type: 'relu' }, { type: 'flatten' }, { type: 'conv2d', filters: 2, kernelSize: 99 }] },
      training: { epochs: 1, batchSize: 10 },
    };
    await page.fill('#json-spec', JSON.stringify(spec, null, 2));
    await page.click('#submit-json');
    await expect.poll(() => page.locator('#json-errors li[data-path="model.layers.3.kernelSize"]').count()).toBe(1);
    await page.fill('#json-spec', '{ not json');
    await page.click('#submit-json');
    await expect.poll(() => page.textContent('#json-errors')).toMatch(/JSON/);
    await page.click('#tab-form');
  });

  it('made no request that left 127.0.0.1 and logged no errors', () => {
    expect(record.requests.length).toBeGreaterThan(5);
    expect(externalRequests(record)).toEqual([]);
    expect(record.errors).toEqual([]);
  });
});

describe('dashboard UI with an API key', () => {
  let svc: FakeService;
  let browser: Browser;

  beforeAll(async () => {
    svc = await startFakeService({ epochMs: 200, batches: 2, apiKey: 'sekret' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('asks for the key, keeps it in localStorage and sends it on HTTP and WebSocket', async () => {
    const { page, record } = await recordedPage(browser, svc.url);
    await page.goto('/');
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', 'sekret');
    await page.click('#key-dialog button[value="save"]');
    await page.waitForSelector('#live[data-state="live"]');
    expect(await page.evaluate(() => localStorage.getItem('keiko.apiKey'))).toBe('sekret');
    expect(record.sockets.some((u) => u.includes('/v1/stream') && u.includes('token=sekret'))).toBe(true);
    await page.fill('#job-form [name="epochs"]', '2');
    await page.click('#submit-form');
    await expect.poll(() => page.getAttribute('#detail', 'data-status'), { timeout: 10_000 }).toBe('completed');
    await expect.poll(() => chartPoints(page, '#chart-acc')).toBe(2);
    // A reload keeps the key: no dialog.
    await page.reload();
    await page.waitForSelector('#live[data-state="live"]');
    expect(await page.locator('#key-dialog[open]').count()).toBe(0);
    expect(externalRequests(record)).toEqual([]);
  });
});

describe('dashboard UI with many jobs', () => {
  let svc: FakeService;
  let browser: Browser;

  beforeAll(async () => {
    svc = await startFakeService({ seedJobs: 130 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('pages older jobs in with ?cursor=, newest first', async () => {
    const { page } = await recordedPage(browser, svc.url);
    await page.goto('/');
    await expect.poll(() => page.locator('tr.job-row').count()).toBe(100);
    expect(await page.locator('tr.job-row').first().getAttribute('data-job-id')).toBe('seed0129');
    expect(await page.textContent('#jobs-count')).toBe('100+');
    await page.click('#jobs-more');
    await expect.poll(() => page.locator('tr.job-row').count()).toBe(130);
    expect(await page.locator('tr.job-row').last().getAttribute('data-job-id')).toBe('seed0000');
    expect(await page.locator('#jobs-more').isHidden()).toBe(true);
    expect(await page.textContent('#jobs-count')).toBe('130');
  });
});
