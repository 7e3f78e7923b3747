import mysql from 'mysql2';
import { afterEach, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { MYSQL_URL } from './databases.js';

const skip = !MYSQL_URL && 'ACTIVITY_LOG_MYSQL_URL is not set (CI always sets it)';
if (skip) console.warn(`[mysql lease] skipping: ${skip}`);

describe.skipIf(Boolean(skip))('mysqlStore lease', () => {
  const tableName = `al_lease_${Date.now().toString(36)}`;
  const pools: mysql.Pool[] = [];
  afterEach(async () => {
    const raw = mysql.createPool({ uri: MYSQL_URL!, connectionLimit: 1 }).promise();
    await raw.query(`drop table if exists \`${tableName}\`, \`${tableName}_schema\`, \`${tableName}_checkpoints\`, \`${tableName}_leases\``);
    await raw.end();
    for (const pool of pools.splice(0)) await new Promise((resolve) => pool.end(resolve));
  });

  /** A store whose every connection assigns all columns at once, as MariaDB's SIMULTANEOUS_ASSIGNMENT mode does. */
  const simultaneous = () => {
    const pool = mysql.createPool({ uri: MYSQL_URL!, connectionLimit: 1 });
    pool.on('connection', (connection) => connection.query("set session sql_mode = concat(@@sql_mode, ',SIMULTANEOUS_ASSIGNMENT')"));
    pools.push(pool);
    return mysqlStore({ pool, tableName });
  };

  it('takes an expired lease for a full ttl, and keeps it from others, whatever the order MySQL assigns columns in', async () => {
    const store = simultaneous();
    expect(await store.lease!('job', 'a', 40)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    // a's lease expired: b takes it, for a whole minute.
    expect(await store.lease!('job', 'b', 60_000)).toBe(true);
    expect(await store.lease!('job', 'a', 60_000)).toBe(false);
    expect(await store.lease!('job', 'b', 60_000)).toBe(true);
    await store.close();
  });
});
