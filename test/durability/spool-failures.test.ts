import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteSpool } from '../../adapters/spool/sqlite.js';
import { createActivityLogger, type ActivitySpool } from '../../src/index.js';
import { controllableStore, errorCollector, waitFor } from '../helpers.js';

let dir: string;
/** Lets the replayer the failure started finish its look at the spool. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'activity-log-spool-failures-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A spool that cannot take a batch (its directory missing, its maxBytes passed) loses that
 * batch, reported; it must not take the store for down from then on. The replayer is what
 * finds the store answering again, and with nothing spooled it had nothing to replay.
 */
describe('a spool that cannot take a batch', () => {
  it('writes to the store again once it answers, when the spool could not be opened', async () => {
    const store = controllableStore();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, spool: { filename: join(dir, 'missing', 'spool.db') }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    store.failNext(1);
    activity.log({ action: 'order.pay', metadata: { during: true } });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ dropped: 1, spooled: 0, written: 0 });
    expect(errors.some((error) => error.code === 'SPOOL_FAILED' && error.details?.dropped === 1)).toBe(true);
    // The store's failure is reported once the spool answered: not "it is spooled" for a batch it dropped.
    const storeFailed = errors.find((error) => error.code === 'STORE_FAILED');
    expect(storeFailed?.message).toMatch(/rejected a batch of 1 events; the spool could not take it either, so it is dropped/);
    expect(storeFailed?.details).toMatchObject({ count: 1, spooled: false });

    await settle();
    for (let i = 0; i < 5; i++) {
      activity.log({ action: 'order.pay', metadata: { i } });
      await activity.flush();
    }
    await waitFor(() => store.size === 5, 2000);
    expect(activity.stats()).toMatchObject({ written: 5, dropped: 1, spooled: 0, queued: 0 });
    await activity.close();
  });

  it('writes to the store again once it answers, after a batch too big for maxBytes was dropped', async () => {
    const store = controllableStore();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, spool: { filename: join(dir, 'spool.db'), maxBytes: 1024 }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    store.failNext(1);
    for (let i = 0; i < 20; i++) activity.log({ action: 'order.pay', metadata: { i, note: 'x'.repeat(100) } });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ dropped: 20, spooled: 0, written: 0 });
    const full = errors.find((error) => error.code === 'SPOOL_FULL');
    // Said as it is: the batch alone is bigger than maxBytes, not "full (0 of 1024 bytes)".
    expect(full?.message).toMatch(/cannot take 20 events: a batch of \d+ bytes is bigger than its maxBytes \(1024\); they are dropped/);
    expect(full?.details).toMatchObject({ dropped: 20, usedBytes: 0, maxBytes: 1024 });

    await settle();
    activity.log({ action: 'order.pay', metadata: { after: true } });
    await activity.flush();
    // Written, or spooled and replayed: either way stored, not left in the spool for good.
    await waitFor(() => store.size === 1, 2000);
    expect(activity.stats()).toMatchObject({ dropped: 20, queued: 0 });
    await activity.close();
  });

  it('uses the spool once its directory exists, instead of failing for good on the first try', async () => {
    const store = controllableStore();
    store.failAlways(true);
    const { onError } = errorCollector();
    const spoolDir = join(dir, 'mounted-later');
    const activity = createActivityLogger({ store, onError, spool: { filename: join(spoolDir, 'spool.db') }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    activity.log({ action: 'order.pay', metadata: { i: 0 } });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ dropped: 1, spooled: 0 });

    mkdirSync(spoolDir);
    activity.log({ action: 'order.pay', metadata: { i: 1 } });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ dropped: 1, spooled: 1 });

    store.failAlways(false);
    await waitFor(() => activity.stats().replayed === 1, 10_000);
    expect(store.all().map((record) => record.metadata?.i)).toEqual([1]);
    await activity.close();
  });

  it('keeps replaying a batch the spool could not remove (a full disk refuses the delete too), until it can', async () => {
    const filename = join(dir, 'spool.db');
    const left = sqliteSpool({ filename });
    await left.append(Array.from({ length: 30 }, (_, i) => ({ id: `left-${i}`, occurredAt: new Date(), action: 'order.pay', status: 'success' as const })));
    await left.close();
    // The real SQLite spool, whose first two deletes fail as on a full disk.
    const real = sqliteSpool({ filename });
    let refusals = 2;
    const spool: ActivitySpool = {
      name: real.name,
      append: (records) => real.append(records),
      peek: () => real.peek(),
      remove: async (batchId) => {
        if (refusals-- > 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        return real.remove(batchId);
      },
      close: () => real.close(),
    };
    const store = controllableStore();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, spool, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    // Nothing else is logged or spooled: the replay must go on by itself.
    await waitFor(() => activity.stats().replayed === 30, 5000);
    expect(store.size).toBe(30);
    expect(errors.filter((error) => error.code === 'SPOOL_FAILED' && /could not remove a replayed batch/.test(error.message))).toHaveLength(2);
    activity.log({ action: 'order.pay', metadata: { live: true } });
    await activity.flush();
    expect(store.size).toBe(31);
    await activity.close();
    const after = sqliteSpool({ filename });
    expect(await after.peek()).toBeUndefined();
    await after.close();
  });

  it('reports the drops of a full spool once per burst, as a full queue is reported, and counts every one', async () => {
    const store = controllableStore();
    store.failAlways(true);
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 10, spool: { filename: join(dir, 'spool.db'), maxBytes: 4096 }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    for (let i = 0; i < 300; i++) activity.log({ action: 'order.pay', metadata: { i, note: 'x'.repeat(100) } });
    await activity.flush();
    await settle();
    const { dropped, spooled } = activity.stats();
    expect(dropped).toBeGreaterThan(100);
    expect(spooled + dropped).toBe(300);
    const reports = errors.filter((error) => error.code === 'SPOOL_FULL');
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toMatch(/cannot take 10 events: it is full .*; they are dropped \(further drops until the spool takes a batch again are counted in stats\(\)\.dropped/);
    expect(reports[0]!.details).toMatchObject({ dropped: 10, maxBytes: 4096 });

    // The spool empties into the store, takes a batch again, and the next burst is reported again.
    store.failAlways(false);
    await waitFor(() => activity.stats().replayed === spooled, 10_000);
    store.failAlways(true);
    for (let i = 0; i < 300; i++) activity.log({ action: 'order.pay', metadata: { i, note: 'x'.repeat(100) } });
    await activity.flush();
    await settle();
    expect(errors.filter((error) => error.code === 'SPOOL_FULL')).toHaveLength(2);
    await activity.close();
  });

  describe('a damaged spool file', () => {
    async function outageThenReturn(filename: string) {
      const store = controllableStore();
      const { errors, onError } = errorCollector();
      const activity = createActivityLogger({ store, onError, spool: { filename }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
      // The file is looked at when the logger starts (for a spool an earlier process left).
      await waitFor(() => errors.some((error) => error.code === 'SPOOL_FAILED'), 5000);
      store.failAlways(true);
      for (let i = 0; i < 100; i++) activity.log({ action: 'order.pay', metadata: { i } });
      await activity.flush();
      const during = activity.stats();
      store.failAlways(false);
      await waitFor(() => store.size === 100, 10_000);
      await activity.close();
      return { errors, during };
    }

    const setAside = (name: string) => readdirSync(dir).filter((file) => file.startsWith(`${name}.damaged-`));

    it('is moved aside, reported, and a new spool takes the next outage: a file that is no database', async () => {
      const filename = join(dir, 'spool.db');
      writeFileSync(filename, 'not a database at all\n'.repeat(500));
      const { errors, during } = await outageThenReturn(filename);
      expect(during).toMatchObject({ spooled: 100, dropped: 0 });
      const report = errors.find((error) => error.code === 'SPOOL_FAILED');
      expect(report?.message).toMatch(/the spool file was damaged \(file is not a database\); it was moved to .*spool\.db\.damaged-/);
      expect(setAside('spool.db')).toHaveLength(1);
    });

    it('is moved aside, reported, and a new spool takes the next outage: a spool file cut short', async () => {
      const filename = join(dir, 'spool.db');
      const left = sqliteSpool({ filename });
      for (let b = 0; b < 40; b++) {
        await left.append(Array.from({ length: 50 }, (_, i) => ({ id: `old-${b}-${i}`, occurredAt: new Date(), action: 'order.pay', status: 'success' as const, metadata: { pad: 'x'.repeat(200) } })));
      }
      await left.close();
      truncateSync(filename, Math.floor(statSync(filename).size / 2));
      const { errors, during } = await outageThenReturn(filename);
      expect(during).toMatchObject({ spooled: 100, dropped: 0 });
      expect(errors.find((error) => error.code === 'SPOOL_FAILED')?.message).toMatch(/the spool file was damaged \(database disk image is malformed\); it was moved to/);
      expect(setAside('spool.db').filter((file) => !file.endsWith('-wal') && !file.endsWith('-shm'))).toHaveLength(1);
    });
  });
});
