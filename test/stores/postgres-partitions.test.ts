import { readFileSync } from 'node:fs';
import { Kysely, PostgresDialect } from 'kysely';
import * as kysely from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MonthlyPartitions } from '../../adapters/storage/sql/partitions.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { uuidv7 } from '../../src/ids.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityRecord } from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { POSTGRES_URL } from './databases.js';

const DAY = 86_400_000;
const skip = !POSTGRES_URL && 'ACTIVITY_LOG_POSTGRES_URL is not set (CI always sets it)';
if (skip) console.warn(`[partitions] skipping: ${skip}`);

/** The UTC month `months` from the current one, as YYYYMM. */
function monthName(months: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1)).toISOString().slice(0, 7).replace('-', '');
}

function monthStart(months: number): number {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1);
}

function record(occurredAtMs: number, n: number, action = 'recipe.view'): ActivityRecord {
  return { id: uuidv7(occurredAtMs + n), occurredAt: new Date(occurredAtMs), action, status: 'success' };
}

describe.skipIf(Boolean(skip))('postgresStore({ partitioning: "monthly" })', () => {
  let pool: pg.Pool;
  let tableName: string;
  const stores: ActivityStore[] = [];
  const loggers: ActivityLogger[] = [];
  const open = (options: { partitioning?: 'monthly' } = { partitioning: 'monthly' }) => {
    const store = postgresStore({ connectionString: POSTGRES_URL!, tableName, poolConfig: { max: 3 }, ...options });
    stores.push(store);
    return store;
  };
  /** Which table each id's row lives in. */
  const placement = async () => {
    const { rows } = await pool.query<{ id: string; part: string }>(`select id, tableoid::regclass::text as part from "${tableName}"`);
    return new Map(rows.map((row) => [row.id, row.part.replace(/"/g, '')]));
  };
  const partitionNames = async () =>
    (
      await pool.query<{ name: string }>(
        `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass order by 1`,
        [`"${tableName}"`],
      )
    ).rows.map((row) => row.name);

  /** The partitions the store would have made ahead at each of these months (as a table that has run for a while has them). */
  const makeMonthsAsOf = async (...months: number[]) => {
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, max: 1 }) }) });
    try {
      for (const month of months) await new MonthlyPartitions(kysely, tableName, undefined).ensureAhead(db, monthStart(month), `test:${tableName}`);
    } finally {
      await db.destroy();
    }
  };

  beforeEach(() => {
    pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    tableName = `al_part_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  });
  afterEach(async () => {
    for (const logger of loggers.splice(0)) await logger.close();
    for (const store of stores.splice(0)) await store.close?.();
    await pool.query(`drop table if exists "${tableName}"; drop table if exists "${tableName}_schema"; drop table if exists "${tableName}_checkpoints"; drop table if exists "${tableName}_leases"`);
    await pool.end();
  });

  it('makes a partitioned table with this month, three ahead and a default partition, and puts each record in its month', async () => {
    const store = open();
    const now = Date.now();
    const records = [record(now, 1), record(monthStart(2) + 1000, 2), record(monthStart(5) + 1000, 3), record(now - 400 * DAY, 4)];
    await store.insert(records);
    const kind = await pool.query(`select relkind::text as kind from pg_class where relname = $1`, [tableName]);
    expect(kind.rows[0].kind).toBe('p');
    expect(await partitionNames()).toEqual([`${tableName}_default`, ...[0, 1, 2, 3].map((i) => `${tableName}_p${monthName(i)}`)]);
    const where = await placement();
    expect(where.get(records[0]!.id)).toBe(`${tableName}_p${monthName(0)}`);
    expect(where.get(records[1]!.id)).toBe(`${tableName}_p${monthName(2)}`);
    // Past the months made ahead, and long before: the default partition, never a failed insert.
    expect(where.get(records[2]!.id)).toBe(`${tableName}_default`);
    expect(where.get(records[3]!.id)).toBe(`${tableName}_default`);
    // A retried batch is skipped, as on a plain table.
    await store.insert(records);
    expect((await pool.query(`select count(*)::int as n from "${tableName}"`)).rows[0].n).toBe(4);
  });

  it('keeps ids unique although the key is (id, occurred_at): the same id at another time is skipped, and retention deletes only what is old', async () => {
    const store = open();
    const id = uuidv7();
    const old = { ...record(Date.now() - 100 * DAY, 1), id };
    const fresh = { ...record(Date.now() - DAY, 2), id };
    await store.insert([old]);
    await store.insert([fresh]);
    await store.insert([record(Date.now(), 3), { ...record(Date.now(), 4), id: 'twice' }, { ...record(Date.now() - 5000, 5), id: 'twice' }]);
    expect((await pool.query(`select count(*)::int as n from "${tableName}" where id = $1`, [id])).rows[0].n).toBe(1);
    expect((await pool.query(`select count(*)::int as n from "${tableName}" where id = 'twice'`)).rows[0].n).toBe(1);
    expect(await store.get(id)).toEqual(old);
    const other = { ...record(Date.now() - 100 * DAY, 6) };
    const kept = { ...record(Date.now() - 100 * DAY, 7), id: 'kept-by-time' };
    await store.insert([other, kept, { ...record(Date.now() - 2 * DAY, 8), id: 'kept-by-time-2' }]);
    // A delete by id alone would take a younger row of the same id with it (in a table where
    // the key lets one exist); the delete names (id, occurred_at).
    await pool.query(`insert into "${tableName}" (id, occurred_at, action, status) values ('kept-by-time', now(), 'recipe.view', 'success')`);
    expect(await store.purge({ before: new Date(Date.now() - 30 * DAY) })).toBe(3);
    expect((await pool.query(`select count(*)::int as n from "${tableName}" where id = 'kept-by-time'`)).rows[0].n).toBe(1);
  });

  it('verify() finds a copy of a sealed record inserted with another time, wherever a page of the walk ends', async () => {
    // The key is (id, occurred_at): a copy with the same id, chain and place, an instant later,
    // is a row of its own. verify() reads 500 records a page; 500 and 1000 end a page.
    const activity = createActivityLogger({ store: open(), integrity: { key: 'k'.repeat(32) } });
    loggers.push(activity);
    for (let i = 0; i < 1_200; i++) activity.log({ action: 'recipe.view', metadata: { i } });
    await activity.flush();
    expect((await activity.verify()).ok).toBe(true);
    const columns = (await pool.query<{ name: string }>(`select column_name as name from information_schema.columns where table_name = $1 and column_name <> 'occurred_at'`, [tableName])).rows
      .map((row) => `"${row.name}"`)
      .join(', ');
    const copy = (seq: number, later: string) =>
      pool.query(`insert into "${tableName}" (${columns}, occurred_at) select ${columns}, occurred_at + $2::interval from "${tableName}" where integrity_seq = $1`, [seq, later]);
    // Copies at the end of a page: one a microsecond later (the same millisecond as a JavaScript Date has it), one a millisecond later.
    await copy(500, '1 microsecond');
    await copy(1000, '1 millisecond');
    const report = await activity.verify();
    expect(report.ok).toBe(false);
    expect(report.checked).toBe(1_202);
    expect(new Set(report.problems.map((found) => found.seq))).toEqual(new Set([500, 1000]));
  });

  it('verify() ends, with a finding, over more copies of one record at one millisecond than a page holds', async () => {
    const activity = createActivityLogger({ store: open(), integrity: { key: 'k'.repeat(32) } });
    loggers.push(activity);
    for (let i = 0; i < 10; i++) activity.log({ action: 'recipe.view', metadata: { i } });
    await activity.flush();
    const columns = (await pool.query<{ name: string }>(`select column_name as name from information_schema.columns where table_name = $1 and column_name <> 'occurred_at'`, [tableName])).rows
      .map((row) => `"${row.name}"`)
      .join(', ');
    await pool.query(
      `insert into "${tableName}" (${columns}, occurred_at) select ${columns}, occurred_at + (n || ' microseconds')::interval from "${tableName}", generate_series(1, 600) as n where integrity_seq = 5`,
    );
    const report = await activity.verify();
    expect(report.ok).toBe(false);
    expect(report.problems.some((found) => found.seq === 5 && /copies of it were inserted/.test(found.detail))).toBe(true);
  });

  it('does not hold inserts behind a detach: a month it cannot lock is deleted in batches, and dropped at a later pass', async () => {
    const store = open();
    await store.migrate!();
    await makeMonthsAsOf(-5);
    const old = Array.from({ length: 10 }, (_, i) => record(monthStart(-5) + i * 1000, i));
    await store.insert(old);
    const errors: string[] = [];
    const logger = createActivityLogger({ store, retention: { days: 62 }, onError: (error) => errors.push(`${error.code}: ${error.message}`) });
    loggers.push(logger);
    // A long report holds the table (as an export would) while the pass runs.
    const reader = await pool.connect();
    let longestInsert = 0;
    try {
      await reader.query('begin');
      await reader.query(`select count(*) from "${tableName}"`);
      const pass = logger.runRetention();
      const writer = (async () => {
        for (let i = 0; i < 20; i++) {
          const started = performance.now();
          await pool.query(`insert into "${tableName}" (id, occurred_at, action, status) values ($1, now(), 'recipe.view', 'success')`, [`w-${i}`]);
          longestInsert = Math.max(longestInsert, performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      expect(await pass).toBe(10);
      await writer;
    } finally {
      await reader.query('rollback');
      reader.release();
    }
    expect(errors).toEqual([]);
    // Each try at the lock waits 200 ms at most: an insert queued behind it waits no longer.
    expect(longestInsert).toBeLessThan(1500);
    expect(await partitionNames()).toContain(`${tableName}_p${monthName(-5)}`);
    // Nothing holds the table now: the emptied month is dropped.
    expect(await logger.runRetention()).toBe(0);
    expect(await partitionNames()).not.toContain(`${tableName}_p${monthName(-5)}`);
  });

  it('writes with a role that may not create tables, with migrate: false, when a month ahead is missing', async () => {
    const admin = open();
    await admin.migrate!();
    await admin.close!();
    // A month passed and nobody made the next one: it is missing.
    await pool.query(`drop table "${tableName}_p${monthName(3)}"`);
    const role = `al_dml_${Math.random().toString(36).slice(2, 8)}`;
    await pool.query(`create role ${role} login`);
    try {
      await pool.query(`grant usage on schema public to ${role}; grant select, insert, delete on "${tableName}", "${tableName}_schema" to ${role}`);
      const url = new globalThis.URL(POSTGRES_URL!);
      url.username = role;
      const store = postgresStore({ connectionString: url.toString(), tableName, migrate: false, partitioning: 'monthly', poolConfig: { max: 2 } });
      stores.push(store);
      const records = [record(Date.now(), 1), record(monthStart(3) + 1000, 2)];
      await store.insert(records);
      expect(await store.count({})).toBe(2);
      expect((await placement()).get(records[1]!.id)).toBe(`${tableName}_default`);
      // migrate() is where the missing month shows: the role may not make it.
      await expect(store.migrate()).rejects.toMatchObject({ code: '42501' });
      await store.close();
    } finally {
      await pool.query(`drop owned by ${role}; drop role ${role}`);
    }
  });

  it('moves the records of a month out of the default partition when that month gets its own', async () => {
    const store = open();
    const later = record(monthStart(6) + 5000, 1);
    await store.insert([later]);
    expect((await placement()).get(later.id)).toBe(`${tableName}_default`);
    // As the store does three months before: the month becomes one of the months ahead.
    await makeMonthsAsOf(4);
    expect((await placement()).get(later.id)).toBe(`${tableName}_p${monthName(6)}`);
    expect(await store.get(later.id)).toEqual(later);
  });

  it('lets retention drop whole months and delete the rest in batches, counted in stats().purged', async () => {
    const store = open();
    await store.migrate!();
    // Months that were ahead once: partitions for the past five months exist, as they would.
    await makeMonthsAsOf(-5, -1);
    const records: ActivityRecord[] = [];
    for (let month = -5; month <= 0; month++) {
      for (let i = 0; i < 20; i++) records.push(record(monthStart(month) + i * 3_600_000, records.length));
    }
    // One very old record in the default partition.
    records.push(record(Date.now() - 900 * DAY, records.length));
    await store.insert(records);
    const days = 62;
    const logger = createActivityLogger({ store, retention: { days, batchSize: 7 } });
    loggers.push(logger);
    const removed = await logger.runRetention();
    const cutoff = Date.now() - days * DAY;
    const expected = records.filter((r) => r.occurredAt.getTime() < cutoff);
    expect(removed).toBe(expected.length);
    expect(logger.stats().purged).toBe(removed);
    const left = (await pool.query<{ id: string }>(`select id from "${tableName}" order by id`)).rows.map((row) => row.id);
    expect(left).toEqual(records.filter((r) => r.occurredAt.getTime() >= cutoff).map((r) => r.id).sort());
    // Months that ended before the cutoff are gone as tables, not only emptied.
    const names = await partitionNames();
    for (let month = -5; month <= 0; month++) {
      const ended = monthStart(month + 1) <= cutoff;
      expect({ month, present: names.includes(`${tableName}_p${monthName(month)}`) }).toEqual({ month, present: !ended });
    }
    expect(names.filter((name) => name.includes('_p')).length).toBeGreaterThanOrEqual(4);
  });

  it('finishes a drop that stopped between its detach and its drop (a crash): the detached month is dropped and counted', async () => {
    const store = open();
    await store.migrate!();
    await makeMonthsAsOf(-5);
    await store.insert(Array.from({ length: 4 }, (_, i) => record(monthStart(-5) + i * 1000, i)));
    await pool.query(`alter table "${tableName}" detach partition "${tableName}_p${monthName(-5)}"`);
    const logger = createActivityLogger({ store, retention: { days: 62 } });
    loggers.push(logger);
    expect(await logger.runRetention()).toBe(4);
    const left = await pool.query(`select 1 from pg_class where relname = $1`, [`${tableName}_p${monthName(-5)}`]);
    expect(left.rows).toEqual([]);
  });

  it('drops no partition when records that match no rule are kept forever', async () => {
    const store = open();
    await store.migrate!();
    await makeMonthsAsOf(-5);
    const kept = record(monthStart(-5) + 1000, 1, 'recipe.view');
    const gone = record(monthStart(-5) + 2000, 2, 'activity.query');
    await store.insert([kept, gone]);
    const logger = createActivityLogger({ store, retention: { rules: [{ action: 'activity.*', days: 30 }] } });
    loggers.push(logger);
    expect(await logger.runRetention()).toBe(1);
    expect(await partitionNames()).toContain(`${tableName}_p${monthName(-5)}`);
    expect(await store.get(kept.id)).toEqual(kept);
  });

  it("moves an existing table into a partitioned one by the README's procedure", async () => {
    const plain = open({});
    const now = Date.now();
    const records = [record(now - 40 * DAY, 1), record(now - 10 * DAY, 2), record(now, 3), record(now - 500 * DAY, 4)];
    await plain.insert(records);
    await plain.close!();
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /```sql\n(begin;[\s\S]*?)```/.exec(readme)![1]!;
    // The README's SQL, on this test's table, every month copied instead of one.
    const forTable = (text: string) => text.replaceAll('activity_logs', tableName);
    const rename = block.slice(0, block.indexOf('commit;') + 'commit;'.length);
    await pool.query(forTable(rename));
    const partitioned = open();
    await partitioned.migrate!();
    const copy = /insert into[\s\S]*?on conflict do nothing;/.exec(block)![0].replace(/where occurred_at[\s\S]*?on conflict/, 'on conflict');
    await pool.query(forTable(copy));
    await pool.query(forTable(/drop table activity_logs_old;.*$/m.exec(block)![0]));
    expect(await partitioned.count!({})).toBe(4);
    for (const each of records) expect(await partitioned.get(each.id)).toEqual(each);
    expect((await placement()).get(records[2]!.id)).toBe(`${tableName}_p${monthName(0)}`);
    const indexes = await pool.query<{ name: string }>(`select indexname as name from pg_indexes where tablename = $1 order by 1`, [tableName]);
    expect(indexes.rows.map((row) => row.name)).toEqual(['action', 'actor', 'chain', 'pkey', 'target', 'tenant', 'time'].map((suffix) => (suffix === 'pkey' ? `${tableName}_pkey` : `${tableName}_${suffix}_idx`)).sort());
  });

  it('refuses partitioning on a table that exists unpartitioned, and writes a partitioned table without the option', async () => {
    const plain = open({});
    await plain.migrate!();
    await expect(open().migrate!()).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringContaining('partitioning: table') });
    await pool.query(`drop table "${tableName}"; drop table "${tableName}_schema"`);
    const partitioned = open();
    await partitioned.migrate!();
    const withoutOption = open({});
    const records = [record(Date.now(), 1), record(Date.now(), 2)];
    await withoutOption.insert(records);
    await withoutOption.insert(records);
    expect(await withoutOption.count!({})).toBe(2);
  });
});
