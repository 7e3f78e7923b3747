import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteSpool } from '../../adapters/spool/sqlite.js';
import { createActivityLogger, type ActivityRecord } from '../../src/index.js';
import { controllableStore, errorCollector, waitFor } from '../helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'activity-log-isolation-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Refuses a record whose actor name is "poison", as a database refuses a value it cannot hold. */
const poisonRule = (record: ActivityRecord) => (record.actor?.name === 'poison' ? { field: 'actor.name', reason: 'value refused (injected)' } : undefined);

describe('one event never costs its neighbours', () => {
  it('writes the 99 good events of a batch a store refuses for one record, and counts that one invalid, naming the field and the reason', async () => {
    const store = memoryStore({ refuseRecord: poisonRule });
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 100 });
    for (let i = 0; i < 100; i++) activity.log({ id: `e-${i}`, action: 'load.event', actor: { type: 'user', id: `u${i}`, name: i === 37 ? 'poison' : 'ok' } });
    await activity.flush();
    expect(store.size).toBe(99);
    expect(store.all().some((record) => record.id === 'e-37')).toBe(false);
    expect(activity.stats()).toMatchObject({ written: 99, invalid: 1, failed: 0, dropped: 0, retries: 0, queued: 0 });
    const rejected = errors.filter((error) => error.code === 'RECORD_REJECTED');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.details).toMatchObject({ id: 'e-37', action: 'load.event', field: 'actor.name', reason: 'value refused (injected)' });
    expect(rejected[0]!.message).toContain('actor.name');
    expect(rejected[0]!.message).toContain('value refused (injected)');
    await activity.close();
  });

  it('isolates several offenders anywhere in a batch, each reported once, and writes every other event', async () => {
    const store = memoryStore({ refuseRecord: poisonRule });
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 500 });
    const poisoned = new Set([0, 1, 250, 498, 499]);
    for (let i = 0; i < 500; i++) activity.log({ id: `e-${i}`, action: 'load.event', actor: { type: 'user', name: poisoned.has(i) ? 'poison' : 'ok' } });
    await activity.flush();
    expect(store.size).toBe(495);
    expect(activity.stats()).toMatchObject({ written: 495, invalid: 5, failed: 0 });
    expect(errors.filter((error) => error.code === 'RECORD_REJECTED').map((error) => error.details?.id).sort()).toEqual(
      [...poisoned].map((i) => `e-${i}`).sort(),
    );
    await activity.close();
  });

  it('keeps retrying a batch whose store is down, then isolates the offender once it answers', async () => {
    const inner = memoryStore({ refuseRecord: poisonRule });
    const store = controllableStore();
    let down = true;
    const flaky = Object.assign(Object.create(store), {
      async insert(records: readonly ActivityRecord[]) {
        if (down) throw new Error('connection refused (injected)');
        return inner.insert(records);
      },
    });
    const activity = createActivityLogger({ store: flaky, onError: () => {}, retry: { maxAttempts: 20, baseDelayMs: 5, maxDelayMs: 10 } });
    for (let i = 0; i < 10; i++) activity.log({ action: 'load.event', actor: { type: 'user', name: i === 3 ? 'poison' : 'ok' } });
    setTimeout(() => (down = false), 50);
    await activity.flush();
    expect(inner.size).toBe(9);
    expect(activity.stats()).toMatchObject({ written: 9, invalid: 1, failed: 0 });
    expect(activity.stats().retries).toBeGreaterThan(0);
    await activity.close();
  });

  it('with a spool, never takes a refused record for an outage: the batch is written, nothing is spooled', async () => {
    const store = memoryStore({ refuseRecord: poisonRule });
    const filename = join(dir, 'spool.db');
    const activity = createActivityLogger({ store, spool: { filename }, onError: () => {}, batchSize: 100 });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 100; i++) activity.log({ action: 'load.event', actor: { type: 'user', name: i === 50 ? 'poison' : 'ok' } });
      await activity.flush();
    }
    expect(store.size).toBe(495);
    expect(activity.stats()).toMatchObject({ written: 495, invalid: 5, spooled: 0, failed: 0 });
    await activity.close();
  });

  it('replays a spool past a batch holding a refused record: the rest is stored, the spool empties', async () => {
    const filename = join(dir, 'left-behind.db');
    // A spool left by an earlier process: three batches, the middle one holding an offender.
    const spool = sqliteSpool({ filename });
    const batch = (from: number, poison?: number): ActivityRecord[] =>
      Array.from({ length: 50 }, (_, i) => ({
        id: `s-${from + i}`,
        occurredAt: new Date(),
        action: 'load.event',
        status: 'success' as const,
        actor: { type: 'user', name: from + i === poison ? 'poison' : 'ok' },
      }));
    await spool.append(batch(0));
    await spool.append(batch(50, 75));
    await spool.append(batch(100));
    await spool.close();

    const store = memoryStore({ refuseRecord: poisonRule });
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, spool: { filename }, onError });
    await waitFor(() => store.size === 149, 10_000);
    await waitFor(() => remaining(filename) === 0, 10_000);
    expect(activity.stats()).toMatchObject({ replayed: 149, invalid: 1 });
    expect(errors.filter((error) => error.code === 'RECORD_REJECTED').map((error) => error.details?.id)).toEqual(['s-75']);
    await activity.close();
  });

  it('replays text an older release spooled as it was (NUL, lone surrogates) by the same text rule as live events', async () => {
    const filename = join(dir, 'old.db');
    const spool = sqliteSpool({ filename });
    await spool.append([{ id: 'old-1', occurredAt: new Date(), action: 'load.event', status: 'success', actor: { type: 'user', name: 'a\u0000b' }, metadata: { ['k\ud800']: 'v\u0000' } }]);
    await spool.close();
    const store = memoryStore();
    const activity = createActivityLogger({ store, spool: { filename }, onError: () => {} });
    await waitFor(() => store.size === 1, 10_000);
    expect(store.all()[0]).toMatchObject({ actor: { name: 'a\ufffdb' }, metadata: { 'k\ufffd': 'v\ufffd' } });
    await activity.close();
  });
});

describe('a spool replay is never held up by one batch', () => {
  it('sets an unreadable batch aside (kept in activity_spool_unreadable), reports it, and replays the rest', async () => {
    const filename = join(dir, 'damaged.db');
    const spool = sqliteSpool({ filename });
    const good = (from: number): ActivityRecord[] => Array.from({ length: 10 }, (_, i) => ({ id: `g-${from + i}`, occurredAt: new Date(), action: 'load.event', status: 'success' as const }));
    await spool.append(good(0));
    await spool.append(good(10));
    await spool.append(good(20));
    await spool.close();
    const db = new Database(filename);
    db.prepare('UPDATE activity_spool SET payload = ? WHERE id = (SELECT MIN(id) + 1 FROM activity_spool)').run('{"not": "a batch"');
    db.prepare("INSERT INTO activity_spool (records, bytes, payload, spooled_at) VALUES (1, 40, '[{\"id\":\"x\",\"occurredAt\":\"never\"}]', 0)").run();
    db.close();

    const store = memoryStore();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, spool: { filename }, onError });
    await waitFor(() => remaining(filename) === 0, 10_000);
    expect(store.all().map((record) => record.id).sort()).toEqual([...good(0), ...good(20)].map((record) => record.id).sort());
    expect(errors.filter((error) => error.code === 'SPOOL_FAILED')).toHaveLength(2);
    expect(errors[0]!.message).toContain('activity_spool_unreadable');
    const kept = new Database(filename, { readonly: true });
    expect((kept.prepare('SELECT COUNT(*) AS n FROM activity_spool_unreadable').get() as { n: number }).n).toBe(2);
    kept.close();
    await activity.close();
  });
});

function remaining(filename: string): number {
  const db = new Database(filename, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM activity_spool').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
