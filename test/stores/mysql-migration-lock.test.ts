import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { mysqlLockName } from '../../adapters/storage/sql/mysql.js';
import type { SqlActivityStore } from '../../adapters/storage/sql/store.js';
import { MYSQL_URL } from './databases.js';

/**
 * The GET_LOCK that serialises a table's migrations on MySQL and MariaDB: lock names are the
 * server's (not a database's) and MySQL takes at most 64 characters, so the name is a
 * readable start and a hash of the whole database and table names.
 */

describe('mysqlLockName', () => {
  const longestDatabase = `d${'x'.repeat(62)}`;
  const longestTable = `t${'y'.repeat(47)}`;

  it('is at most 64 characters for the longest names, and tells apart names alike in their first 64', () => {
    for (const scope of ['activity-log', 'activity-log:capture']) {
      const name = mysqlLockName(scope, longestDatabase, longestTable);
      expect(name.length).toBeLessThanOrEqual(64);
      expect(name.startsWith(`${scope}:dxxx`)).toBe(true);
      expect(mysqlLockName(scope, longestDatabase, `${longestTable.slice(0, -1)}z`)).not.toBe(name);
    }
    expect(mysqlLockName('activity-log', 'app', 'activity_logs')).toMatch(/^activity-log:app\.activity_logs:[0-9a-f]{16}$/);
  });

  it('is one name per scope, database and table: the same table always gets the same one', () => {
    const name = mysqlLockName('activity-log', 'app', 'logs');
    expect(mysqlLockName('activity-log', 'app', 'logs')).toBe(name);
    // Two tables on Linux, and lock names may compare without case: the hash tells them apart.
    expect(mysqlLockName('activity-log', 'app', 'Logs').toLowerCase()).not.toBe(name.toLowerCase());
    expect(mysqlLockName('activity-log', 'app2', 'logs')).not.toBe(name);
    expect(mysqlLockName('activity-log:capture', 'app', 'logs')).not.toBe(name);
    // The parts are not run together: "a.b" + "c" is not "a" + "b.c".
    expect(mysqlLockName('activity-log', 'a.b', 'c')).not.toBe(mysqlLockName('activity-log', 'a', 'b.c'));
  });
});

const skip = !MYSQL_URL && 'ACTIVITY_LOG_MYSQL_URL is not set (CI always sets it)';
if (skip) console.warn(`[mysql migration lock] skipping: ${skip}`);

describe.skipIf(Boolean(skip))('mysqlStore migration lock, on the server', () => {
  // A 56-character database: "activity-log:<database>." alone is past 64, so a name cut at 64
  // was one lock for every table of this database.
  const database = `h2_migration_lock_${Date.now().toString(36)}_`.padEnd(56, 'd');
  const stores: SqlActivityStore[] = [];
  let raw: mysql.Connection;
  let holder: mysql.Connection | undefined;
  afterAll(async () => {
    await holder?.query('unlock tables');
    await holder?.end();
    for (const store of stores) await store.close();
    await raw?.query(`drop database if exists \`${database}\``);
    await raw?.end();
  });

  const store = (tableName: string) => {
    const made = mysqlStore({ uri: MYSQL_URL!, schema: database, tableName, poolOptions: { connectionLimit: 2 } });
    stores.push(made);
    return made;
  };
  /** Whether `promise` settles within `ms`. */
  const settlesWithin = (promise: Promise<unknown>, ms: number) =>
    Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

  it('migrates a table while another of a name alike in its first 64 characters is mid-migration; the same table waits', async () => {
    raw = await mysql.createConnection(MYSQL_URL!);
    await raw.query(`create database \`${database}\``);
    // Table a's migration is held inside its lock: its version table is read-locked by another
    // session, so the migration's write of the version waits there.
    await raw.query(`create table \`${database}\`.\`h2_log_a_schema\` (id integer primary key, version integer not null)`);
    holder = await mysql.createConnection(MYSQL_URL!);
    await holder.query(`lock tables \`${database}\`.\`h2_log_a_schema\` read`);
    const migratingA = store('h2_log_a').migrate();
    const waitingInLock = async () => {
      const [rows] = await raw.query(`select count(*) as n from information_schema.processlist where info like ? and state like 'Waiting for table%'`, [`%h2_log_a_schema%`]);
      return Number((rows as { n: unknown }[])[0]!.n) > 0;
    };
    for (let waited = 0; !(await waitingInLock()); waited += 50) {
      if (waited > 10_000) throw new Error("table a's migration never reached its version table");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Another table of the database migrates meanwhile (with a cut name it waited 60 s, then failed).
    expect(await settlesWithin(store('h2_log_b').migrate(), 10_000)).toBe(true);
    // A second store of table a waits for the first one's migration.
    const migratingAgain = store('h2_log_a').migrate();
    expect(await settlesWithin(migratingAgain, 1_500)).toBe(false);

    await holder.query('unlock tables');
    await migratingA;
    await migratingAgain;
    const [versions] = await raw.query(`select (select version from \`${database}\`.\`h2_log_a_schema\`) as a, (select version from \`${database}\`.\`h2_log_b_schema\`) as b`);
    expect(versions).toEqual([{ a: 2, b: 2 }]);
  }, 30_000);
});
