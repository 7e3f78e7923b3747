import { createServer } from 'node:http';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { activityLogsRouter } from '../../adapters/frameworks/express.js';
import { CHROMIUM_MISSING, launchChromium, openWatchedPage, screenshotPath } from './browser.js';
import { listenNode, type Closer } from '../frameworks/servers.js';
import { seedRecipeEvents, XSS_TITLE } from './seed.js';

/**
 * The viewer in a real headless Chromium, against an express app on 127.0.0.1 whose admin
 * mount has `viewer: true`. The page is opened with `action=recipe.*` where paging must be
 * stable, because the viewer's own reads are recorded (as `activity.view`) in the same log.
 */
describe.skipIf(CHROMIUM_MISSING !== undefined)('the activity logs viewer in Chromium', () => {
  let activity: ActivityLogger<any>;
  const closers: Closer[] = [];
  let base: string;
  let browser: Browser;
  let page: Page;
  let seeded: { failures: number; total: number };
  let dialogs: string[] = [];
  let problems: string[] = [];

  beforeAll(async () => {
    activity = createActivityLogger({ store: memoryStore() });
    seeded = await seedRecipeEvents(activity);
    const app = express();
    app.use('/admin/logs', activityLogsRouter(activity, { authorize: (req) => req.get('x-role') === 'admin', viewer: true }));
    base = `${await listenNode(createServer(app), closers)}/admin/logs`;

    browser = await launchChromium();
    // Dialogs, page and console errors (a CSP violation is one) and outside requests are collected.
    ({ page, dialogs, problems } = await openWatchedPage(browser, { extraHTTPHeaders: { 'x-role': 'admin' } }));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    for (const close of closers.splice(0)) await close();
    await activity?.close();
  });

  const rows = () => page.locator('#rows tr');
  const firstRowId = () => rows().first().getAttribute('data-id');

  it('shows the events in a table, with status badges and the chart', async () => {
    await page.goto(`${base}?limit=5&action=recipe.*`);
    await expect.poll(() => rows().count()).toBe(5);
    await expect.poll(() => page.locator('#rows .badge').count()).toBe(5);
    expect(await page.locator('#page-label').textContent()).toBe('Page 1');
    await page.locator('#chart svg').waitFor();
    expect(await page.locator('#chart svg rect.seg-success').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart svg rect.seg-failure').count()).toBeGreaterThan(0);
    expect(await page.locator('#legend').textContent()).toContain(`failure ${seeded.failures}`);
  });

  it('shows a recipe titled with markup as text: no element made from it, no alert', async () => {
    const cell = page.getByText(XSS_TITLE, { exact: true });
    await expect.poll(() => cell.count()).toBe(1);
    expect(await cell.isVisible()).toBe(true);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    expect(dialogs).toEqual([]);
  });

  it('opens the detail panel with metadata, changes and context', async () => {
    await rows().filter({ hasText: XSS_TITLE }).click();
    const detail = page.locator('#detail-body');
    await expect.poll(() => detail.locator('pre.json').count()).toBeGreaterThanOrEqual(2);
    const text = (await detail.textContent()) ?? '';
    expect(text).toContain('Metadata');
    expect(text).toContain('"note": "<script>alert(2)</script>"');
    expect(text).toContain('Changes');
    expect(await detail.locator('table.changes td').allTextContents()).toEqual(['title', '"Plain toast"', JSON.stringify(XSS_TITLE)]);
    expect(text).toContain('Context');
    expect(text).toContain('"requestId": "req-xss"');
    expect(text).toContain('"ip": "198.51.100.23"');
    expect(await page.locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('pages forward with the cursor and back to the same first row', async () => {
    const first = await firstRowId();
    await page.click('#next');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 2');
    await expect.poll(() => firstRowId()).not.toBe(first);
    const second = await firstRowId();
    await page.click('#next');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 3');
    await expect.poll(() => firstRowId()).not.toBe(second);
    expect(await rows().count()).toBe(seeded.total - 10);
    expect(await page.locator('#next').isDisabled()).toBe(true);
    await page.click('#prev');
    await expect.poll(() => firstRowId()).toBe(second);
    await page.click('#prev');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 1');
    await expect.poll(() => firstRowId()).toBe(first);
    expect(await page.locator('#prev').isDisabled()).toBe(true);
  });

  it('filters by status, puts the filter in the URL and resets paging', async () => {
    await page.click('#next');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 2');
    await page.selectOption('#f-status', 'failure');
    await page.click('#filters button[type=submit]');
    await page.waitForURL(/status=failure/);
    expect(new URL(page.url()).searchParams.get('action')).toBe('recipe.*');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 1');
    await expect.poll(() => page.locator('#rows .badge').allTextContents()).toEqual(Array(seeded.failures).fill('failure'));
    await expect.poll(() => page.locator('#chart svg rect.seg-success').count()).toBe(0);
    expect(await page.locator('#chart svg rect.seg-failure').count()).toBeGreaterThan(0);

    // The failure with an error shows it in the detail panel.
    await rows().filter({ hasText: 'Pad thai' }).click();
    await expect.poll(() => page.locator('#detail-body .error-box').textContent()).toBe('Error (E_DUPLICATE): title already taken');

    // A linked view opens filtered; the back button returns to the unfiltered one.
    await page.goBack();
    await expect.poll(() => page.locator('#f-status').inputValue()).toBe('');
    await expect.poll(() => rows().count()).toBe(5);
  });

  it('shows no secret of a record, by key or by shape, in the table or the detail panel', async () => {
    const secrets = ['Zq7Secret1Bearer', 'Zq7Secret2Param', 'Zq7Secret3Key', 'Zq7Secret4Thrown', 'Zq7Secret5Url'];
    activity.log({
      id: 'with-secrets',
      action: 'secret.shown',
      actor: { type: 'user', id: 'u_sec', name: `Authorization: Bearer ${secrets[0]}` },
      metadata: { callback: `https://app.example/cb?access_token=${secrets[1]}&ok=1`, nested: { apiKey: secrets[2] }, dsn: `postgres://app:${secrets[4]}@db/app` },
      error: { password: secrets[3], user: 'bob' },
      context: { requestId: 'req-secrets' },
    });
    await activity.flush();
    await page.goto(`${base}?action=secret.*`);
    await expect.poll(() => rows().count()).toBe(1);
    await rows().first().click();
    await expect.poll(() => page.locator('#detail-body pre.json').count()).toBeGreaterThanOrEqual(1);
    const shown = `${await page.locator('body').innerText()}\n${await page.content()}`;
    for (const secret of secrets) expect(shown).not.toContain(secret);
    expect(shown).toContain('[REDACTED]');
    expect(shown).toContain('ok=1');
  });

  it('looks right (screenshot in test-results/viewer.png), with no CSP violation or outside request', async () => {
    await page.goto(`${base}?action=recipe.*`);
    await expect.poll(() => rows().count()).toBe(seeded.total);
    await page.locator('#chart svg').waitFor();
    await rows().filter({ hasText: XSS_TITLE }).click();
    await page.locator('#detail-body table.changes').waitFor();
    await page.screenshot({ path: screenshotPath('viewer.png'), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });
});
