import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import mysql from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll, it } from 'vitest';
import { captureChanges } from '../../adapters/storage/kysely.js';
import { runWithActivityContext } from '../../src/context.js';
import { createActivityLogger, type ActivityLogger, type ActivityRecord } from '../../src/index.js';
import { kyselyStore } from '../../adapters/storage/kysely.js';
import type { SqlActivityStore } from '../../adapters/storage/sql/store.js';

/**
 * The three real databases change capture runs on, each with: the app's Kysely (`db`), the
 * activity store over it, and a second client outside the app (`outside`: the sqlite3 file
 * opened again, a psql-like pg client, a plain mysql2 connection) for raw writes and for
 * reading the log table as stored.
 */

export const POSTGRES_URL = process.env.ACTIVITY_LOG_POSTGRES_URL;
export const MYSQL_URL = process.env.ACTIVITY_LOG_MYSQL_URL;

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

export interface CaptureDatabase {
  dialect: Dialect;
  db: Kysely<any>;
  store: SqlActivityStore;
  logTable: string;
  /** Runs SQL on a connection outside the app (no set-up of ours): rows for a select. */
  outside(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** The DDL of the audited test table `name`. */
  createRecipes(name: string): Promise<void>;
  /** `$1`/`?` as this database writes a placeholder. */
  placeholder(n: number): string;
  /** An identifier quoted for this database. */
  q(name: string): string;
  /**
   * Runs SQL on the very pool (or connection) the app's Kysely uses, bypassing Kysely: what
   * another library sharing the pool would do. A context left on a pooled connection would show here.
   */
  samePool(sql: string, params?: unknown[]): Promise<void>;
  cleanup(): Promise<void>;
}

let counter = 0;
export function uniqueName(prefix: string): string {
  // ACTIVITY_LOG_TEST_TABLE_PREFIX: for a database shared with other runs that each keep to tables of their own prefix.
  return `${process.env.ACTIVITY_LOG_TEST_TABLE_PREFIX ?? ''}${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

/** The columns of the recipes table, per database: every kind of value capture converts. */
const RECIPES: Record<Dialect, (name: string) => string> = {
  sqlite: (name) => `create table "${name}" (id integer primary key, title text not null, body text, published boolean not null default 0, rating real, data json, photo blob, password_hash text, created_at text, updated_at text)`,
  postgres: (name) =>
    `create table "${name}" (id serial primary key, title text not null, body text, published boolean not null default false, rating numeric(4,1), data jsonb, photo bytea, password_hash text, created_at timestamptz, updated_at timestamptz)`,
  mysql: (name) =>
    `create table \`${name}\` (id int auto_increment primary key, title varchar(200) not null, body text, published boolean not null default false, rating decimal(4,1), data json, photo blob, password_hash varchar(200), created_at datetime(3), updated_at datetime(3)) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_general_ci`,
};

export async function openDatabase(dialect: Dialect): Promise<CaptureDatabase> {
  const logTable = uniqueName('cap_log');
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'activity-capture-'));
    const filename = join(dir, 'app.db');
    const app = new Database(filename, { timeout: 5000 });
    app.pragma('journal_mode = WAL');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: app }) });
    const other = new Database(filename, { timeout: 5000 });
    return {
      dialect,
      db,
      store: kyselyStore({ db, tableName: logTable }),
      logTable,
      async outside(sql, params = []) {
        const statement = other.prepare(sql);
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      },
      async createRecipes(name) {
        other.exec(RECIPES.sqlite(name));
      },
      placeholder: () => '?',
      q: (name) => `"${name}"`,
      async samePool(sql, params = []) {
        app.prepare(sql).run(...params);
      },
      async cleanup() {
        await db.destroy();
        other.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    // Like psql: another client, its own application name.
    const other = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, application_name: 'psql' });
    const created: string[] = [logTable, `${logTable}_schema`, `${logTable}_checkpoints`, `${logTable}_capture`];
    return {
      dialect,
      db,
      store: kyselyStore({ db, tableName: logTable }),
      logTable,
      async outside(sql, params = []) {
        return (await other.query(sql, params)).rows;
      },
      async createRecipes(name) {
        created.push(name);
        await other.query(RECIPES.postgres(name));
      },
      placeholder: (n) => `$${n}`,
      q: (name) => `"${name}"`,
      async samePool(sql, params = []) {
        await pool.query(sql, params);
      },
      async cleanup() {
        for (const table of created) await other.query(`drop table if exists "${table}" cascade`).catch(() => undefined);
        for (const table of created) await other.query(`drop function if exists "activity_log_capture_${table}"()`).catch(() => undefined);
        await db.destroy();
        await other.end();
      },
    };
  }
  const pool = mysql.createPool({ uri: MYSQL_URL!, connectionLimit: 4 });
  const db = new Kysely<any>({ dialect: new MysqlDialect({ pool }) });
  const other = mysql.createPool({ uri: MYSQL_URL!, connectionLimit: 2 }).promise();
  const created: string[] = [logTable, `${logTable}_schema`, `${logTable}_checkpoints`, `${logTable}_capture`];
  return {
    dialect,
    db,
    store: kyselyStore({ db, tableName: logTable }),
    logTable,
    async outside(sql, params = []) {
      const [rows] = await other.query(sql, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    async createRecipes(name) {
      created.push(name);
      await other.query(RECIPES.mysql(name));
    },
    placeholder: () => '?',
    q: (name) => `\`${name}\``,
    async samePool(sql, params = []) {
      await pool.promise().query(sql, params);
    },
    async cleanup() {
      for (const table of created) await other.query(`drop table if exists \`${table}\``).catch(() => undefined);
      await db.destroy();
      await other.end();
    },
  };
}

/** Which databases this machine has; CI has all three (the suites never skip there). */
export const DIALECTS: { dialect: Dialect; available: boolean; reason: string }[] = [
  { dialect: 'sqlite', available: true, reason: '' },
  { dialect: 'postgres', available: Boolean(POSTGRES_URL), reason: 'ACTIVITY_LOG_POSTGRES_URL is not set' },
  { dialect: 'mysql', available: Boolean(MYSQL_URL), reason: 'ACTIVITY_LOG_MYSQL_URL is not set' },
];

/**
 * One database and a logger on it for a describe block (opened before its tests, closed
 * after), with what the capture suites do over and over.
 */
export interface CaptureSuite {
  readonly d: CaptureDatabase;
  readonly activity: ActivityLogger;
  /** Runs `fn` in the request scope of the user `id`. */
  asUser<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Every captured record of `table`, oldest first. */
  captured(table: string, logger?: ActivityLogger): Promise<ActivityRecord[]>;
  /** A new recipes table with capture installed (`target: 'recipe'`, named by its title). */
  freshTable(options?: Record<string, unknown>): Promise<string>;
  /** A test of one database's own behaviour: registered on that database only (not a skip). */
  itOn(only: Dialect): typeof it;
}

export function useCaptureSuite(dialect: Dialect, prefix: string): CaptureSuite {
  let d: CaptureDatabase | undefined;
  let activity: ActivityLogger | undefined;
  beforeAll(async () => {
    d = await openDatabase(dialect);
    activity = createActivityLogger({ store: d.store });
  });
  afterAll(async () => {
    await activity?.close();
    await d?.cleanup();
  });
  const suite: CaptureSuite = {
    get d() {
      return d!;
    },
    get activity() {
      return activity!;
    },
    asUser: (id, fn) => runWithActivityContext(activity!.with({ actor: { type: 'user', id } }), fn),
    async captured(table, logger = activity!) {
      const out: ActivityRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await logger.query({ limit: 500, cursor, metadata: { table } });
        out.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return out.reverse();
    },
    async freshTable(options = {}) {
      const name = uniqueName(prefix);
      await d!.createRecipes(name);
      await captureChanges(d!.db, activity!, { [name]: { target: 'recipe', name: 'title', ...options } as never });
      return name;
    },
    itOn: (only) => (only === dialect ? it : ((() => undefined) as unknown as typeof it)),
  };
  return suite;
}
