import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/logger.js';
import type { ActivityStore } from '../../src/store.js';
import { POSTGRES_URL } from './databases.js';

// logInTransaction(trx, event) promises the record exists if and only if the caller's change
// commits: given the Kysely itself instead of its transaction (`db` for `trx`), it wrote at
// once, outside any transaction, and the record outlived a rolled-back change.

async function refusesKyselyOutsideTransaction(db: Kysely<unknown>, store: ActivityStore, countRows: () => Promise<number>) {
  const activity = createActivityLogger({ store });
  try {
    await expect(
      db.transaction().execute(async () => {
        await activity.logInTransaction(db, { action: 'recipe.update', target: { type: 'recipe', id: 'r_1' } });
        throw new Error('the business change fails');
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringMatching(/insertInTransaction: .*not in a transaction/) });
    expect(await countRows()).toBe(0);
    // The transaction itself is still taken, and its record rolls back with it.
    await db.transaction().execute((trx) => activity.logInTransaction(trx, { action: 'recipe.update', metadata: { committed: true } }));
    await expect(
      db.transaction().execute(async (trx) => {
        await activity.logInTransaction(trx, { action: 'recipe.delete' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await countRows()).toBe(1);
    expect((await activity.query({})).items.map((record) => record.action)).toEqual(['recipe.update']);
  } finally {
    await activity.close();
  }
}

describe('logInTransaction given a Kysely that is not a transaction', () => {
  it('is refused on SQLite, and nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-trx-'));
    const filename = join(dir, 'app.db');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(filename) }) });
    try {
      const store = sqliteStore({ filename, tableName: 'activity_logs' });
      await store.migrate!();
      await refusesKyselyOutsideTransaction(db, store, async () => {
        const { rows } = await sql<{ n: number }>`select count(*) as n from activity_logs`.execute(db);
        return Number(rows[0]!.n);
      });
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!POSTGRES_URL)('is refused on PostgreSQL, and nothing is written', async () => {
    const tableName = `log_in_trx_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }) }) });
    try {
      const store = postgresStore({ connectionString: POSTGRES_URL!, tableName });
      await store.migrate!();
      await refusesKyselyOutsideTransaction(db, store, async () => {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(tableName)}`.execute(db);
        return rows[0]!.n;
      });
    } finally {
      for (const suffix of ['', '_schema', '_checkpoints', '_leases']) await sql`drop table if exists ${sql.table(tableName + suffix)}`.execute(db);
      await db.destroy();
    }
  });
});
