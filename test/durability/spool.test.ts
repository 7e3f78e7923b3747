import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { openSqlite } from '../../adapters/storage/sqlite-pragmas.js';
import { createRequestScopeFactory } from '../../src/http/index.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
import { createActivityLogger, type ActivityStore } from '../../src/index.js';
import { controllableStore, errorCollector, waitFor } from '../helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'activity-log-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Rows in the spool file, read with SQLite's own client rather than through the spool. */
function spooledRecords(filename: string): number {
  const db = new Database(filename, { readonly: true });
  try {
    return (db.prepare('SELECT COALESCE(SUM(records), 0) AS n FROM activity_spool').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** A spool file a logger left during an outage: 400 events (evt-0…evt-399) in 20 batches. */
async function spoolLeftByAnOutage(filename: string): Promise<string> {
  const down = controllableStore();
  down.failAlways(true);
  const first = createActivityLogger({ store: down, spool: { filename }, batchSize: 20, onError: () => {} });
  for (let i = 0; i < 400; i++) first.log({ id: `evt-${i}`, action: 'user.login' });
  await first.close();
  return filename;
}

describe('a spool file belongs to one log', () => {
  it("is not replayed by a logger of another log table: that logger reports it, and the spool's own log still gets every event", async () => {
    // An outage of the orders log (a memory store) leaves 400 events in the spool file.
    const filename = await spoolLeftByAnOutage(join(dir, 'shared.db'));
    // A logger of another log, started in the same place with the same spool file.
    const { sqliteStore } = await import('../../adapters/storage/sqlite.js');
    const securityStore = sqliteStore({ filename: join(dir, 'security.db'), tableName: 'security_log' });
    const { errors, onError } = errorCollector();
    const security = createActivityLogger({ store: securityStore, spool: { filename }, onError });
    security.log({ action: 'security.login' });
    await security.flush();
    await waitFor(() => errors.some((error) => error.code === 'SPOOL_FAILED'), 5000);
    await security.close();
    const refused = errors.find((error) => error.code === 'SPOOL_FAILED')!;
    expect(refused.message).toContain(`holds the batches of the log "memory", and this logger writes to "sqlite:security_log@${join(dir, 'security.db')}": give each log a spool file of its own`);
    // Its own event only: none of the orders log's.
    const check = sqliteStore({ filename: join(dir, 'security.db'), tableName: 'security_log' });
    expect((await check.query({ limit: 500 })).items.map((record) => record.action)).toEqual(['security.login']);
    await check.close?.();
    expect(spooledRecords(filename)).toBe(400);

    // The orders log's next process replays them all.
    const orders = memoryStore();
    const next = createActivityLogger({ store: orders, spool: { filename }, onError: () => {} });
    await waitFor(() => next.stats().replayed === 400, 10_000);
    await next.close();
    expect(orders.all()).toHaveLength(400);
  });
});

describe('a spool file belongs to one database', () => {
  it("is not replayed into a table of the same name in another database (one per tenant): the other database's logger reports it, its own replays it", async () => {
    const { sqliteStore } = await import('../../adapters/storage/sqlite.js');
    const filename = join(dir, 'shared.db');
    // Tenant A's database is down: its events go to the spool file.
    const tenantA = sqliteStore({ filename: join(dir, 'tenant-a.db') });
    const down: ActivityStore = { ...tenantA, name: tenantA.name, location: tenantA.location, insert: async () => Promise.reject(new Error('tenant A database down')) };
    const first = createActivityLogger({ store: down, spool: { filename }, batchSize: 20, onError: () => {} });
    for (let i = 0; i < 100; i++) first.log({ id: `a-${i}`, action: 'invoice.view', tenantId: 'tenant-a' });
    await first.close();
    expect(spooledRecords(filename)).toBe(100);
    // Tenant B's logger: the same table name in another database, the same spool file.
    const { errors, onError } = errorCollector();
    const tenantB = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'tenant-b.db') }), spool: { filename }, onError });
    tenantB.log({ id: 'b-0', action: 'invoice.view', tenantId: 'tenant-b' });
    await tenantB.flush();
    await waitFor(() => errors.some((error) => error.code === 'SPOOL_FAILED'), 5000);
    await tenantB.close();
    expect(errors.find((error) => error.code === 'SPOOL_FAILED')!.message).toContain(
      `holds the batches of the log "sqlite:activity_logs@${join(dir, 'tenant-a.db')}", and this logger writes to "sqlite:activity_logs@${join(dir, 'tenant-b.db')}"`,
    );
    const checkB = sqliteStore({ filename: join(dir, 'tenant-b.db') });
    expect((await checkB.query({ limit: 500 })).items.map((record) => record.id)).toEqual(['b-0']);
    await checkB.close();
    // Tenant A's database is back: its own logger replays every event into it.
    const again = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'tenant-a.db') }), spool: { filename }, onError: () => {} });
    await waitFor(() => again.stats().replayed === 100, 10_000);
    expect((await again.query({ limit: 500 })).items).toHaveLength(100);
    await again.close();
  });
});

describe('spool', () => {
  it('moves batches to the spool while the store fails, and replays them once it answers: each event stored once', async () => {
    const filename = join(dir, 'spool.db');
    const store = controllableStore();
    store.failAlways(true);
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, spool: { filename }, batchSize: 50, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    for (let i = 0; i < 500; i++) activity.log({ action: 'order.pay', metadata: { i } });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ spooled: 500, written: 0, dropped: 0, failed: 0, queued: 0 });
    expect(spooledRecords(filename)).toBe(500);
    expect(errors.some((error) => error.code === 'STORE_FAILED' && error.details?.spooled === true)).toBe(true);

    store.failAlways(false);
    await waitFor(() => activity.stats().replayed === 500, 10_000);
    expect(spooledRecords(filename)).toBe(0);
    const stored = store.all().map((record) => record.metadata?.i as number).sort((a, b) => a - b);
    expect(stored).toEqual([...Array(500).keys()]);
    await activity.close();
  });

  it('empties the spool into the store at close() when the store answers again, so nothing is left on a disk that goes with the process', async () => {
    const filename = join(dir, 'drain-at-close.db');
    const store = controllableStore();
    store.failAlways(true);
    // The replay waits a minute between attempts: only close() can forward the spool in time.
    const activity = createActivityLogger({ store, onError: () => {}, spool: { filename }, batchSize: 50, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    for (let i = 0; i < 300; i++) activity.log({ action: 'order.pay', metadata: { i } });
    await activity.flush();
    expect(spooledRecords(filename)).toBe(300);
    store.failAlways(false);
    const started = Date.now();
    await activity.close();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(activity.stats()).toMatchObject({ spooled: 300, replayed: 300 });
    expect(spooledRecords(filename)).toBe(0);
    expect(store.all()).toHaveLength(300);
  });

  it('forwards the spool at close() when the only failure is that of an insert sent before, which the store answered late', async () => {
    // The live insert of the first batch hangs past retry.attemptTimeoutMs (the batch goes to
    // the spool), then fails; the store takes everything after it. The drain at close() waited
    // for that same insert, and its failure ended the drain with the store answering.
    const filename = join(dir, 'stale-failure.db');
    const inner = memoryStore();
    let fail!: () => void;
    const gate = new Promise<void>((_resolve, reject) => (fail = () => reject(new Error('connection reset (injected)'))));
    gate.catch(() => {});
    let calls = 0;
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'stale',
      insert: (records: Parameters<ActivityStore['insert']>[0]) => (++calls === 1 ? gate : inner.insert(records)),
    });
    const activity = createActivityLogger({ store, onError: () => {}, spool: { filename }, batchSize: 5, closeTimeoutMs: 2_000, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, attemptTimeoutMs: 200 } });
    for (let i = 0; i < 10; i++) activity.log({ action: 'order.pay', metadata: { i } });
    await activity.flush();
    expect(activity.stats().spooled).toBeGreaterThan(0);
    // The replay's own wait for that insert ends (200 ms from the spooling) before it fails; the
    // drain at close() then waits for it (until 400 ms) and sees it fail.
    setTimeout(fail, 300);
    await activity.close();
    expect(spooledRecords(filename)).toBe(0);
    expect(inner.all()).toHaveLength(10);
  });

  it('does not open the spool again after close() when a write it gave up on answers late', async () => {
    const filename = join(dir, 'late-answer.db');
    const store = controllableStore();
    store.failAlways(true);
    const activity = createActivityLogger({ store, onError: () => {}, spool: { filename }, batchSize: 5, closeTimeoutMs: 200, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, attemptTimeoutMs: 10_000 } });
    for (let i = 0; i < 10; i++) activity.log({ action: 'order.pay', metadata: { i } });
    await activity.flush();
    expect(spooledRecords(filename)).toBe(10);
    // The store answers again, slowly: close() gives up on its drain of the spool mid-write.
    store.failAlways(false);
    store.hold();
    await activity.close();
    const after = activity.stats();
    store.release();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The late write is stored (its ids make the next process's replay of it a no-op), but the
    // spool closed by close() is not opened again to remove it, and left open.
    const openFiles = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } }) : []);
    expect(openFiles().filter((path) => path.startsWith(filename))).toEqual([]);
    expect(activity.stats()).toEqual(after);
    expect(spooledRecords(filename)).toBe(10);
  });

  it('leaves the spool to the next process when the store is still down at close(), without waiting for it', async () => {
    const filename = join(dir, 'still-down.db');
    const store = controllableStore();
    store.failAlways(true);
    const activity = createActivityLogger({ store, onError: () => {}, spool: { filename }, batchSize: 50, closeTimeoutMs: 5_000, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    for (let i = 0; i < 100; i++) activity.log({ action: 'order.pay', metadata: { i } });
    await activity.flush();
    const started = Date.now();
    await activity.close();
    expect(Date.now() - started, 'one failed attempt ends the drain').toBeLessThan(4_000);
    expect(activity.stats()).toMatchObject({ spooled: 100, replayed: 0 });
    expect(spooledRecords(filename)).toBe(100);
  });

  it('replays a spool left by an earlier process when a new logger starts', async () => {
    const filename = join(dir, 'left-behind.db');
    const down = controllableStore();
    down.failAlways(true);
    const first = createActivityLogger({ store: down, spool: { filename }, onError: () => {} });
    for (let i = 0; i < 120; i++) first.log({ id: `evt-${i}`, action: 'user.login' });
    await first.close();
    expect(spooledRecords(filename)).toBe(120);

    const up = controllableStore();
    const second = createActivityLogger({ store: up, spool: { filename } });
    await waitFor(() => up.size === 120, 10_000);
    expect(second.stats().replayed).toBe(120);
    expect(spooledRecords(filename)).toBe(0);
    await second.close();
  });

  it('counts a batch as replayed by the one logger that takes it out of a spool file shared with others', async () => {
    // Cluster workers started with the same `spool` share one file: each of them forwards the
    // oldest batch, and only one of them takes it out of the file.
    const filename = await spoolLeftByAnOutage(join(dir, 'shared.db'));
    expect(spooledRecords(filename)).toBe(400);

    const up = controllableStore();
    const workers = [0, 1, 2].map(() => createActivityLogger({ store: up, spool: { filename }, onError: () => {} }));
    await waitFor(() => spooledRecords(filename) === 0, 10_000);
    await Promise.all(workers.map((worker) => worker.close()));
    expect(new Set(up.all().map((record) => record.id)).size).toBe(400);
    expect(workers.reduce((sum, worker) => sum + worker.stats().replayed, 0)).toBe(400);
  });

  it('lets one of the loggers sharing a spool file forward it, rather than each sending every batch to the store', async () => {
    const filename = await spoolLeftByAnOutage(join(dir, 'shared-load.db'));

    const up = controllableStore();
    const workers = [0, 1, 2].map(() => createActivityLogger({ store: up, spool: { filename }, retry: { baseDelayMs: 50 }, onError: () => {} }));
    await waitFor(() => spooledRecords(filename) === 0, 10_000);
    await Promise.all(workers.map((worker) => worker.close()));
    expect(new Set(up.all().map((record) => record.id)).size).toBe(400);
    // 20 batches; a logger that finds its batch taken by another stands back for a while.
    expect(up.batches.length).toBeLessThan(30);
  });

  it("says in its report that the spool's driver is missing, with the line to install it", async () => {
    // better-sqlite3 cannot be uninstalled under the running suite: this spool throws what the
    // SQLite spool's methods throw then (loadPeer's MISSING_PEER), e.g. `spool: true` in an app
    // on PostgreSQL. The report said only "could not take 10 events" / "could not be read".
    const { ActivityLogError } = await import('../../src/errors.js');
    const missing = () => Promise.reject(new ActivityLogError('MISSING_PEER', 'activity-log/spool needs better-sqlite3: npm install better-sqlite3'));
    const spool = { name: 'sqlite-spool', append: missing, peek: missing, remove: missing, close: async () => {} };
    const store = controllableStore();
    store.failAlways(true);
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 10, spool });
    for (let i = 0; i < 10; i++) activity.log({ action: 'a.b' });
    await activity.flush();
    const messages = errors.filter((error) => error.code === 'SPOOL_FAILED').map((error) => error.message);
    expect(messages).toContain('spool "sqlite-spool" could not be read: activity-log/spool needs better-sqlite3: npm install better-sqlite3');
    expect(messages.some((message) => message.startsWith('spool "sqlite-spool" could not take 10 events: activity-log/spool needs better-sqlite3: npm install better-sqlite3; they are dropped'))).toBe(true);
    expect(activity.stats()).toMatchObject({ dropped: 10 });
    await activity.close();
  });

  it('drops and counts what does not fit in maxBytes (SPOOL_FULL)', async () => {
    const filename = join(dir, 'small.db');
    const store = controllableStore();
    store.failAlways(true);
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 10, spool: { filename, maxBytes: 4096 } });
    for (let i = 0; i < 100; i++) activity.log({ action: 'a.b', metadata: { text: 'x'.repeat(100) } });
    await activity.flush();
    const stats = activity.stats();
    expect(stats.spooled).toBeGreaterThan(0);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.spooled + stats.dropped).toBe(100);
    expect(spooledRecords(filename)).toBe(stats.spooled);
    expect(errors.filter((error) => error.code === 'SPOOL_FULL').length).toBeGreaterThan(0);
    await activity.close();
  });

  it('sends batches straight to the spool when the queue passes the high-water mark', async () => {
    const filename = join(dir, 'hwm.db');
    const store = controllableStore();
    store.hold(); // a store that answers, but slowly
    const activity = createActivityLogger({ store, batchSize: 10, maxQueue: 100, spool: { filename, highWaterMark: 0.5 } });
    for (let i = 0; i < 100; i++) activity.log({ action: 'a.b', metadata: { i } });
    await waitFor(() => activity.stats().spooled > 0, 5000);
    expect(activity.stats().dropped).toBe(0);
    store.release();
    await activity.flush();
    await waitFor(() => store.size === 100, 10_000);
    await activity.close();
  });

  it('counts events waiting for their request actor toward the high-water mark, as maxQueue does', async () => {
    const filename = join(dir, 'hwm-deferred.db');
    const store = controllableStore();
    store.hold();
    const activity = createActivityLogger({ store, batchSize: 10, maxQueue: 100, spool: { filename, highWaterMark: 0.5 } });
    // A request whose async actor() has not answered: its 45 events take room in memory.
    let answer!: (actor: { type: string; id: string }) => void;
    const scope = createRequestScopeFactory(activity)({
      request: new HeaderRecordRequest('POST', {}),
      actor: () => new Promise((resolve) => (answer = resolve)),
    });
    for (let i = 0; i < 45; i++) scope.activity.log({ action: 'doc.edit', metadata: { i } });
    // 30 more: 75 held in memory, above the mark of 50, though only 30 could be spooled.
    for (let i = 0; i < 30; i++) activity.log({ action: 'a.b', metadata: { i } });
    expect(activity.stats().queued).toBe(75);
    await waitFor(() => activity.stats().spooled > 0, 5000);
    answer({ type: 'user', id: 'u1' });
    store.release();
    await activity.flush();
    await waitFor(() => store.size === 75, 10_000);
    expect(activity.stats()).toMatchObject({ dropped: 0, invalid: 0 });
    await activity.close();
  });

  it('sends nothing to the spool while a store keeps up, however many events wait for their actor', async () => {
    const filename = join(dir, 'hwm-deferred-healthy.db');
    const store = controllableStore();
    const activity = createActivityLogger({ store, batchSize: 10, maxQueue: 100, flushIntervalMs: 5, spool: { filename, highWaterMark: 0.8 } });
    let answer!: (actor: { type: string; id: string }) => void;
    const scope = createRequestScopeFactory(activity)({
      request: new HeaderRecordRequest('POST', {}),
      actor: () => new Promise((resolve) => (answer = resolve)),
    });
    // 85 waiting for their actor: above the mark of 80 on their own, and none can be spooled.
    for (let i = 0; i < 85; i++) scope.activity.log({ action: 'doc.edit', metadata: { i } });
    // A healthy store takes these as they come: nothing for the spool to do.
    for (let i = 0; i < 15; i++) {
      activity.log({ action: 'a.b', metadata: { i } });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await waitFor(() => store.size === 15, 5000);
    expect(activity.stats()).toMatchObject({ spooled: 0, written: 15, dropped: 0 });
    answer({ type: 'user', id: 'u1' });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ spooled: 0, written: 100, dropped: 0 });
    await activity.close();
  });
});

describe('how durable each SQLite file is', () => {
  it('syncs each spooled batch to disk (synchronous = FULL), the store writer at checkpoints (NORMAL)', () => {
    // The setting is the connection's own: read on connections opened as the spool and the writer open theirs.
    const spool = openSqlite(Database, join(dir, 'spool.db'), 'spool');
    const writer = openSqlite(Database, join(dir, 'store.db'), 'writer');
    try {
      expect(spool.pragma('synchronous', { simple: true })).toBe(2);
      expect(writer.pragma('synchronous', { simple: true })).toBe(1);
      expect(spool.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      spool.close();
      writer.close();
    }
  });
});

describe('close() with a store that does not answer', () => {
  it('gives up after closeTimeoutMs and counts what is left as dropped, without a spool', async () => {
    const store = controllableStore();
    store.hold();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 10, closeTimeoutMs: 200 });
    for (let i = 0; i < 35; i++) activity.log({ action: 'a.b' });
    const started = Date.now();
    await activity.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(activity.stats()).toMatchObject({ dropped: 35, written: 0, queued: 0 });
    expect(errors.some((error) => error.code === 'STORE_FAILED' && /closeTimeoutMs/.test(error.message))).toBe(true);
    store.release();
  });

  it("names the store's last error as the cause of a drop at close()", async () => {
    const store = controllableStore();
    store.failAlways(true);
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 10, closeTimeoutMs: 200, retry: { baseDelayMs: 1000 } });
    for (let i = 0; i < 35; i++) activity.log({ action: 'a.b' });
    await activity.close();
    expect(activity.stats()).toMatchObject({ dropped: 35, written: 0 });
    // The batch that was retried and the ones still queued behind it all name the store's error.
    const drops = errors.filter((error) => error.code === 'STORE_FAILED' && /closeTimeoutMs/.test(error.message));
    expect(drops).toHaveLength(4);
    for (const drop of drops) expect((drop.cause as Error | undefined)?.message).toMatch(/injected/);
  });

  it('names each retried batch\'s own error, also when another batch in flight has since been written', async () => {
    let calls = 0;
    const store: ActivityStore = {
      name: 'first-fails-then-hangs',
      capabilities: { concurrentInserts: true },
      async insert(records) {
        calls += 1;
        if ((records[0]!.metadata as { i: number }).i < 10) throw new Error('injected: the first batch');
        if (calls === 2) return new Promise((resolve) => setTimeout(resolve, 100)); // the second is written
        return new Promise(() => {}); // the rest hang
      },
      query: async () => ({ items: [] }),
      get: async () => undefined,
      purge: async () => 0,
    };
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError, batchSize: 10, closeTimeoutMs: 200, retry: { baseDelayMs: 5000 } });
    for (let i = 0; i < 35; i++) activity.log({ action: 'a.b', metadata: { i } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await activity.close();
    expect(activity.stats()).toMatchObject({ written: 10, dropped: 25 });
    const drops = errors.filter((error) => error.code === 'STORE_FAILED' && /closeTimeoutMs/.test(error.message));
    expect(drops.map((drop) => drop.details?.dropped)).toEqual([10, 10, 5]);
    // Every drop says why; the first batch's own error was not erased by the second's success.
    for (const drop of drops) expect((drop.cause as Error | undefined)?.message).toMatch(/injected/);
  });

  it('moves what is left to the spool, with one', async () => {
    const filename = join(dir, 'close.db');
    const store = controllableStore();
    store.hold();
    const activity = createActivityLogger({ store, batchSize: 10, closeTimeoutMs: 200, spool: { filename } });
    for (let i = 0; i < 35; i++) activity.log({ action: 'a.b' });
    await activity.close();
    expect(activity.stats()).toMatchObject({ spooled: 35, dropped: 0, queued: 0 });
    expect(spooledRecords(filename)).toBe(35);
    store.release();
  });
});
