import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { kyselyStore } from '../../adapters/storage/kysely.js';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';

/**
 * A store says where its records are (`location`), so that a spool file tells two databases'
 * tables of the same name apart; never with a password. Made from the options alone: none of
 * these stores connects here.
 */
describe('where a store says its records are', () => {
  it('is host:port/database for PostgreSQL, from a connection string, pool settings or a pg Pool, without credentials', async () => {
    expect(postgresStore({ connectionString: 'postgres://app:s3cret@db.internal:6543/audit?sslmode=require' }).location).toBe('db.internal:6543/audit');
    expect(postgresStore({ connectionString: 'postgres://app:s3cret@db.internal/audit' }).location).toBe('db.internal/audit');
    expect(postgresStore({ connectionString: 'postgresql:///audit?host=/var/run/postgresql' }).location).toBe('/var/run/postgresql/audit');
    expect(postgresStore({ connectionString: 'postgres://a@h/db1', poolConfig: { max: 2 } }).location).toBe('h/db1');
    const pool = new pg.Pool({ host: '10.0.0.7', port: 5433, database: 'tenant_42', user: 'app', password: 's3cret' });
    expect(postgresStore({ pool }).location).toBe('10.0.0.7:5433/tenant_42');
    const fromUrl = new pg.Pool({ connectionString: 'postgres://app:s3cret@10.0.0.8/tenant_43' });
    expect(postgresStore({ pool: fromUrl }).location).toBe('10.0.0.8/tenant_43');
    await Promise.all([pool.end(), fromUrl.end()]);
    for (const store of [postgresStore({ connectionString: 'postgres://app:s3cret@h:1/d' }), postgresStore({ pool: new pg.Pool({ password: 's3cret', host: 'h' }) })]) {
      expect(store.location).not.toContain('s3cret');
      expect(store.location).not.toContain('app');
    }
  });

  it('is host:port/database for MySQL, from a URI, pool options or a mysql2 pool of either form, without credentials', async () => {
    expect(mysqlStore({ uri: 'mysql://root:s3cret@127.0.0.1:3307/audit' }).location).toBe('127.0.0.1:3307/audit');
    const pool = mysql.createPool({ host: 'db.internal', port: 3308, database: 'tenant_42', user: 'app', password: 's3cret' });
    expect(mysqlStore({ pool }).location).toBe('db.internal:3308/tenant_42');
    const promisePool = mysqlPromise.createPool({ uri: 'mysql://app:s3cret@db.internal/tenant_43' });
    expect(mysqlStore({ pool: promisePool }).location).toMatch(/^db\.internal(:3306)?\/tenant_43$/);
    expect(mysqlStore({ pool: promisePool }).location).not.toContain('s3cret');
    await Promise.all([new Promise((done) => pool.end(done)), promisePool.end()]);
  });

  it("is the SQLite file's absolute path; none in memory or for a Kysely instance of the app's", () => {
    expect(sqliteStore({ filename: 'audit.db' }).location).toBe(resolve('audit.db'));
    expect(sqliteStore({ filename: join('/tmp', 'x', '..', 'a.db') }).location).toBe('/tmp/a.db');
    expect(sqliteStore({ filename: ':memory:' }).location).toBeUndefined();
    const db = new Kysely({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
    expect(kyselyStore({ db }).location).toBeUndefined();
    return db.destroy();
  });
});
