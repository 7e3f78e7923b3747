import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { captureChanges, kyselyStore } from '../../adapters/storage/kysely.js';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';
import { MYSQL_URL, POSTGRES_URL } from './databases.js';
import mysql from 'mysql2/promise';

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

describe('table and schema names the stores refuse at construction', () => {
  const refused = (make: () => unknown, message: string) =>
    expect(make).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining(message) }));

  it('names the option and the whole rule, quoting the value (never reaching SQL)', () => {
    const filename = join(dir, 'refused.db');
    for (const tableName of ['Activity-Log', 'activity log', 'logs"; drop table users; --', '2fa_log', '', 'x'.repeat(49)]) {
      refused(() => sqliteStore({ filename, tableName }), 'tableName: must be letters, digits and "_", not starting with a digit, at most 48');
      refused(() => postgresStore({ connectionString: 'postgres://127.0.0.1:1/none', tableName }), `got ${JSON.stringify(tableName.length > 60 ? `${tableName.slice(0, 60)}…` : tableName)}`);
    }
    refused(() => sqliteStore({ filename, tableName: 42 as never }), 'tableName: must be letters, digits and "_", not starting with a digit, at most 48 (the names made from it, such as "<tableName>_checkpoints", must fit the databases\' 63), got 42');
    for (const schema of ['my-schema', 'audit.logs', '1audit', 'a'.repeat(64)]) {
      refused(() => mysqlStore({ uri: 'mysql://127.0.0.1:1/none', schema }), 'schema: must be letters, digits and "_", not starting with a digit, at most 63');
    }
    // The longest names allowed are allowed.
    expect(() => postgresStore({ connectionString: 'postgres://127.0.0.1:1/none', tableName: `A${'b'.repeat(47)}`, schema: `S${'c'.repeat(62)}` })).not.toThrow();
  });
});

describe.skipIf(!POSTGRES_URL)('PostgreSQL: the longest table name, mixed case, in a schema of 63 characters, partitioned', () => {
  const schema = `h2_names_${process.pid}_${Date.now().toString(36)}`.padEnd(63, 'x');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  afterAll(async () => {
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });

  it('derives every name uncut: indexes, checkpoints, partitions; logs, verifies and purges', async () => {
    await client.connect();
    await client.query(`create schema "${schema}"`);
    const tableName = `Audit_${'L'.repeat(42)}`;
    expect(tableName).toHaveLength(48);
    const activity = createActivityLogger({ store: postgresStore({ connectionString: POSTGRES_URL!, schema, tableName, partitioning: 'monthly' }), integrity: { key: 'k'.repeat(32) } });
    activity.log({ action: 'recipe.update', actor: { type: 'user', id: 'u1' } });
    activity.log({ action: 'recipe.update', actor: { type: 'user', id: 'u2' }, occurredAt: new Date(Date.now() - 400 * 86_400_000) });
    await activity.flush();
    expect((await activity.verify()).ok).toBe(true);
    expect(await activity.purge({ before: new Date(Date.now() - 200 * 86_400_000) })).toBe(1);
    expect(await activity.count({})).toBe(1);
    await activity.close();
    const { rows } = await client.query<{ relname: string }>(`select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 order by relname`, [schema]);
    const names = rows.map((row) => row.relname);
    for (const suffix of ['', '_schema', '_checkpoints', '_default', '_time_idx', '_tenant_idx', '_chain_idx']) expect(names).toContain(`${tableName}${suffix}`);
    expect(names.filter((name) => /_p\d{6}$/.test(name)).every((name) => name.startsWith(`${tableName}_p`))).toBe(true);
  }, 60_000);
});

describe.skipIf(!MYSQL_URL)('MySQL: two log tables whose names differ only by case', () => {
  const base = `h2_case_${process.pid}_${Date.now().toString(36)}`;
  const upper = `${base}_Log`;
  const lower = `${base}_log`;
  let connection: mysql.Connection;
  afterAll(async () => {
    for (const name of [upper, lower]) for (const suffix of ['', '_schema', '_checkpoints', '_leases']) await connection.query(`drop table if exists \`${name}${suffix}\``);
    await connection.end();
  });

  it("an upgrade left half done (columns added, index not) adds the index, though the other table's has its name but for case", async () => {
    connection = await mysql.createConnection({ uri: MYSQL_URL! });
    for (const tableName of [upper, lower]) await mysqlStore({ uri: MYSQL_URL!, tableName }).migrate().then(() => undefined);
    // As a version-1 upgrade that stopped after its columns (MySQL's DDL does not roll back).
    await connection.query(`alter table \`${lower}\` drop index \`${lower}_chain_idx\``);
    await connection.query(`update \`${lower}_schema\` set version = 1`);
    const store = mysqlStore({ uri: MYSQL_URL!, tableName: lower });
    await store.migrate();
    await store.close();
    const [rows] = await connection.query(`select table_name as t, index_name as i from information_schema.statistics where table_schema = database() and index_name like '%chain_idx'`);
    const found = (rows as { t: string; i: string }[]).map((row) => `${row.t} ${row.i}`).filter((row) => row.startsWith(base));
    expect([...new Set(found)].sort()).toEqual([`${upper} ${upper}_chain_idx`, `${lower} ${lower}_chain_idx`].sort());
  }, 60_000);
});
