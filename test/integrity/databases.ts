import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import type { ActivityStore } from '../../src/store.js';
import { MYSQL_URL, POSTGRES_URL } from '../stores/databases.js';

/**
 * One table on each database, with the database's own client beside the store: the tests
 * tamper with rows the way someone with write access to the database would.
 */
export interface TamperTarget {
  kind: 'sqlite' | 'postgres' | 'mysql';
  /** A new store on the table (a new process would open one). */
  store(options?: { migrate?: boolean; /** PostgreSQL's only. */ partitioning?: 'monthly' }): ActivityStore;
  /** Runs SQL through the database's own client; `?` placeholders on every database. */
  run(text: string, parameters?: unknown[]): Promise<void>;
  all<T = Record<string, unknown>>(text: string, parameters?: unknown[]): Promise<T[]>;
  /** The table's name, quoted for this database. */
  table: string;
  checkpoints: string;
  cleanup(): Promise<void>;
}

/** Why a database is not run here, or false. */
export function skipReason(kind: TamperTarget['kind']): string | false {
  if (kind === 'postgres' && !POSTGRES_URL) return 'ACTIVITY_LOG_POSTGRES_URL is not set (CI always sets it)';
  if (kind === 'mysql' && !MYSQL_URL) return 'ACTIVITY_LOG_MYSQL_URL is not set (CI always sets it)';
  return false;
}

export async function tamperTarget(kind: TamperTarget['kind'], tableName: string): Promise<TamperTarget> {
  const stores: ActivityStore[] = [];
  const track = (store: ActivityStore) => (stores.push(store), store);
  const closeStores = async () => {
    for (const store of stores) await store.close?.();
  };
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-integrity-'));
    const filename = join(dir, 'activity.db');
    let db: Database.Database | undefined;
    const raw = () => (db ??= new Database(filename, { timeout: 5000 }));
    return {
      kind,
      store: (options = {}) => track(sqliteStore({ filename, tableName, ...options })),
      run: async (text, parameters = []) => void raw().prepare(text).run(...(parameters as unknown[])),
      all: async (text, parameters = []) => raw().prepare(text).all(...(parameters as unknown[])) as never[],
      table: `"${tableName}"`,
      checkpoints: `"${tableName}_checkpoints"`,
      async cleanup() {
        await closeStores();
        db?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const numbered = (text: string) => {
      let n = 0;
      return text.replace(/\?/g, () => `$${++n}`);
    };
    return {
      kind,
      store: (options = {}) => track(postgresStore({ connectionString: POSTGRES_URL!, tableName, poolConfig: { max: 2 }, ...options })),
      run: async (text, parameters = []) => void (await pool.query(numbered(text), parameters)),
      all: async (text, parameters = []) => (await pool.query(numbered(text), parameters)).rows,
      table: `"${tableName}"`,
      checkpoints: `"${tableName}_checkpoints"`,
      async cleanup() {
        await closeStores();
        await pool.query(`drop table if exists "${tableName}"; drop table if exists "${tableName}_schema"; drop table if exists "${tableName}_checkpoints"; drop table if exists "${tableName}_leases"`);
        await pool.end();
      },
    };
  }
  const pool = mysql.createPool({ uri: MYSQL_URL!, connectionLimit: 2 });
  return {
    kind,
    store: (options = {}) => track(mysqlStore({ uri: MYSQL_URL!, tableName, poolOptions: { connectionLimit: 2 }, ...options })),
    run: async (text, parameters = []) => void (await pool.query(text, parameters)),
    all: async (text, parameters = []) => (await pool.query(text, parameters))[0] as never[],
    table: `\`${tableName}\``,
    checkpoints: `\`${tableName}_checkpoints\``,
    async cleanup() {
      await closeStores();
      await pool.query(`drop table if exists \`${tableName}\`, \`${tableName}_schema\`, \`${tableName}_checkpoints\`, \`${tableName}_leases\``);
      await pool.end();
    },
  };
}
