import { randomUUID } from 'node:crypto';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../src/logger.js';
import { MYSQL_URL, POSTGRES_URL } from './databases.js';

// The `{ pool }` form of the server stores: a pool the app made (and configured as its
// driver's documentation says) must serve the store as well as the store's own pool does.

const table = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!POSTGRES_URL)('postgresStore({ pool }) with the app\'s own pg Pool', () => {
  it('keeps the process alive and writes every event once when the backends of its connections are terminated mid-load', async () => {
    const tableName = table('user_pool_pg');
    const applicationName = `activity-log-${tableName}`;
    // As pg's documentation says: an 'error' listener on the pool, for its idle clients.
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4, application_name: applicationName });
    pool.on('error', () => undefined);
    const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    // A client's 'error' with no listener is thrown from pg's socket handler: an uncaught
    // exception, which ends an app. Recorded here so the test can name it.
    process.prependListener('uncaughtException', onUncaught);
    const errors: string[] = [];
    const activity = createActivityLogger({
      store: postgresStore({ pool, tableName }),
      batchSize: 20,
      flushIntervalMs: 5,
      retry: { maxAttempts: 20, baseDelayMs: 20, maxDelayMs: 200 },
      onError: (error) => errors.push(error.message),
    });
    try {
      const total = 3000;
      let terminated = 0;
      for (let i = 0; i < total; i++) {
        activity.log({ id: `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`, action: 'pool.kill', metadata: { i } });
        if (i % 50 === 0) await sleep(2);
        if (i % 300 === 150) {
          const { rows } = await admin.query('select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = $1', [applicationName]);
          terminated += rows.filter((row: { killed: boolean }) => row.killed).length;
        }
      }
      await activity.flush();
      expect(uncaught).toEqual([]);
      expect(terminated).toBeGreaterThan(0);
      const { rows } = await admin.query(`select count(*)::int as n, count(distinct id)::int as d from "${tableName}"`);
      expect(rows[0]).toEqual({ n: total, d: total });
      expect(activity.stats()).toMatchObject({ written: total, failed: 0, dropped: 0 });
      expect(errors).toEqual([]);
      await activity.close();
      // close() leaves the app's pool open and usable.
      expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      await activity.close();
      await admin.query(`drop table if exists "${tableName}", "${tableName}_schema", "${tableName}_checkpoints", "${tableName}_leases"`);
      await admin.end();
      await pool.end();
    }
  });

  it('refuses a pool that is no pg Pool, and both forms at once, when it is made', () => {
    expect(() => postgresStore({ pool: {} as pg.Pool })).toThrow(/postgresStore: "pool" must be a pg Pool/);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL });
    const both = { pool, connectionString: POSTGRES_URL } as unknown as Parameters<typeof postgresStore>[0];
    expect(() => postgresStore(both)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('not both') }));
    return pool.end();
  });
});

describe.skipIf(!MYSQL_URL)('mysqlStore({ pool }) with the app\'s own mysql2 pool', () => {
  it('writes and reads through a mysql2/promise pool (it waited for ever), and close() leaves that pool open', async () => {
    const tableName = table('user_pool_my');
    const pool = mysqlPromise.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
    const activity = createActivityLogger({ store: mysqlStore({ pool, tableName }), retry: { maxAttempts: 2, baseDelayMs: 10 } });
    try {
      activity.log({ action: 'pool.promise', actor: { type: 'user', id: 'u_1' }, metadata: { text: 'crème brûlée 🍮' } });
      activity.log({ action: 'pool.promise', actor: { type: 'user', id: 'u_2' } });
      // Not the test's timeout: the flush must settle well within it.
      const settled = await Promise.race([activity.flush().then(() => 'flushed'), sleep(10_000).then(() => 'still waiting after 10 s')]);
      expect(settled).toBe('flushed');
      expect(activity.stats()).toMatchObject({ written: 2, failed: 0 });
      const page = await activity.query({ actorId: 'u_1' });
      expect(page.items.map((record) => record.metadata)).toEqual([{ text: 'crème brûlée 🍮' }]);
      await activity.close();
      const [rows] = await pool.query(`select count(*) as n from \`${tableName}\``);
      expect(rows).toEqual([{ n: 2 }]);
    } finally {
      await activity.close();
      await pool.query(`drop table if exists \`${tableName}\`, \`${tableName}_schema\`, \`${tableName}_checkpoints\`, \`${tableName}_leases\``);
      await pool.end();
    }
  });

  it('refuses a pool that is no mysql2 pool, and both forms at once, when it is made', async () => {
    expect(() => mysqlStore({ pool: {} as mysql.Pool })).toThrow(/mysqlStore: "pool" must be a mysql2 pool/);
    const pool = mysql.createPool({ uri: MYSQL_URL });
    const both = { pool, uri: MYSQL_URL } as unknown as Parameters<typeof mysqlStore>[0];
    expect(() => mysqlStore(both)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('not both') }));
    await new Promise((resolve) => pool.end(resolve));
  });
});
