import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';

const script = new URL('./scripts/flush-twice.ts', import.meta.url).pathname;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'activity-log-flush-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the script in a process of its own, where nothing but the logger can keep it alive. */
function runScript(kind: string, file?: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, kind, ...(file ? [file] : [])], { encoding: 'utf8', timeout: 60_000 });
  const lines = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { step: string; written: number; queued: number });
  return { status: result.status, signal: result.signal, stderr: result.stderr, lines };
}

describe('flush() and close() always settle, with nothing else keeping the process alive', () => {
  it.each(['memory', 'memory-retry', 'sqlite-worker', 'sqlite-main'])('settles every flush() and close() of a script (%s store)', (kind) => {
    const file = kind.startsWith('sqlite') ? join(dir, `${kind}.db`) : undefined;
    const run = runScript(kind, file);
    // Exit code 13 is Node's "unsettled top-level await": a flush() that never resolved.
    expect(run.status, run.stderr).toBe(0);
    expect(run.lines.map((line) => [line.step, line.written, line.queued])).toEqual([
      ['first', 1, 0],
      ['second', 2, 0],
      ['closed', 3, 0],
    ]);
    if (file) {
      const db = new Database(file, { readonly: true });
      expect((db.prepare('select id from activity_logs order by id').all() as { id: string }[]).map((row) => row.id)).toEqual(['first', 'second', 'third']);
      db.close();
    }
  });

  it.each(['worker', 'main'])('lets a script that flushes, reads and simply ends exit on its own (SQLite writer: %s)', (writer) => {
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', new URL('./scripts/flush-and-end.ts', import.meta.url).pathname, writer, join(dir, `${writer}.db`)], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: result.status, signal: result.signal }, result.stderr).toEqual({ status: 0, signal: null });
    expect(JSON.parse(result.stdout.trim())).toEqual({ written: 100, read: 1 });
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it('settles a flush() after a drain scheduled for a full batch found the queue already emptied by an earlier flush()', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store, batchSize: 10 });
    for (let i = 0; i < 10; i++) activity.log({ action: 'full.batch' }); // schedules a drain for the full batch
    await activity.flush(); // drains it first; the scheduled drain then finds nothing to do
    await new Promise((resolve) => setTimeout(resolve, 20));
    activity.log({ action: 'after.the.race' });
    const settled = await Promise.race([activity.flush().then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('hung'), 2000))]);
    expect(settled).toBe('settled');
    expect(store.size).toBe(11);
    await activity.close();
  });

  it('settles a flush() called while the last write of a drain is settling (log, flush, log, flush in one turn of the loop)', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store, flushIntervalMs: 3_600_000 });
    for (let round = 0; round < 50; round++) {
      activity.log({ action: 'race.event', metadata: { round } });
      const first = activity.flush();
      await first;
      activity.log({ action: 'race.event', metadata: { round, second: true } });
      await activity.flush();
    }
    expect(store.size).toBe(100);
    await activity.close();
  });
});

describe('closeTimeoutMs bounds a store that stopped making progress, not a long drain', () => {
  it('writes a 100,000-event backlog into SQLite in full, although the drain takes longer than closeTimeoutMs', async () => {
    const filename = join(dir, 'backlog.db');
    const store = sqliteStore({ filename });
    await store.migrate();
    const activity = createActivityLogger({ store, maxQueue: 100_000, closeTimeoutMs: 500, onError: () => {} });
    for (let i = 0; i < 100_000; i++) activity.log({ action: 'backlog.event', actor: { type: 'user', id: `u${i % 100}` }, metadata: { i } });
    const started = Date.now();
    await activity.close();
    const took = Date.now() - started;
    expect(activity.stats()).toMatchObject({ written: 100_000, dropped: 0, failed: 0, queued: 0 });
    // The drain itself outlasted closeTimeoutMs, so only a progress rule could have kept it.
    expect(took).toBeGreaterThan(500);
    const db = new Database(filename, { readonly: true });
    expect((db.prepare('select count(*) as n from activity_logs').get() as { n: number }).n).toBe(100_000);
    db.close();
  });

  it('gives up on a store that refuses every write, after closeTimeoutMs, however many batches use up their retries meanwhile', async () => {
    // A database that is down answers at once (connection refused): each batch fails after its
    // retries, and a batch failing is no progress of the store.
    const down = memoryStore();
    const refusing = Object.assign(Object.create(down), {
      insert: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })),
    });
    const activity = createActivityLogger({ store: refusing, batchSize: 10, closeTimeoutMs: 400, retry: { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 50 }, onError: () => {} });
    for (let i = 0; i < 400; i++) activity.log({ action: 'down.event' });
    const started = Date.now();
    await activity.close();
    // 40 batches using up their retries one after another took 4 s here.
    expect(Date.now() - started).toBeLessThan(2_000);
    const { written, failed, dropped, queued } = activity.stats();
    expect({ written, lost: failed + dropped, queued }).toEqual({ written: 0, lost: 400, queued: 0 });
  });

  it('gives up on a store that stops answering, after closeTimeoutMs without progress', async () => {
    const never = memoryStore();
    let writes = 0;
    const stalling = Object.assign(Object.create(never), {
      insert: (records: readonly unknown[]) => (writes++ < 2 ? never.insert(records as never) : new Promise<void>(() => {})),
    });
    const activity = createActivityLogger({ store: stalling, batchSize: 10, closeTimeoutMs: 300, onError: () => {} });
    for (let i = 0; i < 100; i++) activity.log({ action: 'stall.event' });
    const started = Date.now();
    await activity.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(activity.stats()).toMatchObject({ written: 20, dropped: 80, queued: 0 });
  });
});
