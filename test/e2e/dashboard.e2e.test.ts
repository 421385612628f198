import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartPoints, externalRequests, launchBrowser, recordedPage, screenshot, type PageRecord } from './browser.ts';
import { serviceEntriesExist, startService, type RunningService } from './service.ts';

/**
 * The dashboard against the REAL service, in Debian's chromium: redis-server (own port), the API process and a
 * training worker. A user submits runs from the form and from the JSON editor, watches the curves grow one point
 * per epoch (and survive a dropped stream), cancels a long run, compares two finished runs, downloads a model,
 * and sees a validation error next to its field. Screenshots of each step go to test-artifacts/.
 */

// The book's SimpleConvNet on 2,000 mnist digits: about a second per epoch here, slow enough to watch.
const EPOCHS = 5;
const SMALL = { dataset: 'mnist', trainSize: '2000', testSize: '500', preset: 'simple_convnet', epochs: String(EPOCHS), batchSize: '100', optimizer: 'adam', learningRate: '0.001' };

describe.skipIf(!serviceEntriesExist())('dashboard end to end (real API, worker and Redis)', () => {
  let svc: RunningService;
  let browser: Browser;
  let page: Page;
  let record: PageRecord;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    svc = await startService();
    browser = await launchBrowser();
    ({ page, record } = await recordedPage(browser, svc.url));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  }, 60_000);

  /** Fill the form (inputs and selects by name) and submit it. */
  async function submitForm(fields: Record<string, string>) {
    await page.click('#tab-form');
    for (const [name, value] of Object.entries(fields)) {
      const sel = `#job-form [name="${name}"]`;
      if ((await page.locator(sel).evaluate((e) => e.tagName)) === 'SELECT') await page.selectOption(sel, value);
      else await page.fill(sel, value);
    }
    await page.click('#submit-form');
  }

  /** The id of the job the detail panel shows once it switched to a new job. */
  async function openedJob(previous?: string): Promise<string> {
    await expect.poll(async () => {
      const id = await page.getAttribute('#detail', 'data-job-id');
      return id && id !== previous ? id : null;
    }, { timeout: 15_000 }).not.toBeNull();
    return (await page.getAttribute('#detail', 'data-job-id'))!;
  }

  const detailStatus = () => page.getAttribute('#detail', 'data-status');
  const rowStatus = (id: string) => page.locator(`tr.job-row[data-job-id="${id}"]`).getAttribute('data-status');

  it('loads the page with the live stream connected', async () => {
    await page.goto('/');
    await page.waitForSelector('#live[data-state="live"]', { timeout: 15_000 });
    await page.waitForSelector('#dataset-select option[value="mnist"]', { state: 'attached' });
    await screenshot(page, 'e2e-0-empty');
    expect(record.sockets.some((u) => new URL(u).pathname === '/v1/stream')).toBe(true);
  });

  it('submits a run from the form and draws one point per epoch as epochs arrive, across a dropped stream', async () => {
    // Record in the page every change of the accuracy chart's point count, and drop the job's stream (as a
    // flaky network would) right after the 2nd epoch is drawn: the page must reconnect with ?from=<last cursor>.
    await page.evaluate(() => {
      const w = window as any;
      const chart = document.getElementById('chart-acc')!;
      w.__pointsLog = [];
      w.__dropped = false;
      new MutationObserver(() => {
        const n = Number(chart.dataset.points);
        if (w.__pointsLog.at(-1) !== n) w.__pointsLog.push(n);
        if (n >= 2 && !w.__dropped) {
          w.__dropped = w.__keiko.detail.stream?.drop() ?? false;
          w.__droppedAt = n;
        }
      }).observe(chart, { attributes: true, attributeFilter: ['data-points'] });
    });
    await submitForm({ ...SMALL, name: 'e2e baseline', l1: '0', l2: '0' });
    const id = await openedJob();
    ids.baseline = id;
    await expect.poll(() => page.locator('tr.job-row').first().getAttribute('data-job-id')).toBe(id); // newest first

    await expect.poll(() => chartPoints(page, '#chart-acc'), { timeout: 120_000 }).toBeGreaterThanOrEqual(2);
    await screenshot(page, 'e2e-1-training');
    await expect.poll(detailStatus, { timeout: 180_000 }).toBe('completed');
    await expect.poll(() => chartPoints(page, '#chart-acc')).toBe(EPOCHS);
    expect(await chartPoints(page, '#chart-loss')).toBe(EPOCHS);

    // While live, one more point per epoch (1, then 2); after the drop the resumed stream brings exactly the
    // epochs missed meanwhile (several at once if the run got ahead), so the curve ends at 1..EPOCHS: no gap, no double.
    const { log, dropped, droppedAt } = await page.evaluate(() => {
      const w = window as any;
      return { log: w.__pointsLog as number[], dropped: w.__dropped as boolean, droppedAt: w.__droppedAt as number };
    });
    expect(dropped, `the stream was dropped mid-run (points log ${JSON.stringify(log)})`).toBe(true);
    const drawn = log.filter((n) => n > 0);
    expect(drawn[0]).toBe(1); // the first epoch is drawn alone
    expect(droppedAt).toBeLessThan(EPOCHS);
    expect(drawn.at(-1)).toBe(EPOCHS);
    for (let i = 1; i < drawn.length; i++) expect(drawn[i]).toBeGreaterThan(drawn[i - 1]!);
    const epochs: number[] = await page.evaluate(() => [...(window as any).__keiko.detail.points.keys()].sort((a: number, b: number) => a - b));
    expect(epochs).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(await page.getAttribute('#detail', 'data-duplicates')).toBe('0');

    const sockets = record.sockets.filter((u) => new URL(u).pathname === `/v1/jobs/${id}/stream`);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    expect(sockets[0]).not.toContain('from=');
    expect(sockets[1]).toMatch(/[?&]from=\d+-\d+/);

    // The list caught up live: completed, latest test accuracy.
    await expect.poll(() => rowStatus(id)).toBe('completed');
    expect(await page.locator(`tr.job-row[data-job-id="${id}"] .col-acc`).textContent()).toMatch(/^\d+\.\d+%$/);
    expect(await page.textContent('#progress-overall')).toBe(`${EPOCHS} / ${EPOCHS} epochs`);
    await screenshot(page, 'e2e-2-completed');
  });

  it('offers the completed model for download (safetensors and ONNX)', async () => {
    const job = await (await fetch(`${svc.url}/v1/jobs/${ids.baseline}`)).json();
    expect(job.modelId).toBeTruthy();
    expect(await page.getAttribute('#dl-weights', 'href')).toBe(`/v1/models/${job.modelId}/weights`);
    expect(await page.getAttribute('#dl-onnx', 'href')).toBe(`/v1/models/${job.modelId}/onnx`);
    const fetched = await page.evaluate(async (hrefs: string[]) => {
      const out = [];
      for (const h of hrefs) {
        const r = await fetch(h);
        const b = new Uint8Array(await r.arrayBuffer());
        out.push({ status: r.status, size: b.length, head: Array.from(b.slice(0, 8)) });
      }
      return out;
    }, [`/v1/models/${job.modelId}/weights`, `/v1/models/${job.modelId}/onnx`]);
    expect(fetched[0]!.status).toBe(200);
    // safetensors: 8-byte little-endian header length, then the JSON header.
    const headerLen = fetched[0]!.head.reduce((acc, byte, i) => acc + byte * 2 ** (8 * i), 0);
    expect(headerLen).toBeGreaterThan(0);
    expect(headerLen).toBeLessThan(fetched[0]!.size);
    expect(fetched[1]!.status).toBe(200);
    expect(fetched[1]!.size).toBeGreaterThan(100);
  });

  it('submits a second run with L2 λ 0.1 (as the course compares)', async () => {
    await submitForm({ ...SMALL, name: 'e2e L2 0.1', l2: '0.1' });
    const id = await openedJob(ids.baseline);
    ids.l2 = id;
    await expect.poll(detailStatus, { timeout: 180_000 }).toBe('completed');
    await expect.poll(() => chartPoints(page, '#chart-acc')).toBe(EPOCHS);
  });

  it('follows a longer run across an API restart, then cancels it and shows it cancelled', async () => {
    await page.click('#tab-form');
    await page.click('#form-to-json');
    const spec = JSON.parse(await page.inputValue('#json-spec'));
    expect(spec.training.epochs).toBe(EPOCHS);
    spec.name = 'e2e long (cancel me)';
    spec.training.epochs = 500;
    await page.fill('#json-spec', JSON.stringify(spec, null, 2));
    await page.click('#submit-json');
    const id = await openedJob(ids.l2);
    ids.long = id;
    await expect.poll(detailStatus, { timeout: 60_000 }).toBe('active');
    await expect.poll(() => chartPoints(page, '#chart-acc'), { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
    await screenshot(page, 'e2e-3-running-long');

    // The API process restarts mid-run (SIGTERM closes the streams with 1001): the page reconnects with
    // ?from=<last cursor> and the curve goes on with no gap and no double point.
    const socketsBefore = record.sockets.length;
    await svc.restartApi();
    const before = await chartPoints(page, '#chart-acc');
    await expect.poll(() => chartPoints(page, '#chart-acc'), { timeout: 60_000 }).toBeGreaterThan(before + 1);
    const epochs: number[] = await page.evaluate(() => [...(window as any).__keiko.detail.points.keys()].sort((a: number, b: number) => a - b));
    expect(epochs).toEqual(epochs.map((_, i) => i + 1)); // 1..n, no gap
    expect(await page.getAttribute('#detail', 'data-duplicates')).toBe('0');
    const resumed = record.sockets.slice(socketsBefore).filter((u) => new URL(u).pathname === `/v1/jobs/${id}/stream`);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(resumed.every((u) => /^\d+-\d+$/.test(new URL(u).searchParams.get('from') ?? ''))).toBe(true);
    await expect.poll(() => page.getAttribute('#live', 'data-state'), { timeout: 30_000 }).toBe('live');

    await page.click('#detail-cancel');
    await expect.poll(detailStatus, { timeout: 60_000 }).toBe('cancelled');
    await expect.poll(() => rowStatus(id)).toBe('cancelled');
    expect(await page.locator('#detail-cancel').isHidden()).toBe(true);
    expect(await page.locator('#dl-weights').isHidden()).toBe(true);
    expect(await chartPoints(page, '#chart-acc')).toBeLessThan(500);
    await screenshot(page, 'e2e-4-cancelled');
  });

  it('compares the two finished runs on one chart with a legend entry each', async () => {
    for (const id of [ids.baseline, ids.l2]) await page.locator(`tr.job-row[data-job-id="${id}"] .compare-check`).check();
    await page.waitForSelector('#compare:not([hidden])');
    expect(await page.inputValue('#compare-metric')).toBe('testAccuracy');
    await expect.poll(() => page.getAttribute('#compare-chart', 'data-series')).toBe('2');
    await expect.poll(() => chartPoints(page, '#compare-chart'), { timeout: 15_000 }).toBe(EPOCHS);
    const legend = (await page.locator('#compare-chart .u-legend .u-series th').allTextContents()).map((t) => t.trim());
    expect(legend.slice(1)).toEqual(['e2e baseline', 'e2e L2 0.1']);
    await page.locator('#compare').scrollIntoViewIfNeeded();
    await screenshot(page, 'e2e-5-compare');
    await page.selectOption('#compare-metric', 'trainLoss');
    await expect.poll(() => page.getAttribute('#compare', 'data-metric')).toBe('trainLoss');
    expect(await chartPoints(page, '#compare-chart')).toBe(EPOCHS);
    await page.selectOption('#compare-metric', 'testAccuracy');
  });

  it('shows a validation error next to the field it names', async () => {
    await submitForm({ epochs: '0' });
    await expect.poll(() => page.textContent('[data-error-for="training.epochs"]')).toMatch(/1/);
    expect(await page.getAttribute('#job-form [name="epochs"]', 'aria-invalid')).toBe('true');
    await page.locator('[data-error-for="training.epochs"]').scrollIntoViewIfNeeded();
    await screenshot(page, 'e2e-6-form-error');

    // A layer's field, named by its index, from the JSON editor.
    await page.click('#tab-json');
    const spec = {
      name: 'bad shapes',
      dataset: { id: 'mnist' },
      model: {
        inputShape: [1, 28, 28],
        layers: [{ type: 'conv2d', filters: 4, kernelSize: 3 }, { type: 'relu' }, { type: 'maxpool2d', poolSize: 2 }, { type: 'conv2d', filters: 2, kernelSize: 99 }, { type: 'flatten' }, { type: 'dense', units: 10 }],
      },
      training: { epochs: 1, batchSize: 10 },
    };
    await page.fill('#json-spec', JSON.stringify(spec, null, 2));
    await page.click('#submit-json');
    await expect.poll(() => page.locator('#json-errors li[data-path="model.layers.3.kernelSize"]').count()).toBe(1);
    await screenshot(page, 'e2e-7-json-error');
    await page.click('#tab-form');
    await page.fill('#job-form [name="epochs"]', String(EPOCHS));
  });

  it('bull-board answers at /admin/queues', async () => {
    const res = await fetch(`${svc.url}/admin/queues`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await admin.goto(`${svc.url}/admin/queues`);
    await admin.waitForLoadState('networkidle');
    await screenshot(admin, 'e2e-8-bull-board');
    await admin.close();
  });

  it('a reload keeps the list, newest first, from GET /v1/jobs', async () => {
    await page.reload();
    await page.waitForSelector('#live[data-state="live"]');
    await expect.poll(() => page.locator('tr.job-row').count()).toBe(3);
    const order = await page.locator('tr.job-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.jobId));
    expect(order).toEqual([ids.long, ids.l2, ids.baseline]);
    const statuses = await page.locator('tr.job-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.status));
    expect(statuses).toEqual(['cancelled', 'completed', 'completed']);
  });

  it('sent no request anywhere but 127.0.0.1 and logged no page errors', () => {
    expect(record.requests.length).toBeGreaterThan(10);
    expect(externalRequests(record)).toEqual([]);
    // Chromium logs each refused reconnection attempt while the API restarted on purpose; nothing else may appear.
    // (and a job check the page makes when a stream keeps failing).
    const expected = [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/v1\/.*' failed: .*ERR_CONNECTION_REFUSED/, /^console: Failed to load resource: net::ERR_CONNECTION_REFUSED$/];
    expect(record.errors.filter((e) => !expected.some((re) => re.test(e)))).toEqual([]);
  });
});
