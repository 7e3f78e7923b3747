import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { captureChanges, kyselyStore } from '../../adapters/storage/kysely.js';
import { createActivityLogger } from '../../src/index.js';
import { POSTGRES_URL, uniqueName } from './databases.js';

/**
 * The triggers name the log table with its schema: a write from a session whose search_path
 * does not reach the log table (another service, psql with its own settings) still succeeds
 * and is recorded. Real PostgreSQL.
 */
if (!POSTGRES_URL) console.warn('[capture] PostgreSQL search_path test skipped: ACTIVITY_LOG_POSTGRES_URL is not set');
describe.skipIf(!POSTGRES_URL)('change capture on PostgreSQL with another search_path', () => {
  const schema = uniqueName('cap_s');
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
  afterAll(async () => {
    await admin.query(`drop schema if exists "${schema}" cascade`);
    await admin.end();
  });

  it('records a write made from a session whose search_path lacks the log table', async () => {
    await admin.query(`create schema "${schema}"`);
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, max: 2, options: `-c search_path=${schema}` }) }) });
    const activity = createActivityLogger({ store: kyselyStore({ db }) });
    try {
      await db.schema.createTable('t').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'text').execute();
      await captureChanges(db, activity, { t: { target: 'thing', name: 'v' } });
      await db.insertInto('t').values({ id: 1, v: 'a' }).execute();
      // The default search_path (public) has no activity_logs, or another one.
      await admin.query(`update "${schema}".t set v = 'b' where id = 1`);
      const page = await activity.query({ targetType: 'thing' });
      expect(page.items.map((record) => [record.action, record.actor?.type])).toEqual([
        ['thing.updated', 'database'],
        ['thing.created', 'database'],
      ]);
    } finally {
      await activity.close();
      await db.destroy();
    }
  });
});
