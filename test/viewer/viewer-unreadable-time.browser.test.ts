import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { CHROMIUM_MISSING, openViewer, type OpenViewer } from './browser.js';

/**
 * A row whose stored time someone set to text (SQLite's integer column takes it) sorts first
 * and was the end of the viewer: the page after it was refused ("not a cursor this library
 * issued"), so every record behind it was out of reach. The viewer now says the time is
 * unreadable and pages on past it, one record per page here.
 */
describe.skipIf(CHROMIUM_MISSING !== undefined)('the viewer past a record whose stored time is unreadable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-viewer-time-'));
  const filename = join(dir, 'activity.db');
  let activity: ActivityLogger<any>;
  let viewer: OpenViewer;

  beforeAll(async () => {
    const writer = createActivityLogger({ store: sqliteStore({ filename }) });
    for (let i = 0; i < 4; i++) writer.log({ id: `evt-${i}`, action: 'recipe.update', occurredAt: new Date(Date.UTC(2026, 0, 1 + i)) });
    await writer.close();
    const db = new Database(filename);
    db.prepare('update activity_logs set occurred_at = ? where id = ?').run('garbage', 'evt-1');
    db.close();
    activity = createActivityLogger({ store: sqliteStore({ filename }) });
    viewer = await openViewer(activity);
  }, 90_000);

  afterAll(async () => {
    await viewer?.close();
    await activity?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the time as unreadable and pages on to every other record', async () => {
    const { page, base, problems } = viewer;
    // From 2025: the viewer's default window is the last days.
    await page.goto(`${base}?action=recipe.update&limit=1&from=2025-01-01`);
    const firstRowId = () => page.locator('#rows tr').first().getAttribute('data-id', { timeout: 5000 });
    await expect.poll(firstRowId).toBe('evt-1');
    expect(await page.locator('#rows tr').first().textContent()).toContain('unreadable time');
    const seen = ['evt-1'];
    for (let pageNumber = 2; pageNumber <= 4; pageNumber++) {
      await page.click('#next');
      await expect.poll(() => page.locator('#page-label').textContent()).toBe(`Page ${pageNumber}`);
      await expect.poll(firstRowId).not.toBe(seen.at(-1));
      seen.push((await firstRowId())!);
    }
    expect(seen.sort()).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-3']);
    expect(await page.locator('#next').isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  });
});
