import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger, type ActivityLogError, type ActivityStore } from '../../src/index.js';
import { MYSQL_URL, POSTGRES_URL } from './databases.js';

/**
 * A record the database refuses must cost only itself, however the server files the refusal.
 * MySQL 8 files a CHECK constraint's refusal under SQLSTATE HY000 (errno 3819,
 * ER_CHECK_CONSTRAINT_VIOLATED), not under class 23 as MariaDB does; a MySQL trigger may SIGNAL
 * any user-defined SQLSTATE of class 45, not only 45000; a PostgreSQL trigger may `assert`
 * (P0004). Taken for an outage, each cost the whole batch (retried, then failed or spooled).
 * Each refusal is raised here by a real trigger (on MariaDB, signalling exactly what MySQL 8 sends).
 */

const newTableName = () => `al_refuse_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;

/** 99 good events and one the table refuses (target id "poison"): only that one is lost, reported as refused. */
async function expectOnlyTheRefusedRecordLost(store: ActivityStore, refusal: RegExp): Promise<void> {
  const errors: ActivityLogError[] = [];
  const activity = createActivityLogger({ store, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 }, onError: (error) => errors.push(error) });
  for (let i = 0; i < 99; i++) activity.log({ action: 'good.event', metadata: { i } });
  activity.log({ action: 'bad.event', target: { type: 'thing', id: 'poison' } });
  await activity.flush();
  expect(await activity.count({ action: 'good.event' })).toBe(99);
  expect(activity.stats()).toMatchObject({ written: 99, invalid: 1, failed: 0, retries: 0 });
  expect(errors.map((error) => error.code)).toEqual(['RECORD_REJECTED']);
  expect(errors[0]!.message).toMatch(refusal);
  await activity.close();
}

const mysqlSkip = !MYSQL_URL && 'ACTIVITY_LOG_MYSQL_URL is not set (CI always sets it)';
if (mysqlSkip) console.warn(`[mysql content refusals] skipping: ${mysqlSkip}`);

describe.skipIf(Boolean(mysqlSkip))('mysqlStore: a refused record costs only itself', () => {
  const tables: string[] = [];
  afterAll(async () => {
    const connection = await mysql.createConnection(MYSQL_URL!);
    for (const table of tables) await connection.query(`drop table if exists \`${table}\`, \`${table}_schema\`, \`${table}_checkpoints\``);
    await connection.end();
  });

  /** A new, migrated table, with `statements(table)` run on it through MySQL's own client. */
  async function tableWith(statements: (table: string) => string[]): Promise<string> {
    const tableName = newTableName();
    tables.push(tableName);
    const warmUp = mysqlStore({ uri: MYSQL_URL!, tableName });
    await warmUp.migrate();
    await warmUp.close();
    const connection = await mysql.createConnection(MYSQL_URL!);
    for (const statement of statements(tableName)) await connection.query(statement);
    await connection.end();
    return tableName;
  }

  const refusals = [
    ['a CHECK constraint as MySQL 8 refuses it (errno 3819, SQLSTATE HY000)', "signal sqlstate 'HY000' set mysql_errno = 3819, message_text = 'Check constraint ''no_poison'' is violated.'"],
    ['a trigger signalling a user-defined SQLSTATE other than 45000', "signal sqlstate '45001' set message_text = 'poisoned target'"],
  ] as const;
  for (const [refusal, signal] of refusals) {
    it(`writes the rest of the batch and counts the record invalid when refused by ${refusal}`, async () => {
      const tableName = await tableWith((table) => [`create trigger \`${table}_refuse\` before insert on \`${table}\` for each row begin if new.target_id = 'poison' then ${signal}; end if; end`]);
      await expectOnlyTheRefusedRecordLost(mysqlStore({ uri: MYSQL_URL!, tableName }), /\(bad\.event\): target\.id: refused by store "mysql": /);
    });
  }

  it('names a required field the table refuses (a CHECK constraint on the action)', async () => {
    const tableName = await tableWith((table) => [`alter table \`${table}\` add constraint \`${table}_no_bad\` check (action <> 'bad.event')`]);
    await expectOnlyTheRefusedRecordLost(mysqlStore({ uri: MYSQL_URL!, tableName }), /\(bad\.event\): action: refused by store "mysql": /);
  });
});

const postgresSkip = !POSTGRES_URL && 'ACTIVITY_LOG_POSTGRES_URL is not set (CI always sets it)';
if (postgresSkip) console.warn(`[postgres content refusals] skipping: ${postgresSkip}`);

describe.skipIf(Boolean(postgresSkip))('postgresStore: a refused record costs only itself', () => {
  const tables: string[] = [];
  afterAll(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    for (const table of tables) await client.query(`drop table if exists "${table}", "${table}_schema", "${table}_checkpoints"`);
    await client.query('drop function if exists al_refuse_poison_by_assert()');
    await client.end();
  });

  /** A new, migrated table, with `statements(table)` run on it through PostgreSQL's own client. */
  async function tableWith(statements: (table: string) => string[]): Promise<string> {
    const tableName = newTableName();
    tables.push(tableName);
    const warmUp = postgresStore({ connectionString: POSTGRES_URL!, tableName });
    await warmUp.migrate();
    await warmUp.close();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    for (const statement of statements(tableName)) await client.query(statement);
    await client.end();
    return tableName;
  }

  it('writes the rest of the batch and counts the record invalid when a trigger refuses it with assert', async () => {
    const tableName = await tableWith((table) => [
      `create or replace function al_refuse_poison_by_assert() returns trigger language plpgsql as $$ begin assert new.target_id is distinct from 'poison', 'poisoned target'; return new; end $$`,
      `create trigger "${table}_refuse" before insert on "${table}" for each row execute function al_refuse_poison_by_assert()`,
    ]);
    await expectOnlyTheRefusedRecordLost(postgresStore({ connectionString: POSTGRES_URL!, tableName }), /\(bad\.event\): target\.id: refused by store "postgres": poisoned target/);
  });

  it('names a required field the table refuses (a CHECK constraint on the action)', async () => {
    const tableName = await tableWith((table) => [`alter table "${table}" add constraint "${table}_no_bad" check (action <> 'bad.event')`]);
    await expectOnlyTheRefusedRecordLost(postgresStore({ connectionString: POSTGRES_URL!, tableName }), /\(bad\.event\): action: refused by store "postgres": /);
  });
});

describe('sqliteStore: a refused record costs only itself, and the refused field is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-refusals-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['worker', 'main'] as const)('names the action a trigger refuses (writer: %s)', async (writer) => {
    const filename = join(dir, `${writer}.db`);
    const warmUp = sqliteStore({ filename });
    await warmUp.migrate?.();
    await warmUp.close?.();
    const db = new Database(filename);
    db.exec(`create trigger refuse_bad before insert on activity_logs for each row when new.action = 'bad.event' begin select raise(abort, 'no bad events'); end`);
    db.close();
    await expectOnlyTheRefusedRecordLost(sqliteStore({ filename, writer }), /\(bad\.event\): action: refused by store "sqlite": no bad events/);
  });
});
