import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityLogsRouter, activityMiddleware } from '../../adapters/frameworks/express.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogsHandler } from '../../src/http/index.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import { CHROMIUM_MISSING, launchChromium, openWatchedPage } from '../viewer/browser.js';

const KEY = 'an application secret of 32 bytes';

/** Changes one stored record's action behind the logger's back (the memory store's erase rewrites in place). */
async function tamper(store: MemoryStore, id: string): Promise<void> {
  await store.erase!({}, (record) => (record.id === id ? { ...record, action: 'recipe.delete' } : undefined));
}

async function sealed(count: number): Promise<{ store: MemoryStore; activity: ActivityLogger<any> }> {
  const store = memoryStore();
  const activity = createActivityLogger({ store, integrity: { key: KEY } });
  for (let i = 0; i < count; i++) activity.log({ id: `v-${i}`, action: 'recipe.update', actor: { type: 'user', id: 'u1', name: 'Ada' } });
  await activity.flush();
  return { store, activity };
}

const lines = async (response: Response) => (await response.text()).trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);

describe('the admin API\'s verify endpoint', () => {
  it('streams progress, then the report, and records the check as activity.verify', async () => {
    const { store, activity } = await sealed(1200);
    const handler = createActivityLogsHandler(activity, { authorize: () => true });
    const response = await handler(new Request('http://x/verify'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/ndjson/);
    const out = await lines(response);
    expect(out.slice(0, -1).map((line) => line.progress.checked)).toEqual([500, 1000, 1200]);
    expect(out.at(-1)!.report).toMatchObject({ ok: true, checked: 1200, chains: 1 });
    await activity.flush();
    expect(store.all().filter((record) => record.action === 'activity.verify')).toHaveLength(1);

    await tamper(store, 'v-7');
    const after = (await lines(await handler(new Request('http://x/verify')))).at(-1)!.report;
    expect(after.ok).toBe(false);
    expect(after.problems).toEqual([expect.objectContaining({ kind: 'edited', id: 'v-7' })]);
    const one = (await lines(await handler(new Request('http://x/verify?id=v-7')))).at(-1)!.report;
    expect(one).toMatchObject({ ok: false, checked: 1 });
    const other = (await lines(await handler(new Request('http://x/verify?id=v-8')))).at(-1)!.report;
    expect(other).toMatchObject({ ok: true, checked: 1 });
    await activity.close();
  });

  it('answers 400 to bad parameters, 403 when pinned to a tenant or refused, 501 without a key', async () => {
    const { activity } = await sealed(3);
    const handler = createActivityLogsHandler(activity, { authorize: () => true });
    const bad = await handler(new Request('http://x/verify?from=yesterday&chain=a%20b&limit=3'));
    expect(bad.status).toBe(400);
    // Every problem in one answer: the unknown parameter and the bad values of the known ones.
    expect((await bad.json()).parameters.map((p: { name: string }) => p.name).sort()).toEqual(['chain', 'from', 'limit']);
    const badValues = await handler(new Request('http://x/verify?from=yesterday&chain=a%20b'));
    expect((await badValues.json()).parameters.map((p: { name: string }) => p.name).sort()).toEqual(['chain', 'from']);
    const pinned = createActivityLogsHandler(activity, { authorize: () => true, tenant: () => 't1' });
    expect((await pinned(new Request('http://x/verify'))).status).toBe(403);
    const refused = createActivityLogsHandler(activity, { authorize: () => false });
    expect((await refused(new Request('http://x/verify'))).status).toBe(403);
    const plain = createActivityLogger({ store: memoryStore() });
    expect((await createActivityLogsHandler(plain, { authorize: () => true })(new Request('http://x/verify'))).status).toBe(501);
    await Promise.all([activity.close(), plain.close()]);
  });

  it('answers 404 to ?id= of a record the store does not hold, as GET /:id does, rather than a report of nothing wrong', async () => {
    const { activity } = await sealed(3);
    const handler = createActivityLogsHandler(activity, { authorize: () => true });
    const gone = await handler(new Request('http://x/verify?id=v-9'));
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: 'not_found', message: 'no activity record v-9' });
    expect((await lines(await handler(new Request('http://x/verify?id=v-2')))).at(-1)!.report).toMatchObject({ ok: true, checked: 1 });
    await activity.close();
  });
});

describe('the verify endpoint of a tenant-pinned API', () => {
  // Found by the acceptance review of #18: every /verify was a 403 when pinned, so the viewer's
  // detail said "could not check" for every sealed record, and each record opened added an
  // http.get denied record (automatic capture of the 403) that "Hide the log's own reads" cannot hide.
  it('checks one record of its own tenant (?id=), answers 404 for another tenant\'s, and still refuses ranges', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store, integrity: { key: KEY } });
    activity.log({ id: 'mine', tenantId: 't1', action: 'doc.edit', actor: { type: 'user', id: 'u1', name: 'Ada' } });
    activity.log({ id: 'theirs', tenantId: 't2', action: 'doc.edit', actor: { type: 'user', id: 'u2', name: 'Bo' } });
    await activity.flush();
    const pinned = createActivityLogsHandler(activity, { authorize: () => true, tenant: () => 't1' });
    const mine = await pinned(new Request('http://x/verify?id=mine'));
    expect(mine.status).toBe(200);
    expect((await lines(mine)).at(-1)!.report).toMatchObject({ ok: true, checked: 1, problems: [] });
    await tamper(store, 'mine');
    expect((await lines(await pinned(new Request('http://x/verify?id=mine')))).at(-1)!.report).toMatchObject({ ok: false, checked: 1, problems: [expect.objectContaining({ kind: 'edited', id: 'mine' })] });
    // Another tenant's record is not there for this caller, whether it exists or not.
    const theirs = await pinned(new Request('http://x/verify?id=theirs'));
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).not.toContain('Bo');
    expect((await pinned(new Request('http://x/verify?id=nothing'))).status).toBe(404);
    const range = await pinned(new Request('http://x/verify?from=2026'));
    expect(range.status).toBe(403);
    expect((await range.json()).message).toContain('?id=');
    await activity.flush();
    const checks = store.all().filter((record) => record.action === 'activity.verify');
    // The refused range is recorded too, as denied (a probe of every tenant leaves a trace),
    // and each 404 with found: false, as GET /:id records it (another tenant's id alike).
    expect(checks.map((record) => [record.tenantId, record.status, record.metadata])).toEqual([
      ['t1', 'denied', { view: 'verify', path: '/verify', reason: 'range of every tenant' }],
      ['t1', 'success', { filters: { id: 'nothing' }, found: false }],
      ['t1', 'success', { filters: { id: 'theirs' }, found: false }],
      ['t1', 'success', { filters: { id: 'mine' } }],
      ['t1', 'success', { filters: { id: 'mine' } }],
    ]);
    await activity.close();
  });
});

describe.skipIf(CHROMIUM_MISSING !== undefined)('the viewer\'s integrity checks in Chromium', () => {
  let store: MemoryStore;
  let activity: ActivityLogger<any>;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ({ store, activity } = await sealed(20));
    const app = express();
    app.use('/admin/logs', activityLogsRouter(activity, { authorize: () => true, viewer: true }));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/logs`;
    browser = await launchChromium();
    ({ page } = await openWatchedPage(browser, {}));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await activity?.close();
  });

  it('shows each record\'s proof in its detail panel, and the result of verifying the range', async () => {
    await page.goto(`${base}?action=recipe.*`);
    const row = (id: string) => page.locator(`#rows tr[data-id="${id}"]`);
    await row('v-3').click();
    const integrity = page.locator('#detail-body .integrity');
    await expect.poll(() => integrity.textContent()).toMatch(/#4 · verified$/);
    await page.locator('#verify').click();
    await expect.poll(() => page.locator('#verify-result').textContent()).toMatch(/^Verified: \d+ sealed records in 1 chain/);

    await tamper(store, 'v-5');
    await page.reload();
    await row('v-5').click();
    await expect.poll(() => integrity.textContent()).toContain('edited: its content does not match its hash');
    expect(await integrity.getAttribute('class')).toContain('tampered');
    await page.locator('#verify').click();
    await expect.poll(() => page.locator('#verify-result').textContent()).toMatch(/^Problems found in \d+ records: 1 edited\. First: v-5: /);
  });

  it('says a record listed on the page but deleted since is missing, not verified', async () => {
    activity.log({ id: 'gone', action: 'recipe.gone', actor: { type: 'user', id: 'u1', name: 'Ada' } });
    await activity.flush();
    await page.goto(`${base}?action=recipe.*`);
    const row = page.locator('#rows tr[data-id="gone"]');
    await expect.poll(() => row.count()).toBe(1);
    await store.purge({ before: new Date(Date.now() + 60_000), action: 'recipe.gone' });
    await row.click();
    const integrity = page.locator('#detail-body .integrity');
    await expect.poll(() => integrity.textContent()).toMatch(/missing: the store no longer holds this record$/);
    expect(await integrity.getAttribute('class')).toContain('tampered');
  });
});

describe.skipIf(CHROMIUM_MISSING !== undefined)('the viewer of a tenant-pinned mount, with integrity on, in Chromium', () => {
  it('shows each record of the tenant as verified, and opening records adds nothing to the list', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store, integrity: { key: KEY } });
    for (const tenantId of ['t1', 't2']) for (let i = 0; i < 3; i++) activity.log({ id: `${tenantId}-${i}`, tenantId, action: 'doc.edit', actor: { type: 'user', id: `${tenantId}-u${i}` } });
    await activity.flush();
    const app = express();
    app.use(activityMiddleware(activity, { actor: () => ({ type: 'admin', id: 'a1' }), tenant: (req) => req.get('x-tenant') }));
    app.use('/admin/logs', activityLogsRouter(activity, { authorize: () => true, tenant: (req) => req.get('x-tenant'), viewer: true }));
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const browser = await launchChromium();
    try {
      const { page, problems } = await openWatchedPage(browser, { extraHTTPHeaders: { 'x-tenant': 't1' } });
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/logs`);
      const rows = page.locator('#rows tr');
      await expect.poll(() => rows.count()).toBe(3);
      for (const id of ['t1-0', 't1-1', 't1-2']) {
        await page.locator(`#rows tr[data-id="${id}"]`).click();
        await expect.poll(() => page.locator('#detail-body .integrity').textContent()).toMatch(/ · verified$/);
      }
      await page.reload();
      await expect.poll(() => rows.count()).toBe(3);
      expect(new Set(await page.locator('#rows .col-action .primary-text').allTextContents())).toEqual(new Set(['doc.edit']));
      await activity.flush();
      expect(store.all().filter((record) => record.action.startsWith('http.'))).toEqual([]);
      expect(problems.filter((problem) => !problem.includes('status of 4'))).toEqual([]);
    } finally {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await activity.close();
    }
  });
});
