import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';
import { watchEventLoop } from '../helpers.js';

/**
 * An admin read never stalls the app: with 300,000 rows, a summary by hour takes a good part
 * of a second of SQLite's work, and on the app's thread that was a frozen event loop. The
 * store runs reads, summaries and purges on its reader thread, so the loop keeps turning while
 * they run. (The figure for 1,000,000 rows next to a route under load is in `npm run bench`.)
 */
const ROWS = 300_000;
let dir: string;
let filename: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'activity-log-reader-'));
  filename = join(dir, 'big.db');
  const store = sqliteStore({ filename });
  await store.migrate();
  await store.close();
  // Seeded through SQLite's own client, in one transaction: the test is about the reads.
  const db = new Database(filename);
  const insert = db.prepare("insert into activity_logs (id, occurred_at, action, status, actor_type, actor_id) values (?, ?, ?, ?, 'user', ?)");
  const start = Date.UTC(2026, 0, 1);
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(`r-${String(i).padStart(7, '0')}`, start + i * 10_000, i % 3 === 0 ? 'recipe.view' : 'recipe.update', i % 7 === 0 ? 'failure' : 'success', `u${i % 500}`);
  })();
  db.close();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `work` and reports the longest event-loop delay seen while it ran, and how long it took. */
async function whileRunning(work: () => Promise<unknown>): Promise<{ maxDelayMs: number; tookMs: number }> {
  const loop = watchEventLoop();
  const started = performance.now();
  await work();
  const tookMs = performance.now() - started;
  return { maxDelayMs: loop.stop(), tookMs };
}

describe('sqlite store reads run off the event loop', () => {
  it.each(['worker', 'main'] as const)('keeps the event loop turning through a summary, a count, a deep page and a purge (writer: %s)', async (writer) => {
    const activity = createActivityLogger({ store: sqliteStore({ filename, writer }), onError: () => {} });
    // Warm up: open the threads and the table.
    await activity.count({ action: 'recipe.view' });
    for (const [name, work, long] of [
      ['summarize by hour', () => activity.summarize({ by: 'hour' }), true],
      ['summarize by action', () => activity.summarize({ by: 'action' }), true],
      ['count with a filter on an unindexed column', () => activity.count({ status: 'failure' }), false],
      ['a page filtered on an unindexed column', () => activity.query({ status: 'failure', actorType: 'service' }), false],
    ] as const) {
      const { maxDelayMs, tookMs } = await whileRunning(work);
      // A summary is long enough that running it on this thread would stall the loop for about
      // as long; off the thread, the loop's longest delay is a small fraction of the read.
      if (long) expect({ name, long: tookMs > 60 }).toEqual({ name, long: true });
      expect({ name, stalled: maxDelayMs > Math.max(tookMs / 2, 30) }).toEqual({ name, stalled: false });
    }
    expect(await activity.summarize({ by: 'status' })).toEqual([
      { key: 'success', count: ROWS - Math.ceil(ROWS / 7) },
      { key: 'failure', count: Math.ceil(ROWS / 7) },
    ]);
    await activity.close();
  }, 120_000);

  it('purges on the reader thread, in bounded statements, without stalling the loop', async () => {
    const activity = createActivityLogger({ store: sqliteStore({ filename }), onError: () => {} });
    await activity.count();
    let removed = 0;
    const { maxDelayMs, tookMs } = await whileRunning(async () => {
      removed = await activity.purge({ before: new Date(Date.UTC(2026, 0, 1) + 50_000 * 10_000) });
    });
    expect(removed).toBe(50_000);
    expect(maxDelayMs).toBeLessThan(Math.max(tookMs / 2, 20));
    expect(await activity.count()).toBe(ROWS - 50_000);
    await activity.close();
  }, 120_000);
});
