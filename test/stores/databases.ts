import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import mysql from 'mysql2';
import pg from 'pg';
import { kyselyStore } from '../../adapters/storage/kysely.js';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore, type PostgresStoreCommonOptions } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { parseJsonColumns, type ConformanceContext, type RawReader, type RawRow } from '../../adapters/testing/store-conformance.js';

/**
 * Real databases for the conformance suite: a SQLite file in a temp dir, and the PostgreSQL
 * and MariaDB services named by ACTIVITY_LOG_POSTGRES_URL and ACTIVITY_LOG_MYSQL_URL.
 */

export const POSTGRES_URL = process.env.ACTIVITY_LOG_POSTGRES_URL;
export const MYSQL_URL = process.env.ACTIVITY_LOG_MYSQL_URL;

// ---- SQLite --------------------------------------------------------------------------------

function sqliteRaw(filename: string, tableName: string): RawReader & { close(): void } {
  const db = new Database(filename, { timeout: 5000 });
  return {
    async rows() {
      return db.prepare(`select * from "${tableName}" order by id`).all().map((row) => parseJsonColumns(row as Record<string, unknown>));
    },
    async schemaVersion() {
      const row = db.prepare(`select version from "${tableName}_schema" where id = 1`).get() as { version: number } | undefined;
      return row?.version;
    },
    async setSchemaVersion(version) {
      db.prepare(`update "${tableName}_schema" set version = ? where id = 1`).run(version);
    },
    close: () => db.close(),
  };
}

export async function sqliteContext(
  tableName: string,
  variant: 'sqlite' | 'sqlite-main-thread' | 'kysely' = 'sqlite',
): Promise<ConformanceContext> {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-'));
  const filename = join(dir, 'activity.db');
  const opened: Database.Database[] = [];
  const open = () => {
    const db = new Database(filename, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    opened.push(db);
    return db;
  };
  const kyselies: Kysely<unknown>[] = [];
  const makeStore = () => {
    if (variant === 'sqlite') return sqliteStore({ filename, tableName });
    if (variant === 'sqlite-main-thread') return sqliteStore({ filename, tableName, writer: 'main' });
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: open() }) });
    kyselies.push(db);
    return kyselyStore({ db, tableName });
  };
  const store = makeStore();
  const raw = sqliteRaw(filename, tableName);
  // The caller's own Kysely, on its own connection to the same file.
  const userDb = new Kysely<unknown>({ dialect: new SqliteDialect({ database: open() }) });
  return {
    store,
    raw,
    makeSecondStore: makeStore,
    transaction: (fn) => userDb.transaction().execute(fn),
    async refuseActorName(name) {
      await store.migrate?.();
      open().exec(
        `create trigger "${tableName}_refuse" before insert on "${tableName}" when new.actor_name = '${name}' begin select raise(abort, 'actor_name ${name} is refused'); end`,
      );
    },
    async cleanup() {
      await store.close?.();
      for (const db of kyselies) await db.destroy();
      raw.close();
      for (const db of opened) if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- PostgreSQL ----------------------------------------------------------------------------

export async function postgresContext(tableName: string, storeOptions: Pick<PostgresStoreCommonOptions, 'partitioning'> = {}): Promise<ConformanceContext> {
  const url = POSTGRES_URL!;
  const rawPool = new pg.Pool({ connectionString: url, max: 2 });
  const applicationName = `activity-log-test-${tableName}`;
  const stores: { close?(): Promise<void> }[] = [];
  const makeStore = () => {
    const created = postgresStore({
      connectionString: url,
      tableName,
      ...storeOptions,
      // A session time zone far from UTC: times must not shift.
      poolConfig: { max: 4, application_name: applicationName, options: '-c TimeZone=Asia/Kolkata' },
    });
    stores.push(created);
    return created;
  };
  const store = makeStore();
  const userPool = new pg.Pool({ connectionString: url, max: 2 });
  const userDb = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: userPool }) });
  const raw: RawReader = {
    async rows() {
      const { rows } = await rawPool.query(`select * from "${tableName}" order by id collate "C"`);
      return rows.map((row: Record<string, unknown>) => ({ ...row, occurred_at: (row.occurred_at as Date).getTime() }) as RawRow);
    },
    async schemaVersion() {
      const { rows } = await rawPool.query(`select version from "${tableName}_schema" where id = 1`);
      return rows[0]?.version;
    },
    async setSchemaVersion(version) {
      await rawPool.query(`update "${tableName}_schema" set version = $1 where id = 1`, [version]);
    },
  };
  return {
    store,
    raw,
    makeSecondStore: makeStore,
    transaction: (fn) => userDb.transaction().execute(fn),
    async refuseActorName(name) {
      await store.migrate?.();
      await rawPool.query(`alter table "${tableName}" add constraint "${tableName}_refuse" check (actor_name is distinct from '${name}')`);
    },
    async killConnections() {
      const { rows } = await rawPool.query(
        'select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = $1',
        [applicationName],
      );
      return rows.filter((row: { killed: boolean }) => row.killed).length;
    },
    async cleanup() {
      for (const created of stores) await created.close?.();
      await userDb.destroy();
      await rawPool.query(`drop table if exists "${tableName}"; drop table if exists "${tableName}_schema"; drop table if exists "${tableName}_checkpoints"; drop table if exists "${tableName}_leases"`);
      await rawPool.end();
    },
  };
}

export const unreachablePostgres = () =>
  postgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', tableName: 'never_created' });

// ---- MySQL / MariaDB -----------------------------------------------------------------------

export async function mysqlContext(tableName: string): Promise<ConformanceContext> {
  const url = MYSQL_URL!;
  const rawPool = mysql.createPool({ uri: url, connectionLimit: 2, dateStrings: true }).promise();
  const pools: mysql.Pool[] = [];
  const threadIds = new Set<number>();
  const stores: { close?(): Promise<void> }[] = [];
  const makeStore = () => {
    // A pool the test owns, in a time zone far from UTC: times must not shift.
    const pool = mysql.createPool({ uri: url, connectionLimit: 4, timezone: '+05:30' });
    pool.on('connection', (connection) => threadIds.add(connection.threadId));
    pools.push(pool);
    const created = mysqlStore({ pool, tableName });
    stores.push(created);
    return created;
  };
  const store = makeStore();
  const userDb = new Kysely<unknown>({ dialect: new MysqlDialect({ pool: mysql.createPool({ uri: url, connectionLimit: 2 }) }) });
  const raw: RawReader = {
    async rows() {
      const [rows] = await rawPool.query(`select * from \`${tableName}\` order by id`);
      return (rows as Record<string, unknown>[]).map((row) =>
        parseJsonColumns({ ...row, occurred_at: Date.parse(`${String(row.occurred_at).replace(' ', 'T')}Z`) }),
      );
    },
    async schemaVersion() {
      const [rows] = await rawPool.query(`select version from \`${tableName}_schema\` where id = 1`);
      return (rows as { version: number }[])[0]?.version;
    },
    async setSchemaVersion(version) {
      await rawPool.query(`update \`${tableName}_schema\` set version = ? where id = 1`, [version]);
    },
  };
  return {
    store,
    raw,
    makeSecondStore: makeStore,
    transaction: (fn) => userDb.transaction().execute(fn),
    async refuseActorName(name) {
      await store.migrate?.();
      await rawPool.query(`alter table \`${tableName}\` add constraint \`${tableName}_refuse\` check (actor_name is null or actor_name <> '${name}')`);
    },
    async killConnections() {
      let killed = 0;
      for (const id of threadIds) {
        killed += await rawPool.query(`kill ${Number(id)}`).then(() => 1, () => 0);
      }
      threadIds.clear();
      return killed;
    },
    async cleanup() {
      for (const created of stores) await created.close?.();
      for (const pool of pools) await new Promise((resolve) => pool.end(resolve));
      await userDb.destroy();
      await rawPool.query(`drop table if exists \`${tableName}\`, \`${tableName}_schema\`, \`${tableName}_checkpoints\`, \`${tableName}_leases\``);
      await rawPool.end();
    },
  };
}

export const unreachableMysql = () => mysqlStore({ uri: 'mysql://root@127.0.0.1:1/test', tableName: 'never_created' });

// ---- every store at once -------------------------------------------------------------------

/** One logger over one store of each kind, each on a table of its own; the server databases when their URLs are set. */
export interface EveryStore {
  targets: { name: string; store: import('../../src/store.js').ActivityStore; logger: import('../../src/logger.js').ActivityLogger }[];
  /** The kinds not run here, already printed with the reason. */
  missing: string[];
  /** Closes the loggers, drops the tables and removes the SQLite file's folder. */
  cleanup(): Promise<void>;
}

export async function everyStore(label: string, table: string, loggerOptions: Omit<import('../../src/logger.js').ActivityLoggerOptions, 'store'> = {}): Promise<EveryStore> {
  const { createActivityLogger } = await import('../../src/logger.js');
  const { memoryStore } = await import('../../adapters/storage/memory.js');
  const dir = mkdtempSync(join(tmpdir(), `activity-log-${label}-`));
  const candidates = [
    { name: 'memory', store: memoryStore() },
    { name: 'sqlite', store: sqliteStore({ filename: join(dir, 'every.db'), tableName: table }) },
    { name: 'postgres', store: POSTGRES_URL ? postgresStore({ connectionString: POSTGRES_URL, tableName: table }) : undefined },
    { name: 'mysql', store: MYSQL_URL ? mysqlStore({ uri: MYSQL_URL, tableName: table }) : undefined },
  ];
  const missing = candidates.filter((candidate) => !candidate.store).map((candidate) => candidate.name);
  if (missing.length > 0) console.warn(`[${label}] not run on ${missing.join(', ')}: set ACTIVITY_LOG_POSTGRES_URL and ACTIVITY_LOG_MYSQL_URL (CI always does)`);
  const targets: EveryStore['targets'] = [];
  for (const { name, store } of candidates) {
    if (!store) continue;
    await store.migrate?.();
    targets.push({ name, store, logger: createActivityLogger({ onError: (error) => console.error(name, error), ...loggerOptions, store }) });
  }
  return {
    targets,
    missing,
    async cleanup() {
      for (const { logger } of targets) await logger.close();
      if (POSTGRES_URL) {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`drop table if exists "${table}"; drop table if exists "${table}_schema"; drop table if exists "${table}_checkpoints"; drop table if exists "${table}_leases"`);
        await client.end();
      }
      if (MYSQL_URL) {
        const connection = await mysql.createConnection(MYSQL_URL).promise();
        await connection.query(`drop table if exists \`${table}\`, \`${table}_schema\`, \`${table}_checkpoints\`, \`${table}_leases\``);
        await connection.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
