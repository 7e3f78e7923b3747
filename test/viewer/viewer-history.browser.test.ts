import { createServer } from 'node:http';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityRecord } from '../../src/schema.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { activityLogsRouter } from '../../adapters/frameworks/express.js';
import { seriousAxeViolations } from './axe.js';
import { CHROMIUM_MISSING, launchChromium, openWatchedPage, screenshotPath, type WatchedPage } from './browser.js';
import { listenNode, type Closer } from '../frameworks/servers.js';

const MINUTE = 60_000;
const TITLE_XSS = '<img src=x onerror=alert(1)>';

/**
 * Recipe 42's life as change capture records it, a version every few minutes over the last
 * two hours: created by Ada in the app, 24 updates alternating between Ada, a psql session
 * (actor `database`) and one the app logged itself, each followed by a view without changes;
 * plus another recipe's versions, which its history must not show.
 */
function seedHistory(now: number): ActivityRecord[] {
  const records: ActivityRecord[] = [];
  let n = 0;
  const id = () => `0195f0e0-0000-7000-8000-${String(++n).padStart(12, '0')}`;
  const start = now - 120 * MINUTE;
  const ada = { type: 'user', id: 'u_1', name: 'Ada' };
  const target = { type: 'recipe', id: '42', name: 'Soup' };
  records.push({
    id: id(),
    occurredAt: new Date(start),
    action: 'recipe.created',
    status: 'success',
    actor: ada,
    target,
    changes: { title: { before: null, after: 'Soup' }, servings: { before: null, after: 1 } },
    metadata: { table: 'recipes', operation: 'insert' },
  });
  for (let i = 1; i <= 24; i++) {
    const at = new Date(start + i * 4 * MINUTE);
    const byDatabase = i % 3 === 1;
    const logged = i % 3 === 2;
    records.push({
      id: id(),
      occurredAt: at,
      action: logged ? 'recipe.update' : 'recipe.updated',
      status: 'success',
      actor: byDatabase ? { type: 'database', id: 'postgres' } : ada,
      target,
      changes: i === 24 ? { title: { before: 'Soup', after: TITLE_XSS } } : { servings: { before: i, after: i + 1 } },
      ...(logged ? {} : { metadata: { table: 'recipes', operation: 'update' } }),
    });
    records.push({ id: id(), occurredAt: new Date(at.getTime() + 1000), action: 'recipe.view', status: 'success', actor: ada, target });
  }
  records.push({ id: id(), occurredAt: new Date(now - 10 * MINUTE), action: 'recipe.updated', status: 'success', actor: ada, target: { type: 'recipe', id: '43', name: 'Stew' }, changes: { title: { before: 'a', after: 'Stew' } }, metadata: { table: 'recipes', operation: 'update' } });
  return records;
}

/**
 * The history view in a real Chromium against an express app with `viewer: true`: opened from
 * a record's detail panel, a timeline of the target's versions with before and after per
 * field and who made each, paged with "Load more", in the zone chosen, and back to the list;
 * at desktop and phone widths, under the page's strict CSP (a violation is a console error).
 */
describe.skipIf(CHROMIUM_MISSING !== undefined)('the viewer: history of a target, in Chromium', () => {
  let activity: ActivityLogger<any>;
  const closers: Closer[] = [];
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    const store = memoryStore();
    activity = createActivityLogger({ store });
    await store.insert(seedHistory(Date.now()));
    const app = express();
    app.use('/admin/logs', activityLogsRouter(activity, { authorize: (req) => req.get('x-role') === 'admin', viewer: true }));
    base = `${await listenNode(createServer(app), closers)}/admin/logs`;
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    for (const close of closers.splice(0)) await close();
    await activity?.close();
  });

  const versions = (page: Page) => page.locator('#history-items > li');
  const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

  /** Opens the list of recipe 42's records, its newest record's detail, and its history. */
  async function openHistory(page: Page) {
    await page.goto(`${base}?targetType=recipe&targetId=42&action=recipe.updated&limit=5`);
    const rows = page.locator('#rows tr');
    await expect.poll(() => rows.count()).toBe(5);
    await rows.first().click();
    const button = page.getByRole('button', { name: 'History of this target' });
    await button.waitFor();
    await button.click();
    await page.waitForURL(/historyType=recipe&historyId=42/);
    await expect.poll(() => versions(page).count()).toBe(20);
  }

  async function checkTimeline(watched: WatchedPage) {
    const { page } = watched;
    expect(await page.locator('#history-title').textContent()).toBe('History of recipe 42');
    expect(await page.locator('#history').isVisible()).toBe(true);
    expect(await page.locator('.table-card').isVisible()).toBe(false);
    expect(await page.locator('.chart-card').isVisible()).toBe(false);

    // Newest first: the title set to markup, by Ada, shown as text.
    const newest = versions(page).first();
    expect(await newest.locator('.version-action').textContent()).toBe('recipe.updated');
    expect(await newest.locator('.op').textContent()).toBe('update');
    expect(await newest.locator('.version-by').textContent()).toBe('by Ada · user · u_1');
    expect(await newest.locator('table.changes td').allTextContents()).toEqual(['title', '"Soup"', JSON.stringify(TITLE_XSS)]);
    expect(await page.locator('img').count()).toBe(0);

    // A write made in psql: the database, as such, with its user.
    const byDatabase = versions(page).nth(2);
    expect(await byDatabase.locator('.version-by').textContent()).toBe('by database (user postgres)');
    expect(await byDatabase.locator('table.changes td').allTextContents()).toEqual(['servings', '22', '23']);
    // One the app logged itself: no operation, still a version.
    const logged = versions(page).nth(1);
    expect(await logged.locator('.version-action').textContent()).toBe('recipe.update');
    expect(await logged.locator('.op').count()).toBe(0);

    // Load more: the rest, down to the insert; then no more to load.
    expect(await page.locator('#history-count').textContent()).toBe('20 versions so far');
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => versions(page).count()).toBe(25);
    expect(await page.locator('#history-more').isVisible()).toBe(false);
    expect(await page.locator('#history-count').textContent()).toBe('25 versions');
    const oldest = versions(page).last();
    expect(await oldest.locator('.op').textContent()).toBe('insert');
    expect(await oldest.locator('table.changes td').allTextContents()).toEqual(['title', 'null', '"Soup"', 'servings', 'null', '1']);
    // Another recipe's versions and the views between are not there.
    expect(await page.locator('#history-items').textContent()).not.toContain('Stew');
    expect(await page.locator('#history-items').textContent()).not.toContain('recipe.view');
    expect(await noHorizontalScroll(page)).toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);
  }

  it('opens from the detail panel: versions with before and after and who made each, paged, at desktop width', async () => {
    const watched = await openWatchedPage(browser, { extraHTTPHeaders: { 'x-role': 'admin' }, timezoneId: 'Asia/Kolkata' });
    const { page } = watched;
    try {
      await openHistory(page);
      await checkTimeline(watched);
      await page.screenshot({ path: screenshotPath('viewer-history-desktop.png'), fullPage: true });

      // Times in the zone chosen: local (IST) first, then UTC, the history still open.
      expect(await versions(page).first().locator('time .tz').textContent()).toBe('GMT+5:30');
      await page.selectOption('#f-tz', 'utc');
      await page.waitForURL(/tz=utc/);
      expect(new URL(page.url()).searchParams.get('historyId')).toBe('42');
      await expect.poll(() => versions(page).first().locator('time .tz').textContent()).toBe('UTC');
      expect(await page.locator('#history-caption').textContent()).toBe('newest first, times in UTC');

      // Back to the list, as it was.
      await page.getByRole('button', { name: /Back to the list/ }).click();
      await expect.poll(() => page.locator('.table-card').isVisible()).toBe(true);
      expect(new URL(page.url()).searchParams.get('historyType')).toBeNull();
      expect(await page.locator('#history').isVisible()).toBe(false);
      await expect.poll(() => page.locator('#rows tr').count()).toBe(5);
      expect(watched.dialogs).toEqual([]);
      expect(watched.problems).toEqual([]);
    } finally {
      await watched.context.close();
    }
  }, 60_000);

  it('works at phone width: from the sheet to the timeline, with no horizontal scroll, and back with the browser', async () => {
    const watched = await openWatchedPage(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, extraHTTPHeaders: { 'x-role': 'admin' } });
    const { page } = watched;
    try {
      await openHistory(page);
      // The detail sheet is closed: the timeline is what shows.
      expect(await page.locator('#detail').isVisible()).toBe(false);
      await checkTimeline(watched);
      // Each version's table fits the screen.
      const widest = await page.locator('.version table.changes').evaluateAll((tables) => Math.max(...tables.map((table) => table.getBoundingClientRect().right)));
      expect(widest).toBeLessThanOrEqual(375);
      await page.screenshot({ path: screenshotPath('viewer-history-phone.png'), fullPage: true });
      await page.goBack();
      await expect.poll(() => page.locator('.table-card').isVisible()).toBe(true);
      expect(await page.locator('#history').isVisible()).toBe(false);
      expect(watched.dialogs).toEqual([]);
      expect(watched.problems).toEqual([]);
    } finally {
      await watched.context.close();
    }
  }, 60_000);
});
