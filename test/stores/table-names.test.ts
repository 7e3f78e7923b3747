import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { captureChanges, kyselyStore } from '../../adapters/storage/kysely.js';
import { createActivityLogger } from '../../src/index.js';

// Names the user chooses: where the log table lives and what it is called reach every
// statement and every name derived from it (indexes, the version table, checkpoints).

const dir = mkdtempSync(join(tmpdir(), 'activity-log-table-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function attached(name: string) {
  const database = new Database(join(dir, `${name}-main.db`));
  database.exec(`attach database '${join(dir, `${name}-audit.db`)}' as audit`);
  return { database, db: new Kysely<any>({ dialect: new SqliteDialect({ database }) }) };
}

describe('kyselyStore over SQLite, log table in an attached database (schema)', () => {
  it('migrates into that database, indexes included, and logs, reads and verifies there', async () => {
    const { database, db } = attached('store');
    const activity = createActivityLogger({ store: kyselyStore({ db, tableName: 'Order_Log', schema: 'audit' }), integrity: { key: 'k'.repeat(32) } });
    activity.log({ action: 'recipe.update', actor: { type: 'user', id: 'u1' } });
    await activity.flush();
    await db.transaction().execute((trx) => activity.logInTransaction(trx, { action: 'recipe.delete', actor: { type: 'user', id: 'u2' } }));
    expect(await activity.count({})).toBe(2);
    expect((await activity.verify()).ok).toBe(true);
    const inAudit = database.prepare(`select name from audit.sqlite_master where type = 'index' and name like 'Order_Log_%_idx' order by name`).all();
    expect(inAudit.map((row: any) => row.name)).toEqual(['Order_Log_action_idx', 'Order_Log_actor_idx', 'Order_Log_chain_idx', 'Order_Log_target_idx', 'Order_Log_tenant_idx', 'Order_Log_time_idx']);
    expect(database.prepare(`select count(*) as n from main.sqlite_master where name like 'Order_Log%'`).get()).toEqual({ n: 0 });
    // A second start finds everything in place (the column and index probes look in "audit").
    await kyselyStore({ db, tableName: 'Order_Log', schema: 'audit' }).migrate();
    await activity.close();
    await db.destroy();
  });

  it('refuses change capture into it by name, before a trigger that would fail every write of the audited table', async () => {
    const { db } = attached('capture');
    await sql`create table "order" (id integer primary key, title text)`.execute(db);
    const activity = createActivityLogger({ store: kyselyStore({ db, tableName: 'activity_logs', schema: 'audit' }) });
    await expect(captureChanges(db, activity, { order: { target: 'order' } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('in the attached database "audit"'),
    });
    // The audited table is still writable: no trigger was left behind.
    await sql`insert into "order" (title) values ('soup')`.execute(db);
    expect(await db.selectFrom('sqlite_master').select('name').where('type', '=', 'trigger').execute()).toEqual([]);
    await activity.close();
    await db.destroy();
  });
});
