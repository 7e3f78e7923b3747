import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';
import { watchEventLoop } from '../helpers.js';

/**
 * The store's writes run on its writer thread, from the package and from a checkout alike (the
 * repository's tests, benchmarks and `npm start` run the TypeScript source). A build once
 * looked for the thread's source next to the wrong module: the thread never started, the store
 * fell back to writing on the app's thread, and every test stayed green, since the writes
 * succeed there too. What tells them apart: another connection holds SQLite's write lock, so
 * the insert waits for it (busy timeout). On a thread the app's event loop keeps turning and
 * releases the lock; on the app's thread the loop is frozen for the whole busy timeout.
 */
const dir = mkdtempSync(join(tmpdir(), 'activity-log-writer-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('waits for a locked database on its writer thread, with the event loop turning', async () => {
  const filename = join(dir, 'locked.db');
  const activity = createActivityLogger({ store: sqliteStore({ filename, busyTimeoutMs: 4000 }), onError: () => {} });
  // The table exists and the threads run.
  activity.log({ action: 'recipe.view' });
  await activity.flush();

  const other = new Database(filename);
  other.exec('begin immediate');
  const loop = watchEventLoop();
  activity.log({ action: 'recipe.update' });
  const flushed = activity.flush();
  // Held for a second, released by a timer: only an event loop that turns can release it.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  other.exec('commit');
  await flushed;
  const longestStillMs = loop.stop();
  other.close();

  // Frozen, the loop's longest delay would be the whole busy timeout (4 s) or the lock's second.
  expect(longestStillMs).toBeLessThan(500);
  expect(activity.stats()).toMatchObject({ written: 2, failed: 0 });
  expect(await activity.count()).toBe(2);
  await activity.close();
});
