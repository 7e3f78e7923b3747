import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { captureChanges } from '../../adapters/storage/kysely.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { runWithActivityContext } from '../../src/context.js';
import { createActivityLogger } from '../../src/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { POSTGRES_URL, uniqueName } from './databases.js';

/**
 * Capture with the stores that open their own connections (sqliteStore on the app's file,
 * postgresStore on the app's database): the triggers write into the store's table from the
 * app's connection while the store writes the logged events from its own. Real SQLite file,
 * real PostgreSQL.
 */
describe('change capture with a store of its own connection', () => {
  it('sqliteStore on the app’s file: captured and logged records side by side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-capture-own-'));
    const filename = join(dir, 'app.db');
    const app = new Database(filename, { timeout: 5000 });
    app.pragma('journal_mode = WAL');
    app.exec('create table notes (id integer primary key, body text)');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: app }) });
    const activity = createActivityLogger({ store: sqliteStore({ filename }) });
    try {
      await captureChanges(db, activity, { notes: { target: 'note' } });
      await runWithActivityContext(activity.with({ actor: { type: 'user', id: 'n1' } }), async () => {
        for (let i = 1; i <= 50; i++) {
          activity.log({ action: 'note.viewed', target: { type: 'note', id: String(i) } });
          await db.insertInto('notes').values({ id: i, body: `Note ${i}` }).execute();
        }
      });
      await activity.flush();
      expect(await activity.count({ action: 'note.created', actorId: 'n1' })).toBe(50);
      expect(await activity.count({ action: 'note.viewed' })).toBe(50);
    } finally {
      await activity.close();
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a store that keeps no SQL table, naming it', async () => {
    const app = new Database(':memory:');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: app }) });
    const activity = createActivityLogger({ store: memoryStore() });
    await expect(captureChanges(db, activity, { notes: { target: 'note' } })).rejects.toThrow(/store "memory" keeps no SQL table/);
    await activity.close();
    await db.destroy();
  });

  it('refuses a log table in another database than db’s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-capture-own-'));
    const app = new Database(join(dir, 'app.db'));
    app.exec('create table notes (id integer primary key, body text)');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: app }) });
    const activity = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'elsewhere.db') }) });
    try {
      await expect(captureChanges(db, activity, { notes: { target: 'note' } })).rejects.toThrow(/not in the database of db/);
      // Nothing installed: the app's writes go on.
      await db.insertInto('notes').values({ id: 1, body: 'x' }).execute();
    } finally {
      await activity.close();
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (!POSTGRES_URL) console.warn('[capture] postgresStore case skipped: ACTIVITY_LOG_POSTGRES_URL is not set');
  it.skipIf(!POSTGRES_URL)('postgresStore on the app’s database', async () => {
    const tableName = uniqueName('cap_own_log');
    const notes = uniqueName('cap_own_notes');
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    const activity = createActivityLogger({ store: postgresStore({ connectionString: POSTGRES_URL!, tableName }) });
    try {
      await db.schema.createTable(notes).addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('body', 'text').execute();
      await captureChanges(db, activity, { [notes]: { target: 'note' } });
      await runWithActivityContext(activity.with({ actor: { type: 'user', id: 'p1' } }), () => db.insertInto(notes).values({ id: 1, body: 'x' }).execute());
      const [record] = (await activity.query({ action: 'note.created' })).items;
      expect(record?.actor).toEqual({ type: 'user', id: 'p1' });
    } finally {
      await activity.close();
      for (const table of [notes, tableName, `${tableName}_schema`, `${tableName}_checkpoints`, `${tableName}_capture`]) await pool.query(`drop table if exists "${table}" cascade`);
      await pool.query(`drop function if exists "activity_log_capture_${notes}"()`);
      await db.destroy();
    }
  });
});
