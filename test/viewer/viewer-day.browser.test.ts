import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { activityLogsRouter, activityMiddleware } from '../../adapters/frameworks/express.js';
import { seriousAxeViolations } from './axe.js';
import { CHROMIUM_MISSING, launchChromium, openWatchedPage, screenshotPath, type WatchedPage } from './browser.js';
import { listenNode, type Closer } from '../frameworks/servers.js';
import { seedRealisticDay, type RealisticDay } from './seed-real.js';

/**
 * The Activity Logs page as an admin uses it (issue 18): a day of traffic with real ids, on a
 * desktop (1280×800, browser in Asia/Kolkata, a half-hour zone) and on a phone (375×812),
 * in real Chromium against an express app on 127.0.0.1 whose own reads are recorded.
 */
describe.skipIf(CHROMIUM_MISSING !== undefined)('the activity logs viewer across a day, on a desktop and a phone', () => {
  let activity: ActivityLogger<any>;
  const closers: Closer[] = [];
  let base: string;
  let browser: Browser;
  let day: RealisticDay;

  beforeAll(async () => {
    activity = createActivityLogger({ store: memoryStore() });
    day = await seedRealisticDay(activity);
    const app = express();
    app.use(activityMiddleware(activity, { actor: (req) => (req.get('x-role') === 'admin' ? { type: 'admin', id: 'root', name: 'Root' } : undefined) }));
    app.use('/admin/logs', activityLogsRouter(activity, { authorize: (req) => req.get('x-role') === 'admin', viewer: true }));
    base = `${await listenNode(createServer(app), closers)}/admin/logs`;
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    for (const close of closers.splice(0)) await close();
    await activity?.close();
  });

  const ownReads = async () => {
    await activity.flush();
    return (await activity.query({ action: 'activity.*', limit: 500 })).items;
  };
  const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  const rows = (page: Page) => page.locator('#rows tr');
  const pageLabel = (page: Page) => page.locator('#page-label').textContent();

  describe('on a desktop (1280×800, Asia/Kolkata)', () => {
    let watched: WatchedPage;
    let page: Page;

    beforeAll(async () => {
      watched = await openWatchedPage(browser, { viewport: { width: 1280, height: 800 }, timezoneId: 'Asia/Kolkata', extraHTTPHeaders: { 'x-role': 'admin' } });
      page = watched.page;
      await watched.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
    });
    afterAll(() => watched?.context.close());

    it('records one activity.view per page view, and hides the log’s own reads by default', async () => {
      const before = (await ownReads()).length;
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      await page.locator('#chart svg').waitFor();
      const after = await ownReads();
      expect(after.length - before).toBe(1);
      expect(after[0]).toMatchObject({ action: 'activity.view', actor: { id: 'root' }, metadata: { view: 'page' } });
      // Reload twice more: two more page views, none of them in the list.
      await page.reload();
      await page.reload();
      await expect.poll(async () => (await ownReads()).length - before).toBe(3);
      await expect.poll(() => rows(page).count()).toBe(50);
      expect(await page.locator('#rows').textContent()).not.toContain('activity.');
      expect(await page.locator('#f-reads').isChecked()).toBe(true);
      // Unticked, they show; filtering on activity.* shows them whatever the toggle says.
      await page.locator('#f-reads').uncheck();
      await page.waitForURL(/reads=show/);
      await expect.poll(() => rows(page).first().textContent()).toContain('activity.view');
      await page.locator('#f-reads').check();
      await page.fill('#f-action', 'activity.*');
      await page.click('#filters button[type=submit]');
      await page.waitForURL(/action=activity/);
      // Polled: the previous list stays until the new one arrives.
      await expect.poll(async () => new Set(await page.locator('#rows .col-action .primary-text').allTextContents())).toEqual(new Set(['activity.view']));
      expect(await rows(page).count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator('#f-reads').isDisabled()).toBe(true);
    });

    it('shows names before shortened ids, the whole id on hover and on focus, and the route and status code of http rows', async () => {
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      const first = rows(page).first(); // the newest: http.patch of request 29
      expect(await first.locator('.col-action').textContent()).toBe('http.patchPATCH /recipes/:id · 200');
      const created = rows(page).filter({ hasText: 'recipe.create' }).first();
      const actor = created.locator('.col-actor');
      expect(await actor.locator('.primary-text').textContent()).toBe(day.user.name);
      const shown = await actor.locator('.secondary-text').textContent();
      expect(shown).toMatch(/^user · [0-9a-f]{4}…[0-9a-f]{4}$/);
      expect(shown).not.toContain(day.user.id);
      expect(await actor.locator('.id').getAttribute('title')).toBe(day.user.id);
      // Focus (Tab, or a tap) shows the whole id in a popover, as hovering does.
      const listId = actor.locator('.id');
      const popover = () => listId.evaluate((node) => getComputedStyle(node, '::after').content);
      expect(await popover()).toBe('none');
      await listId.focus();
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-full'))).toBe(day.user.id);
      expect(await popover()).toBe(JSON.stringify(day.user.id));
      // Enter there opens the row's detail, where the id has its Copy button.
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#detail-body').getByRole('button', { name: 'Copy actor id' }).count()).toBe(1);
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('#detail').evaluate((node) => node.classList.contains('open'))).toBe(false);
      expect(await created.locator('.col-target .primary-text').textContent()).toBe(day.recipe.name);
      // Short ids keep rows short: at least eight fit in the 800 px window.
      const heights = await rows(page).evaluateAll((all) => all.slice(0, 10).map((row) => row.getBoundingClientRect().height));
      expect(Math.max(...heights)).toBeLessThan(80);
    });

    it('opens the detail with a copy button, the whole id on focus (a popover), "This request", and closes on Escape', async () => {
      const created = rows(page).filter({ hasText: 'recipe.create' }).first();
      await created.click();
      const detail = page.locator('#detail-body');
      await detail.locator('text=Request id').waitFor();
      const idField = detail.locator('.id.full-on-focus').first();
      const recordId = (await idField.getAttribute('title'))!;
      expect(await idField.textContent()).not.toBe(recordId);
      const popover = () => idField.evaluate((node) => getComputedStyle(node, '::after').content);
      expect(await popover()).toBe('none');
      await idField.focus();
      expect(await popover()).toBe(JSON.stringify(recordId));
      await detail.getByRole('button', { name: 'Copy record id' }).click();
      await expect.poll(() => detail.getByRole('button', { name: 'Copy record id' }).textContent()).toBe('Copied');
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(recordId);
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('#detail').evaluate((node) => node.classList.contains('open'))).toBe(false);
      expect(await detail.textContent()).toContain('Select an event');
      // Focus returns to the row.
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('TR');

      await created.click();
      await detail.getByRole('button', { name: 'This request' }).click();
      await page.waitForURL(/requestId=/);
      await expect.poll(() => rows(page).count()).toBe(2);
      expect(await page.locator('#rows .col-action .primary-text').allTextContents()).toEqual(['http.post', 'recipe.create']);
      expect(await page.locator('#f-requestId').inputValue()).toBe(day.request.requestId);
    });

    it('"This request" and "This trace" from a filtered list show every record of the request, not only those the filters let through', async () => {
      // Found by the acceptance review of #18: the button added requestId to the list's filters,
      // so from "action: recipe.*" (or a status, a search) it showed the one row already seen.
      for (const [button, param, value] of [
        ['This request', 'requestId', day.request.requestId],
        ['This trace', 'traceId', day.request.traceId],
      ] as const) {
        await page.goto(`${base}?action=recipe.*&search=${encodeURIComponent(day.recipe.name)}&actorType=user`);
        const created = rows(page).filter({ hasText: 'recipe.create' }).first();
        await expect.poll(() => created.count()).toBe(1);
        await created.click();
        await page.locator('#detail-body').getByRole('button', { name: button }).click();
        await page.waitForURL(new RegExp(`${param}=`));
        await expect.poll(async () => (await page.locator('#rows .col-action .primary-text').allTextContents()).sort()).toEqual(['http.post', 'recipe.create']);
        const url = new URL(page.url());
        expect(url.searchParams.get(param)).toBe(value);
        for (const gone of ['action', 'search', 'actorType']) expect(url.searchParams.has(gone)).toBe(false);
        // The dates stay: the request is inside the range it was found in.
        expect(url.searchParams.get('from')).not.toBeNull();
      }
    });

    it('opens on the last 7 days (From filled in, in the URL), and reads every time only when both dates are emptied', async () => {
      const froms: (string | null)[] = [];
      const listen = (request: { url(): string }) => {
        const url = new URL(request.url());
        if (url.searchParams.has('summary')) froms.push(url.searchParams.get('from'));
      };
      page.on('request', listen);
      try {
        await page.goto(base);
        await expect.poll(() => rows(page).count()).toBe(50);
        // Six days before today, from midnight in the browser's zone (Asia/Kolkata, +05:30).
        const today = new Date(Date.now() + 5.5 * 3_600_000);
        const start = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 6) - 5.5 * 3_600_000);
        expect(new URL(page.url()).searchParams.get('from')).toBe(start.toISOString());
        expect(froms.at(-1)).toBe(start.toISOString());
        expect(await page.locator('#f-from').inputValue()).toBe(new Date(start.getTime() + 5.5 * 3_600_000).toISOString().slice(0, 10));
        expect(await page.locator('#range-note').isVisible()).toBe(true);
        await page.fill('#f-from', '');
        await page.click('#filters button[type=submit]');
        await page.waitForURL(/range=all/);
        await expect.poll(() => froms.at(-1)).toBeNull();
        expect(new URL(page.url()).searchParams.get('from')).toBeNull();
        await page.reload();
        await expect.poll(() => rows(page).count()).toBe(50);
        expect(await page.locator('#f-from').inputValue()).toBe('');
        await page.click('#clear');
        await expect.poll(() => new URL(page.url()).searchParams.get('from')).toBe(start.toISOString());
      } finally {
        page.off('request', listen);
      }
    });

    it('filters by trace id and by free text, from the form', async () => {
      await page.goto(base);
      await page.fill('#f-traceId', day.request.traceId);
      await page.click('#filters button[type=submit]');
      await page.waitForURL(/traceId=/);
      await expect.poll(() => rows(page).count()).toBe(2);
      await page.goto(base);
      await page.fill('#f-search', 'PASTA');
      await page.click('#filters button[type=submit]');
      await page.waitForURL(/search=PASTA/);
      await expect.poll(() => rows(page).count()).toBe(6);
      expect(new Set(await page.locator('#rows .col-target .primary-text').allTextContents())).toEqual(new Set(['Pasta al forno']));
    });

    it('labels every time with its zone, and switches between local and UTC, the chart with it', async () => {
      const summaryTz: string[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.searchParams.get('summary') === 'auto') summaryTz.push(url.searchParams.get('tz') ?? '');
      });
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      expect(new Set(await page.locator('#rows .tz').allTextContents())).toEqual(new Set(['GMT+5:30']));
      // Chromium names the zone by its older alias, Asia/Calcutta: the same zone.
      expect(await page.locator('#chart-caption').textContent()).toMatch(/^per (hour|day) \(Asia\/(Kolkata|Calcutta)\)/);
      expect(await page.locator('thead th').first().textContent()).toMatch(/^Time \(Asia\/(Kolkata|Calcutta)\)$/);
      const localText = await rows(page).first().locator('time').textContent();
      await page.selectOption('#f-tz', 'utc');
      await page.waitForURL(/tz=utc/);
      await expect.poll(() => page.locator('#chart-caption').textContent()).toMatch(/^per (hour|day) \(UTC\)/);
      expect(new Set(await page.locator('#rows .tz').allTextContents())).toEqual(new Set(['UTC']));
      const utcText = await rows(page).first().locator('time').textContent();
      const iso = (await rows(page).first().locator('time').getAttribute('datetime'))!;
      expect(utcText).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`);
      expect(localText).not.toBe(utcText);
      expect(summaryTz).toEqual([expect.stringMatching(/^Asia\/(Kolkata|Calcutta)$/), 'UTC']);
      await page.selectOption('#f-tz', 'local');
    });

    it('keeps the page position in the URL: reload stays on page 2, Back goes to page 1, then to the previous filters', async () => {
      await page.goto(`${base}?limit=10&action=recipe.*`);
      await expect.poll(() => rows(page).count()).toBe(10);
      await page.selectOption('#f-status', 'success');
      await page.click('#filters button[type=submit]');
      await page.waitForURL(/status=success/);
      await expect.poll(() => page.locator('#rows .badge').allTextContents()).toEqual(Array(10).fill('success'));
      const first = await rows(page).first().getAttribute('data-id');
      await page.click('#next');
      await page.waitForURL(/cursors=/);
      await expect.poll(() => pageLabel(page)).toBe('Page 2');
      const second = await rows(page).first().getAttribute('data-id');
      expect(second).not.toBe(first);
      await page.click('#next');
      await expect.poll(() => pageLabel(page)).toBe('Page 3');
      await page.reload();
      await expect.poll(() => pageLabel(page)).toBe('Page 3');
      await page.goBack();
      await expect.poll(() => pageLabel(page)).toBe('Page 2');
      await expect.poll(() => rows(page).first().getAttribute('data-id')).toBe(second);
      await page.goBack();
      await expect.poll(() => pageLabel(page)).toBe('Page 1');
      await expect.poll(() => rows(page).first().getAttribute('data-id')).toBe(first);
      await page.goBack();
      await expect.poll(() => page.locator('#f-status').inputValue()).toBe('');
      expect(await page.locator('#f-action').inputValue()).toBe('recipe.*');
      expect(await pageLabel(page)).toBe('Page 1');
    });

    it('says what is wrong with a From after To, and does not search', async () => {
      await page.goto(base);
      const url = page.url();
      await page.fill('#f-from', '2026-03-10');
      await page.fill('#f-to', '2026-03-02');
      await page.click('#filters button[type=submit]');
      const message = page.locator('#range-error');
      await expect.poll(() => message.isVisible()).toBe(true);
      expect(await message.textContent()).toContain('"From" (2026-03-10) is after "To" (2026-03-02)');
      expect(await page.locator('#f-from').getAttribute('aria-invalid')).toBe('true');
      expect(page.url()).toBe(url);
      await page.fill('#f-to', '2026-03-12');
      await page.click('#filters button[type=submit]');
      await expect.poll(() => message.isVisible()).toBe(false);
    });

    it('moves through rows with the arrow keys and opens one with Enter', async () => {
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      await rows(page).first().focus();
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      const focused = await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id);
      expect(focused).toBe(await rows(page).nth(2).getAttribute('data-id'));
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#rows tr.selected').getAttribute('data-id')).toBe(await rows(page).nth(1).getAttribute('data-id'));
      await page.keyboard.press('End');
      expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id)).toBe(await rows(page).last().getAttribute('data-id'));
    });

    it('has no serious or critical axe violation, no horizontal scroll, and looks right (test-results/viewer-desktop.png)', async () => {
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      await page.locator('#chart svg').waitFor();
      await rows(page).filter({ hasText: 'recipe.update' }).first().click();
      await page.locator('#detail-body table.changes').waitFor();
      expect(await noHorizontalScroll(page)).toBe(true);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.screenshot({ path: screenshotPath('viewer-desktop.png') });
      expect(watched.dialogs).toEqual([]);
      expect(watched.problems).toEqual([]);
    }, 90_000);
  });

  it('at a tablet width (900 px) opens the detail as a side sheet over the list, with no horizontal scroll', async () => {
    const watched = await openWatchedPage(browser, { viewport: { width: 900, height: 800 }, extraHTTPHeaders: { 'x-role': 'admin' } });
    try {
      const { page } = watched;
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      expect(await page.locator('#detail').isVisible()).toBe(false);
      await rows(page).nth(3).click();
      await expect.poll(() => page.locator('#detail').isVisible()).toBe(true);
      const box = (await page.locator('#detail').boundingBox())!;
      expect(box.y).toBe(0);
      expect(box.x + box.width).toBe(900);
      expect(await noHorizontalScroll(page)).toBe(true);
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('#detail').isVisible()).toBe(false);
      expect(watched.problems).toEqual([]);
    } finally {
      await watched.context.close();
    }
  });

  it('keeps a refused attempt to read the log in the list while "Hide the log\'s own reads" is on', async () => {
    const logger = createActivityLogger({ store: memoryStore() });
    logger.log({ action: 'recipe.create', actor: { type: 'user', id: 'u_1', name: 'Ada' } });
    await logger.flush();
    const app = express();
    app.use('/admin/logs', activityLogsRouter(logger, { authorize: (req) => req.get('x-role') === 'admin', viewer: true }));
    const own = createServer(app);
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(own.address() as AddressInfo).port}/admin/logs`;
    const watched = await openWatchedPage(browser, { viewport: { width: 1280, height: 800 }, extraHTTPHeaders: { 'x-role': 'admin' } });
    try {
      // Someone without the role tries the API: refused, and recorded as a denied activity.query.
      expect((await fetch(`${url}?limit=5`, { headers: { accept: 'application/json' } })).status).toBe(403);
      // Stored before the page reads the list (the logger flushes on its own interval otherwise).
      await logger.flush();
      const { page } = watched;
      await page.goto(url);
      await expect.poll(() => rows(page).count()).toBe(2);
      expect(await page.locator('#f-reads').isChecked()).toBe(true);
      expect(await page.locator('#rows .col-action .primary-text').allTextContents()).toEqual(['activity.query', 'recipe.create']);
      expect(await rows(page).first().locator('.badge').textContent()).toBe('denied');
      // The admin's own page view (a success) stays hidden: reload, still two rows.
      await page.reload();
      await expect.poll(() => rows(page).count()).toBe(2);
      expect(watched.problems).toEqual([]);
    } finally {
      await watched.context.close();
      own.closeAllConnections();
      await new Promise<void>((resolve) => own.close(() => resolve()));
      await logger.close();
    }
  });

  it('draws every hour of a half-hour DST change (Australia/Lord_Howe), the empty one included; in UTC with a note when the server does not know the zone', async () => {
    // Lord Howe goes from +11 to +10:30 at 02:00 local on 2026-04-05 (15:00Z): its local hours
    // start at 14:00Z, 14:30Z (the second 01:00), 15:30Z, 16:30Z, 17:30Z.
    const logger = createActivityLogger({ store: memoryStore() });
    for (const iso of ['2026-04-04T14:10:00Z', '2026-04-04T15:10:00Z', '2026-04-04T15:40:00Z', '2026-04-04T17:40:00Z']) {
      logger.log({ action: 'clock.tick', actor: { type: 'system', id: 'clock' }, occurredAt: new Date(iso) });
    }
    await logger.flush();
    const app = express();
    app.use('/admin/logs', activityLogsRouter(logger, { authorize: () => true, viewer: true }));
    const lordHowe = createServer(app);
    await new Promise<void>((resolve) => lordHowe.listen(0, '127.0.0.1', resolve));
    const watched = await openWatchedPage(browser, { viewport: { width: 1280, height: 800 }, timezoneId: 'Australia/Lord_Howe' });
    try {
      const { page } = watched;
      const url = `http://127.0.0.1:${(lordHowe.address() as AddressInfo).port}/admin/logs?action=clock.*&from=2026-04-04T12:00:00.000Z&to=2026-04-04T19:00:00.000Z`;
      await page.goto(url);
      await page.locator('#chart svg').waitFor();
      expect(await page.locator('#chart-caption').textContent()).toBe('per hour (Australia/Lord_Howe)');
      expect(await page.locator('#chart svg g.bar title').allTextContents()).toEqual([
        '2026-04-05 01:00: 1 success, 0 failure, 0 denied',
        '2026-04-05 01:00: 1 success, 0 failure, 0 denied',
        '2026-04-05 02:00: 1 success, 0 failure, 0 denied',
        '2026-04-05 03:00: 0 success, 0 failure, 0 denied',
        '2026-04-05 04:00: 1 success, 0 failure, 0 denied',
      ]);
      expect(watched.problems).toEqual([]);
      // The second 01:00 is keyed 14:30Z, but its records are from 15:00Z (where the first ends).
      await page.locator('#chart svg g.bar').nth(1).click();
      await page.waitForURL(/from=2026-04-04T15%3A00%3A00.000Z&to=2026-04-04T15%3A30%3A00.000Z/);
      await expect.poll(() => rows(page).count()).toBe(1);
      expect(await rows(page).first().locator('time').getAttribute('datetime')).toBe('2026-04-04T15:10:00.000Z');
      await page.goto(url);
      await page.locator('#chart svg').waitFor();
      // A browser zone this server's Intl does not know: the list still shows, the chart in UTC.
      await page.route(/summary=/, (route) => {
        const rewritten = new URL(route.request().url());
        rewritten.searchParams.set('tz', 'Mars/Olympus');
        return route.continue({ url: rewritten.toString() });
      });
      await page.reload();
      await expect.poll(() => page.locator('#chart-caption').textContent()).toBe('per hour (UTC) — the time zone "Mars/Olympus" is unknown to the server: the chart is in UTC');
      expect(await rows(page).count()).toBe(4);
    } finally {
      await watched.context.close();
      lordHowe.closeAllConnections();
      await new Promise<void>((resolve) => lordHowe.close(() => resolve()));
      await logger.close();
    }
  });

  describe('on a phone (375×812)', () => {
    let watched: WatchedPage;
    let page: Page;

    beforeAll(async () => {
      watched = await openWatchedPage(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, extraHTTPHeaders: { 'x-role': 'admin' } });
      page = watched.page;
    });
    afterAll(() => watched?.context.close());

    it('shows each record as a card with time, actor, action, target and status, with no horizontal scroll', async () => {
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      await page.locator('#chart svg').waitFor();
      expect(await noHorizontalScroll(page)).toBe(true);
      // The list comes first: past the search, filters wait behind "More filters".
      expect(await page.locator('#f-actorId').isVisible()).toBe(false);
      const firstCard = (await rows(page).first().boundingBox())!;
      expect(firstCard.y).toBeLessThan(812);
      await page.locator('#more-filters').tap();
      expect(await page.locator('#f-actorId').isVisible()).toBe(true);
      expect(await page.locator('#more-filters').getAttribute('aria-expanded')).toBe('true');
      await page.locator('#more-filters').tap();
      expect(await page.locator('#f-actorId').isVisible()).toBe(false);
            // The header row is for screen readers only.
      expect((await page.locator('thead').boundingBox())!.height).toBeLessThanOrEqual(1);
      const card = rows(page).filter({ hasText: 'recipe.create' }).first();
      for (const part of ['.col-time', '.col-actor', '.col-action', '.col-target', '.col-status .badge']) {
        const box = (await card.locator(part).boundingBox())!;
        expect({ part, inside: box.x >= 0 && box.x + box.width <= 375 }).toEqual({ part, inside: true });
      }
      // No word broken every few characters: the actor's name is on one line.
      const nameBox = (await card.locator('.col-actor .primary-text').boundingBox())!;
      expect(nameBox.height).toBeLessThan(30);
      // A card's shortened id shows its whole value on focus, inside the screen.
      const cardId = card.locator('.col-actor .id');
      await cardId.focus();
      expect(await cardId.evaluate((node) => getComputedStyle(node, '::after').content)).toBe(JSON.stringify(day.user.id));
      expect(await noHorizontalScroll(page)).toBe(true);
      await cardId.blur();
      // The chart fits its card, and the legend wraps inside it.
      const cardBox = (await page.locator('.chart-card').boundingBox())!;
      for (const part of ['#chart svg', '#legend']) {
        const box = (await page.locator(part).boundingBox())!;
        expect({ part, inside: box.x >= cardBox.x && box.x + box.width <= cardBox.x + cardBox.width }).toEqual({ part, inside: true });
      }
    });

    it('opens the detail as a full-screen sheet on a tap, focused on its close button, and closes it', async () => {
      const card = rows(page).filter({ hasText: 'recipe.update' }).first();
      await card.tap();
      const sheet = page.locator('#detail');
      await expect.poll(() => sheet.isVisible()).toBe(true);
      const box = (await sheet.boundingBox())!;
      expect(box).toMatchObject({ x: 0, y: 0, width: 375 });
      expect(box.height).toBeGreaterThanOrEqual(800);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('close-detail');
      expect(await sheet.textContent()).toContain('recipe.update');
      expect(await noHorizontalScroll(page)).toBe(true);
      await page.locator('#close-detail').tap();
      await expect.poll(() => sheet.isVisible()).toBe(false);
      await card.tap();
      await expect.poll(() => sheet.isVisible()).toBe(true);
      await page.keyboard.press('Escape');
      await expect.poll(() => sheet.isVisible()).toBe(false);
    });

    it('has no serious or critical axe violation with the list and with the sheet open, and looks right (test-results/viewer-phone*.png)', async () => {
      await page.goto(base);
      await expect.poll(() => rows(page).count()).toBe(50);
      await page.locator('#chart svg').waitFor();
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.screenshot({ path: screenshotPath('viewer-phone.png') });
      await rows(page).filter({ hasText: 'recipe.update' }).first().tap();
      await page.locator('#detail-body table.changes').waitFor();
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.screenshot({ path: screenshotPath('viewer-phone-detail.png') });
      expect(watched.dialogs).toEqual([]);
      expect(watched.problems).toEqual([]);
      // Two axe runs over 50 cards take 20-25 s on an idle 2-core machine: 30 s was too close.
    }, 90_000);
  });
});
