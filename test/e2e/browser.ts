import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (apt-get install -y chromium); playwright's own download is not reachable here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export const ARTIFACTS = resolve('test-artifacts');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface PageRecord {
  /** Every request URL the page made (HTTP and WebSocket), in order. */
  requests: string[];
  /** WebSocket URLs opened. */
  sockets: string[];
  /** Uncaught page errors and console errors (minus expected HTTP 4xx noise). */
  errors: string[];
}

/** A page that records its requests, sockets and errors. */
export async function recordedPage(browser: Browser, baseUrl: string): Promise<{ page: Page; record: PageRecord }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, baseURL: baseUrl });
  const page = await context.newPage();
  const record: PageRecord = { requests: [], sockets: [], errors: [] };
  page.on('request', (r) => record.requests.push(r.url()));
  page.on('websocket', (ws) => {
    record.sockets.push(ws.url());
    record.requests.push(ws.url());
  });
  page.on('pageerror', (e) => record.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // The browser logs every non-2xx answer; the validation tests cause some on purpose.
    if (/Failed to load resource: the server responded with a status of (400|401|404|409)/.test(text)) return;
    record.errors.push(`console: ${text}`);
  });
  return { page, record };
}

/** Requests that did not go to 127.0.0.1 (data: and blob: URLs never leave the browser). */
export function externalRequests(record: PageRecord): string[] {
  return record.requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    try {
      return new URL(u).hostname !== '127.0.0.1';
    } catch {
      return true;
    }
  });
}

/** The number of epochs a chart container says it draws. */
export async function chartPoints(page: Page, selector: string): Promise<number> {
  return Number(await page.getAttribute(selector, 'data-points'));
}
