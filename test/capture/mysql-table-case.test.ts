import { Kysely, MysqlDialect, sql } from 'kysely';
import mysql from 'mysql2';
import { afterAll, describe, expect, it } from 'vitest';
import { captureChanges, kyselyStore, removeChangeCapture } from '../../adapters/storage/kysely.js';
import { createActivityLogger } from '../../src/index.js';
import { MYSQL_URL, uniqueName } from './databases.js';

// On MySQL/MariaDB (Linux, lower_case_table_names=0) `Recipes` and `recipes` are two tables.
// Their installs were recorded in `<log>_capture` under keys compared case-insensitively (the
// database's default collation): one row for both, so each captureChanges replaced the other's
// triggers again, and removeChangeCapture() lost track of one table's triggers for good.

describe.skipIf(!MYSQL_URL)('change capture on MySQL: audited tables whose names differ only by case', () => {
  const base = uniqueName('h2_case');
  const upper = `${base}_Recipes`;
  const lower = `${base}_recipes`;
  const log = `${base}_log`;
  const pool = mysql.createPool({ uri: MYSQL_URL!, connectionLimit: 2 });
  const db = new Kysely<any>({ dialect: new MysqlDialect({ pool }) });

  afterAll(async () => {
    for (const table of [upper, lower, log, `${log}_schema`, `${log}_checkpoints`, `${log}_leases`, `${log}_capture`]) await sql`drop table if exists ${sql.id(table)}`.execute(db);
    await db.destroy();
  });

  // Filtered here: information_schema compares table names as the server pleases.
  const triggers = async () =>
    (await sql<{ t: string }>`select event_object_table as t from information_schema.triggers where trigger_schema = database()`.execute(db)).rows
      .map((row) => String(row.t))
      .filter((table) => table === upper || table === lower);

  it('keeps one record per table: reinstalls neither, removes each by its own name', async () => {
    for (const table of [upper, lower]) await sql`create table ${sql.id(table)} (id int auto_increment primary key, title text)`.execute(db);
    // The record table as an earlier release made it, with the database's default collation: upgraded in place.
    await sql`create table ${sql.id(`${log}_capture`)} (table_key varchar(200) not null primary key, version integer not null, fingerprint varchar(64) not null) default charset=utf8mb4 collate=utf8mb4_general_ci`.execute(db);
    const activity = createActivityLogger({ store: kyselyStore({ db, tableName: log }) });
    const tables = { [upper]: { target: 'upper' }, [lower]: { target: 'lower' } };
    expect(await captureChanges(db, activity, tables)).toEqual({ installed: [upper, lower], unchanged: [] });
    expect(await captureChanges(db, activity, tables)).toEqual({ installed: [], unchanged: [upper, lower] });
    await sql`insert into ${sql.id(upper)} (title) values ('soup')`.execute(db);
    await sql`insert into ${sql.id(lower)} (title) values ('stew')`.execute(db);
    await activity.flush();
    expect((await activity.query({})).items.map((record) => record.action).sort()).toEqual(['lower.created', 'upper.created']);
    expect(await removeChangeCapture(db, activity, [upper])).toEqual([upper]);
    expect(await triggers()).toEqual([lower, lower, lower]);
    expect(await removeChangeCapture(db, activity)).toEqual([lower]);
    expect(await triggers()).toEqual([]);
    await activity.close();
  });
});
