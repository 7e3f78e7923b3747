import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { kyselyStore } from '../../adapters/storage/kysely.js';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import type { SqlActivityStore } from '../../adapters/storage/sql/store.js';
import { createActivityLogger } from '../../src/index.js';
import { MYSQL_URL, POSTGRES_URL } from './databases.js';

/**
 * A `schema` option naming a schema (PostgreSQL), database (MySQL) or attached database
 * (SQLite) that is not there: the store makes its tables but never a schema, and says so,
 * naming the option, rather than passing on the database's own error (or, without
 * migrating, failing every statement on a missing table).
 */

const suffix = `${process.pid}_${Date.now().toString(36)}`;
const refused = (schema: string, ...phrases: string[]) =>
  expect.objectContaining({
    code: 'INVALID_OPTIONS',
    message: expect.stringMatching(new RegExp(`^schema: ${[...phrases, 'The store makes its tables, never their schema'].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}`)),
    details: expect.objectContaining({ schema }),
  });

describe.skipIf(!POSTGRES_URL)('postgresStore, a schema that is not there', () => {
  const missing = `h2_missing_${suffix}`;
  const existing = `h2_Present_${suffix}`;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  const stores: SqlActivityStore[] = [];
  const store = (schema: string, migrate = true) => {
    const made = postgresStore({ connectionString: POSTGRES_URL!, schema, tableName: 'h2_log', migrate, poolConfig: { max: 2 } });
    stores.push(made);
    return made;
  };
  afterAll(async () => {
    for (const made of stores) await made.close();
    await client.query(`drop schema if exists "${existing}" cascade`);
    await client.end();
  });

  it('is refused by name, with what to do, whether the store migrates or not', async () => {
    await client.connect();
    const message = [`there is no schema "${missing}" in this PostgreSQL database`, `create it first (create schema "${missing}")`, "or leave schema out for the search_path's"];
    await expect(store(missing).migrate()).rejects.toEqual(refused(missing, ...message));
    await expect(store(missing, false).get('019b0000-0000-7000-8000-000000000000')).rejects.toEqual(refused(missing, ...message));
    // Through a logger, the write is reported with the same refusal.
    const errors: unknown[] = [];
    const activity = createActivityLogger({ store: store(missing), onError: (error) => errors.push(error), retry: { maxAttempts: 1 } });
    activity.log({ action: 'recipe.update' });
    await activity.close();
    expect(errors).toContainEqual(expect.objectContaining({ cause: refused(missing, ...message) }));
    // Nothing was made: no schema, no table.
    expect((await client.query('select 1 from pg_namespace where nspname = $1', [missing])).rows).toEqual([]);
  });

  it('is matched with its case, as a quoted name is; an existing one is used', async () => {
    await client.query(`create schema "${existing}"`);
    await expect(store(existing.toLowerCase()).migrate()).rejects.toEqual(refused(existing.toLowerCase(), `there is no schema "${existing.toLowerCase()}"`));
    await store(existing).migrate();
    expect((await client.query(`select version from "${existing}"."h2_log_schema"`)).rows).toEqual([{ version: 2 }]);
  });
});

describe.skipIf(!MYSQL_URL)('mysqlStore, a database that is not there', () => {
  const missing = `h2_missing_${suffix}`;
  const existing = `h2_Present_${suffix}`;
  let raw: mysql.Connection;
  const stores: SqlActivityStore[] = [];
  const store = (schema: string, migrate = true) => {
    const made = mysqlStore({ uri: MYSQL_URL!, schema, tableName: 'h2_log', migrate, poolOptions: { connectionLimit: 2 } });
    stores.push(made);
    return made;
  };
  afterAll(async () => {
    for (const made of stores) await made.close();
    await raw?.query(`drop database if exists \`${existing}\``);
    await raw?.end();
  });

  it('is refused by name, with what to do, whether the store migrates or not', async () => {
    raw = await mysql.createConnection(MYSQL_URL!);
    const message = [`there is no database "${missing}" on this MySQL/MariaDB server that this user has rights on`, `create it first (create database \`${missing}\`)`, "or leave schema out for the connection's own"];
    await expect(store(missing).migrate()).rejects.toEqual(refused(missing, ...message));
    await expect(store(missing, false).get('019b0000-0000-7000-8000-000000000000')).rejects.toEqual(refused(missing, ...message));
    const [rows] = await raw.query('select schema_name from information_schema.schemata where schema_name = ?', [missing]);
    expect(rows).toEqual([]);
  });

  it('is matched as the server matches database names (with case, unless lower_case_table_names is set); an existing one is used', async () => {
    await raw.query(`create database \`${existing}\``);
    const [settings] = await raw.query('select @@lower_case_table_names as lower');
    if (Number((settings as { lower: unknown }[])[0]!.lower) === 0) {
      await expect(store(existing.toLowerCase()).migrate()).rejects.toEqual(refused(existing.toLowerCase(), `there is no database "${existing.toLowerCase()}"`));
    }
    await store(existing).migrate();
    const [versions] = await raw.query(`select version from \`${existing}\`.\`h2_log_schema\``);
    expect(versions).toEqual([{ version: 2 }]);
  });
});

describe('kyselyStore over SQLite, a database that is not attached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-missing-schema-'));
  const dbs: Kysely<unknown>[] = [];
  const open = (attach?: string) => {
    const database = new Database(join(dir, `main-${dbs.length}.db`));
    if (attach) database.exec(`attach database '${join(dir, `audit-${dbs.length}.db`)}' as ${attach}`);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database }) });
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const message = ['no database "audit" is attached to this SQLite connection', "attach it first (attach database 'audit.db' as audit)", 'or leave schema out for main'];

  it('is refused by name, with what to do, on the store\'s own use and inside a transaction', async () => {
    const db = open();
    await expect(kyselyStore({ db, schema: 'audit' }).migrate()).rejects.toEqual(refused('audit', ...message));
    await expect(kyselyStore({ db, schema: 'audit', migrate: false }).get('019b0000-0000-7000-8000-000000000000')).rejects.toEqual(refused('audit', ...message));
    const activity = createActivityLogger({ store: kyselyStore({ db, schema: 'audit' }) });
    await expect(db.transaction().execute((trx) => activity.logInTransaction(trx, { action: 'recipe.update' }))).rejects.toEqual(refused('audit', ...message));
    await activity.close();
  });

  it('is matched without case, as SQLite matches it; an attached one is used', async () => {
    const db = open('audit');
    await kyselyStore({ db, schema: 'AUDIT', tableName: 'h2_log' }).migrate();
    const activity = createActivityLogger({ store: kyselyStore({ db, schema: 'audit', tableName: 'h2_log' }) });
    await db.transaction().execute((trx) => activity.logInTransaction(trx, { action: 'recipe.update' }));
    expect(await activity.count({})).toBe(1);
    await activity.close();
  });
});
