import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteSpool } from '../../adapters/spool/sqlite.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger, type ActivityLogError, type ActivityLoggerOptions, type ActivitySpool, type ActivityStore } from '../../src/index.js';
import { waitFor } from '../helpers.js';
import { POSTGRES_URL, postgresDrop, postgresPresence, skipReason, uniqueTable } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'activity-log-hung-'));
const tables: string[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const table of tables) await postgresDrop(POSTGRES_URL!, table);
});

/**
 * A store whose inserts never answer, as a database that stopped responding without closing the
 * connection. (A stand-in: no real server can be made to hang forever and then be let go of
 * inside a test; the PostgreSQL case below holds a real lock for as long as the test needs.)
 */
function hangingStore(): ActivityStore & { inserts: number } {
  const inner = memoryStore();
  const store = Object.assign(Object.create(inner) as ActivityStore, {
    name: 'hanging',
    inserts: 0,
    insert: () => {
      store.inserts++;
      return new Promise<void>(() => {});
    },
  });
  return store;
}

describe('a store that never answers an insert (retry.attemptTimeoutMs)', () => {
  it('lets flush() settle, counting the batch failed, and sends the insert once however many attempts', async () => {
    const store = hangingStore();
    const errors: ActivityLogError[] = [];
    const activity = createActivityLogger({
      store,
      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20, attemptTimeoutMs: 150 },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 5; i++) activity.log({ action: 'hung.write' });
    const started = Date.now();
    await activity.flush();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(activity.stats()).toMatchObject({ failed: 5, written: 0, queued: 0, retries: 2 });
    expect(store.inserts, 'the insert still running is waited for again, not sent again').toBe(1);
    const failed = errors.find((error) => error.code === 'STORE_FAILED');
    expect(failed?.message).toMatch(/3 times/);
    expect(String((failed?.cause as Error | undefined)?.message)).toMatch(/did not answer an insert of 5 events within retry\.attemptTimeoutMs \(150 ms\)/);
  });

  it('moves the batch to the spool at the first timeout, with a spool', async () => {
    const store = hangingStore();
    const activity = createActivityLogger({
      store,
      retry: { attemptTimeoutMs: 150 },
      spool: { filename: join(dir, 'hung.spool.db') },
      onError: () => {},
    });
    for (let i = 0; i < 4; i++) activity.log({ action: 'hung.spooled' });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ spooled: 4, failed: 0, written: 0, queued: 0 });
    await activity.close();
  });

  it('names the unanswered insert as the reason when close() gives up on it', async () => {
    const errors: ActivityLogError[] = [];
    const activity = createActivityLogger({ store: hangingStore(), closeTimeoutMs: 100, onError: (error) => errors.push(error) });
    for (let i = 0; i < 3; i++) activity.log({ action: 'hung.at.close' });
    await activity.close();
    expect(activity.stats()).toMatchObject({ dropped: 3, written: 0, queued: 0 });
    const drop = errors.find((error) => /closeTimeoutMs/.test(error.message));
    expect(String((drop?.cause as Error | undefined)?.message)).toMatch(/has not answered an insert of 3 events sent \d+ ms ago/);
  });

  it('sends a batch whose ends and size are those of a batch still unanswered, when its other records differ', async () => {
    // Ids given by the caller (idempotency keys) can repeat at both ends of two batches in
    // flight together: the second one must not take the first one's insert for its own.
    const inner = memoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'slow-first',
      insert: async (records: Parameters<ActivityStore['insert']>[0]) => {
        if (++calls === 1) await gate;
        return inner.insert(records);
      },
    });
    const activity = createActivityLogger({ store, batchSize: 3, retry: { maxAttempts: 50, baseDelayMs: 1, maxDelayMs: 1, attemptTimeoutMs: 300 }, onError: () => {} });
    const first = '01900000-0000-7000-8000-000000000001';
    const last = '01900000-0000-7000-8000-000000000002';
    for (const middle of ['key.first.middle', 'key.second.middle']) {
      activity.log({ id: first, action: 'key.end' });
      activity.log({ action: middle });
      activity.log({ id: last, action: 'key.end' });
    }
    const flushed = activity.flush();
    // Both batches' first attempts timed out; release the insert while their second ones wait.
    await waitFor(() => activity.stats().retries >= 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await flushed;
    expect(activity.stats()).toMatchObject({ written: 6, queued: 0 });
    expect(inner.all().map((record) => record.action).sort()).toEqual(['key.end', 'key.end', 'key.first.middle', 'key.second.middle']);
    await activity.close();
  });

  it('lets the process end once close() has given up on the unanswered insert', () => {
    // The attempt's timer (retry.attemptTimeoutMs) held the process open for up to 30 s after close().
    const script = join(dir, 'exit-after-close.mts');
    const src = (path: string) => JSON.stringify(pathToFileURL(resolve(path)).href);
    writeFileSync(
      script,
      `import { memoryStore } from ${src('adapters/storage/memory.ts')};
import { createActivityLogger } from ${src('src/index.ts')};
const store = Object.assign(Object.create(memoryStore()), { name: 'hanging', insert: () => new Promise(() => {}) });
const activity = createActivityLogger({ store, closeTimeoutMs: 100, retry: { attemptTimeoutMs: 20000 }, onError: () => {} });
activity.log({ action: 'hung.exit' });
await activity.close();
console.log(JSON.stringify(activity.stats()));
`,
    );
    const started = Date.now();
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(out)).toMatchObject({ dropped: 1, queued: 0 });
    expect(Date.now() - started, 'the process ends soon after close()').toBeLessThan(10_000);
  });

  it('hands checkpoints to onCheckpoint while the store hangs on them, and closes within closeTimeoutMs + 1 s, not once per step', async () => {
    // The store takes the first batch, then answers nothing: not inserts, not checkpoints, not
    // close(). Before, the copy kept outside the database waited behind the store's, so it never
    // came; and close() gave each step (drain, last checkpoint, store close) closeTimeoutMs.
    const inner = memoryStore();
    let inserts = 0;
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'hangs-after-one',
      insert: (records: Parameters<ActivityStore['insert']>[0]) => (++inserts === 1 ? inner.insert(records) : new Promise<void>(() => {})),
      insertCheckpoints: () => new Promise<void>(() => {}),
      close: () => new Promise<void>(() => {}),
    });
    const sunk: { seq: number }[] = [];
    const errors: ActivityLogError[] = [];
    const activity = createActivityLogger({
      store,
      batchSize: 5,
      closeTimeoutMs: 1500,
      retry: { attemptTimeoutMs: 60_000 },
      integrity: { key: 'a test key of at least thirty-two bytes', checkpointRecords: 5, onCheckpoint: (checkpoint) => void sunk.push(checkpoint) },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 5; i++) activity.log({ action: 'hung.checkpoint.first' });
    await waitFor(() => activity.stats().written === 5);
    await waitFor(() => sunk.length === 1);
    expect(sunk[0]!.seq).toBe(5);
    for (let i = 0; i < 5; i++) activity.log({ action: 'hung.checkpoint.second' });
    const started = Date.now();
    await activity.close();
    const took = Date.now() - started;
    expect(took, 'one closeTimeoutMs for the stalled drain, then one grace for the rest').toBeLessThan(1500 + 1000 + 700);
    expect(activity.stats()).toMatchObject({ written: 5, dropped: 5 });
    expect(errors.some((error) => error.code === 'STORE_FAILED' && /failed to close/.test(error.message))).toBe(true);
  });

  it('gives a store that stops answering during the drain of the spool at close the same one grace, not closeTimeoutMs per step', async () => {
    // The store takes the first batch, refuses the second (spooled), then answers nothing: the
    // live queue drains at once, and it is the spool's drain at close that stalls. What is left
    // (the checkpoint the store hangs on, its own close()) shares one grace, as after a live drain.
    const inner = memoryStore();
    let inserts = 0;
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'hangs-after-spooling',
      insert: (records: Parameters<ActivityStore['insert']>[0]) => {
        inserts++;
        if (inserts === 1) return inner.insert(records);
        if (inserts === 2) return Promise.reject(new Error('connection reset'));
        return new Promise<void>(() => {});
      },
      insertCheckpoints: () => new Promise<void>(() => {}),
      close: () => new Promise<void>(() => {}),
    });
    const sunk: { seq: number }[] = [];
    const activity = createActivityLogger({
      store,
      batchSize: 5,
      closeTimeoutMs: 1500,
      spool: { filename: join(dir, 'stalls-at-close.db') },
      retry: { attemptTimeoutMs: 60_000, baseDelayMs: 5, maxDelayMs: 20 },
      integrity: { key: 'a test key of at least thirty-two bytes', checkpointRecords: 5, onCheckpoint: (checkpoint) => void sunk.push(checkpoint) },
      onError: () => {},
    });
    for (let i = 0; i < 5; i++) activity.log({ action: 'hung.spool.first' });
    await waitFor(() => activity.stats().written === 5);
    for (let i = 0; i < 5; i++) activity.log({ action: 'hung.spool.second' });
    await waitFor(() => activity.stats().spooled === 5);
    await waitFor(() => inserts >= 3); // the replay's insert, which never answers
    const started = Date.now();
    await activity.close();
    const took = Date.now() - started;
    // The replay's stop is waited for first (at most 1 s, the store's insert hanging), then the
    // drain of the spool for closeTimeoutMs, then one grace: not closeTimeoutMs for the
    // checkpoint and again for the store's close() (5.5 s here before).
    expect(took, 'the replay stopping, one closeTimeoutMs for the stalled drain of the spool, then one grace for the rest').toBeLessThan(1000 + 1500 + 1000 + 700);
    expect(sunk.map((checkpoint) => checkpoint.seq)).toEqual([5]);
  });

  it('spools a batch close() gave up on once, when its insert fails while close() is spooling it', async () => {
    // close() gives up on the insert and hands the batch to the spool; the insert fails while
    // the spool is writing it. The failure must not send the same batch to the spool again
    // (twice in the file, replayed and counted twice), nor report it as the store's failure.
    const inner = memoryStore();
    let failInsert!: (error: Error) => void;
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'fails-late',
      insert: () => new Promise<void>((_resolve, reject) => (failInsert = reject)),
    });
    const real = sqliteSpool({ filename: join(dir, 'fails-late.db') });
    const appended: number[] = [];
    let letAppend!: () => void;
    const held = new Promise<void>((resolve) => (letAppend = resolve));
    const spool: ActivitySpool = {
      name: 'held',
      append: async (records) => {
        appended.push(records.length);
        if (appended.length === 1) await held;
        return real.append(records);
      },
      peek: () => real.peek(),
      remove: (id) => real.remove(id),
      close: () => real.close(),
    };
    const errors: ActivityLogError[] = [];
    const activity = createActivityLogger({ store, spool, batchSize: 5, closeTimeoutMs: 200, retry: { attemptTimeoutMs: 60_000 }, onError: (error) => errors.push(error) });
    for (let i = 0; i < 5; i++) activity.log({ action: 'fails.late' });
    await waitFor(() => failInsert !== undefined);
    const closed = activity.close();
    await waitFor(() => appended.length === 1); // close() gave up, and is spooling the batch
    failInsert(new Error('connection reset'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    letAppend();
    await closed;
    expect(appended, 'appends of the batch to the spool').toEqual([5]);
    expect(activity.stats()).toMatchObject({ spooled: 5, dropped: 0 });
    expect(errors.filter((error) => error.code === 'STORE_FAILED').map((error) => error.message)).toEqual([]);
  });

  it('refuses a timeout that is not a whole number of milliseconds, naming it', () => {
    expect(() => createActivityLogger({ store: memoryStore(), retry: { attemptTimeoutMs: 0 } })).toThrow(/retry\.attemptTimeoutMs: must be a whole number from 1/);
    expect(() => createActivityLogger({ store: memoryStore(), retry: { attemptTimeoutMs: 1.5 } })).toThrow(/retry\.attemptTimeoutMs: must be a whole number from 1/);
  });
});

const skip = skipReason(!POSTGRES_URL ? 'ACTIVITY_LOG_POSTGRES_URL is not set' : undefined);

describe.skipIf(skip)('PostgreSQL: a table locked by another session for longer than the attempts last', () => {
  /** Holds an ACCESS EXCLUSIVE lock on `table` until `release()`: PostgreSQL waits for it without end. */
  async function lockTable(table: string) {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query('begin');
    await client.query(`lock table "${table}" in access exclusive mode`);
    return {
      waiting: async () => {
        const { rows } = await client.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike $1`, [`%insert into "${table}"%`]);
        return rows[0].n as number;
      },
      release: async () => {
        await client.query('rollback');
        await client.end();
      },
    };
  }

  /** A logger on a new, migrated table that another session then holds locked. */
  async function loggerOnLockedTable(prefix: string, options: Pick<ActivityLoggerOptions, 'retry' | 'spool'>) {
    const table = uniqueTable(prefix);
    tables.push(table);
    const activity = createActivityLogger({ store: postgresStore({ connectionString: POSTGRES_URL!, tableName: table }), onError: () => {}, ...options });
    await activity.store.migrate?.();
    return { activity, table, lock: await lockTable(table) };
  }

  it('settles flush() while the lock is held, keeps one insert waiting, and stores each event once when it is released', async () => {
    const { activity, table, lock } = await loggerOnLockedTable('hung_pg', { retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20, attemptTimeoutMs: 300 } });
    try {
      for (let i = 0; i < 20; i++) activity.log({ id: `locked-${i}`, action: 'locked.write' });
      const started = Date.now();
      await activity.flush();
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(activity.stats()).toMatchObject({ failed: 20, queued: 0 });
      expect(await lock.waiting(), 'one insert waits for the lock, not one per attempt').toBe(1);
    } finally {
      await lock.release();
    }
    // The insert that was waiting commits once the lock is gone: counted failed, yet stored once.
    for (let tries = 0; tries < 100 && (await postgresPresence(POSTGRES_URL!, table, 'locked')).rows < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await postgresPresence(POSTGRES_URL!, table, 'locked')).toEqual({ rows: 20, distinct: 20 });
    await activity.close();
  });

  it('with a spool, replays the batch once the lock is released, each event stored once', async () => {
    const { activity, table, lock } = await loggerOnLockedTable('hung_pg_spool', {
      retry: { baseDelayMs: 10, maxDelayMs: 50, attemptTimeoutMs: 300 },
      spool: { filename: join(dir, `hung_pg_spool_${Date.now()}.spool.db`) },
    });
    try {
      for (let i = 0; i < 20; i++) activity.log({ id: `spooled-${i}`, action: 'locked.spooled' });
      await activity.flush();
      expect(activity.stats()).toMatchObject({ spooled: 20, queued: 0 });
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // the replay tries meanwhile
      expect(await lock.waiting(), 'the replay waits for the insert already sent').toBe(1);
    } finally {
      await lock.release();
    }
    await waitFor(() => activity.stats().replayed === 20, 10_000);
    expect(await postgresPresence(POSTGRES_URL!, table, 'spooled')).toEqual({ rows: 20, distinct: 20 });
    await activity.close();
  });
});
