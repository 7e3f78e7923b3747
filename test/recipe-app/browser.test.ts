import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, launchChromium, openWatchedPage, screenshotPath } from '../viewer/browser.js';
import { ADMIN, startTestApp, type TestApp } from './helpers.js';

const XSS_TITLE = '<img src=x onerror=alert(1)>';

/**
 * The acceptance path of the reference app in real headless Chromium: the seeded admin logs
 * in through the home page, a user's plan generation fails, and the admin finds that failure
 * in the Activity Logs page, opens it, pages through the log, sees a recipe titled with
 * markup rendered as text, and publishes the drafts from the home page, each recorded by change
 * capture as the admin's.
 */
describe.skipIf(CHROMIUM_MISSING !== undefined)('the recipe app in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let dialogs: string[] = [];
  let problems: string[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    const adminToken = await app.login(ADMIN.email, ADMIN.password);
    const created = await app.request('POST', '/admin/recipes', {
      token: adminToken,
      body: { title: XSS_TITLE, diet: 'vegan', allergens: [], calories: 300, ingredients: ['toast'], instructions: 'Toast.' },
    });
    expect(created.status).toBe(201);
    for (let i = 1; i <= 3; i++) {
      const draft = await app.request('POST', '/admin/recipes', {
        token: adminToken,
        body: { title: `Draft Soup ${i}`, diet: 'vegan', allergens: [], calories: 250, ingredients: ['water'], instructions: 'Simmer.', draft: true },
      });
      expect(draft.status).toBe(201);
    }
    // A user whose preferences too few recipes fit: plan generation fails, with its reason.
    const { token } = await app.signup('Picky Eater');
    await app.request('PUT', '/me/preferences', { token, body: { diet: 'vegan', allergies: ['soy'], caloriesPerDay: 1800, mealsPerDay: 3 } });
    expect((await app.request('POST', '/plans', { token })).status).toBe(422);
    for (let i = 0; i < 4; i++) await app.signup(); // more events, so the log has several pages

    browser = await launchChromium();
    ({ page, dialogs, problems } = await openWatchedPage(browser));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const rows = () => page.locator('#rows tr');
  const firstRowId = () => rows().first().getAttribute('data-id');

  it('sends a signed-out browser from the Activity Logs page to the sign-in page (onUnauthorized), not raw JSON', async () => {
    const response = await page.goto(`${app.url}/admin/logs`);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(response!.status()).toBe(200);
    expect(await page.locator('form[action="/auth/login"]').count()).toBe(1);
    expect(await page.locator('body').textContent()).not.toContain('"error"');
    // An API client refused still gets JSON.
    const api = await app.request('GET', '/admin/logs', { headers: { accept: 'application/json' } });
    expect(api.status).toBe(403);
    expect(api.body).toMatchObject({ error: 'forbidden' });
  });

  it('logs in as the seeded admin and opens the Activity Logs page', async () => {
    await page.goto(app.url);
    await page.fill('input[name=email]', ADMIN.email);
    await page.fill('input[name=password]', ADMIN.password);
    await page.click('form button');
    await page.click('a[href="/admin/logs"]');
    await page.waitForURL(/\/admin\/logs/);
    await expect.poll(() => rows().count()).toBeGreaterThan(0);
  });

  it('filters by status failure and shows the failed plan generation, with its reason in the detail', async () => {
    await page.selectOption('#f-status', 'failure');
    await page.click('#filters button[type=submit]');
    await page.waitForURL(/status=failure/);
    await expect.poll(() => page.locator('#rows .badge').allTextContents()).not.toContain('success');
    const failedPlan = rows().filter({ hasText: 'plan.generate' });
    await expect.poll(() => failedPlan.count()).toBe(1);
    await failedPlan.click();
    const detail = page.locator('#detail-body');
    await expect.poll(() => detail.textContent()).toContain('"reason": "not_enough_recipes"');
    expect(await detail.textContent()).toContain('"needed": 7');
    expect(await detail.textContent()).toContain('"route": "/plans"');
  });

  it('pages forward and back through the log', async () => {
    // Sign-ups only: the admin's own reads are logged too, and would shift an unfiltered page 1.
    await page.goto(`${app.url}/admin/logs?limit=2&action=user.signup`);
    await expect.poll(() => rows().count()).toBe(2);
    const first = await firstRowId();
    await page.click('#next');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 2');
    await expect.poll(() => firstRowId()).not.toBe(first);
    await page.click('#prev');
    await expect.poll(() => page.locator('#page-label').textContent()).toBe('Page 1');
    await expect.poll(() => firstRowId()).toBe(first);
  });

  it('shows a recipe titled with markup as text, runs nothing from it, and looks right', async () => {
    await page.goto(`${app.url}/admin/logs?action=recipe.*`);
    const cell = page.getByText(XSS_TITLE, { exact: true });
    await expect.poll(() => cell.count()).toBeGreaterThan(0);
    expect(await cell.first().isVisible()).toBe(true);
    expect(await page.locator('img').count()).toBe(0);
    await rows().filter({ hasText: 'recipe.created' }).first().click();
    await page.locator('#detail-body').waitFor();
    await page.screenshot({ path: screenshotPath('recipe-app-logs.png'), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('publishes every draft with the home page\'s button: one recipe.updated per recipe in Activity Logs, by the admin', async () => {
    await page.goto(app.url);
    expect(await page.locator('#drafts').textContent()).toBe('3 draft recipes waiting.');
    await page.getByRole('button', { name: 'Publish all drafts' }).click();
    await page.waitForURL(/\/admin\/logs\?action=recipe\.updated/);
    const published = rows().filter({ hasText: 'Draft Soup' });
    await expect.poll(() => published.count()).toBe(3);
    for (const text of await published.allTextContents()) {
      expect(text).toContain('recipe.updated');
      expect(text).toContain('Admin');
    }
    await published.first().click();
    // The detail's Changes table: the one field, 0 before and 1 after.
    await expect.poll(() => page.locator('#detail-body').textContent()).toMatch(/Changes.*published\s*0\s*1/s);
    await page.goto(app.url);
    expect(await page.locator('#drafts').textContent()).toBe('0 draft recipes waiting.');
    expect(await page.getByRole('button', { name: 'Publish all drafts' }).isDisabled()).toBe(true);
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('shows a recipe\'s history from its detail: an admin edit, and a change made by hand in the database', async () => {
    const adminToken = await app.login(ADMIN.email, ADMIN.password);
    const created = await app.request('POST', '/admin/recipes', {
      token: adminToken,
      body: { title: 'History Stew', diet: 'vegan', allergens: [], calories: 400, ingredients: ['beans'], instructions: 'Stew.' },
    });
    expect(created.status).toBe(201);
    const id = String(created.body.recipe?.id ?? created.body.id);
    expect((await app.request('PATCH', `/admin/recipes/${id}`, { token: adminToken, body: { calories: 450 } })).status).toBe(200);
    // A fix typed into the database by hand (another connection to the app's file, like the sqlite3 shell).
    const outside = new Database(app.databaseFile, { timeout: 5000 });
    try {
      outside.prepare('update recipes set title = ? where id = ?').run('History Stew (fixed)', id);
    } finally {
      outside.close();
    }
    await page.goto(`${app.url}/admin/logs?action=recipe.*`);
    await rows().filter({ hasText: 'History Stew' }).first().click();
    await page.getByRole('button', { name: 'History of this target' }).click();
    const versions = page.locator('#history-items > li');
    await expect.poll(() => versions.count()).toBe(3);
    // Newest first: the hand fix (the database), the admin's edit, the admin's creation.
    expect(await versions.nth(0).locator('.version-by').textContent()).toMatch(/database/);
    expect(await versions.nth(0).locator('table.changes td').allTextContents()).toEqual(['title', '"History Stew"', '"History Stew (fixed)"']);
    expect(await versions.nth(1).locator('.version-by').textContent()).toMatch(/Admin/);
    expect(await versions.nth(1).locator('table.changes td').allTextContents()).toEqual(['calories', '400', '450']);
    expect(await versions.nth(2).locator('.version-action').textContent()).toBe('recipe.created');
    expect(await versions.nth(2).locator('.version-by').textContent()).toMatch(/Admin/);
    await page.screenshot({ path: screenshotPath('recipe-app-history.png'), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('makes the README screenshots from this data, at 1280×800 and 375×812 (test-results/recipe-app-{desktop,phone}.png)', async () => {
    const cookies = await page.context().cookies();
    for (const [name, options] of [
      ['desktop', { viewport: { width: 1280, height: 800 } }],
      ['phone', { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
    ] as const) {
      const watched = await openWatchedPage(browser, { ...options, timezoneId: 'UTC' });
      try {
        await watched.context.addCookies(cookies);
        await watched.page.goto(`${app.url}/admin/logs`);
        await expect.poll(() => watched.page.locator('#rows tr').count()).toBeGreaterThan(5);
        await watched.page.locator('#chart svg').waitFor();
        if (name === 'desktop') {
          await watched.page.locator('#rows tr').filter({ hasText: 'plan.generate' }).first().click();
          await watched.page.locator('#detail-body pre.json').first().waitFor();
          await watched.page.evaluate(() => window.scrollTo(0, 0));
        }
        expect(await watched.page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
        await watched.page.screenshot({ path: screenshotPath(`recipe-app-${name}.png`) });
        expect(watched.problems).toEqual([]);
      } finally {
        await watched.context.close();
      }
    }
  });
});
