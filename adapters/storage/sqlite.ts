import type BetterSqlite3 from 'better-sqlite3';
// The public options name better-sqlite3's Database by a named import: @types/better-sqlite3 is
// `export =`, and a default import in our declarations would need esModuleInterop in every
// app that type-checks them (skipLibCheck: false on module commonjs without it fails).
import type { Database as BetterSqlite3Database } from 'better-sqlite3';
import { describeValue } from '../../src/describe.js';
import { ActivityLogError } from '../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import type { ActivityRecord } from '../../src/schema.js';
import { defaultExport, loadPeer } from './peer.js';
import { sqliteDialect } from './sql/sqlite.js';
import type { SqlStatements } from './sql/statements.js';
import { createSqlStore, type SqlActivityStore } from './sql/store.js';
import { assertDriverRunsHere, isUnresolvableDriver, loadedDriver, resolveDriver, type LoadedDriver } from './sqlite-driver.js';
import { DEFAULT_BUSY_TIMEOUT_MS, openSqlite } from './sqlite-pragmas.js';
import type { SqliteThreadData } from './sqlite-protocol.js';
import { SqliteThread, threadDialect } from './sqlite-thread.js';
import { fileLocation } from './sql/location.js';

type KyselyModule = typeof import('kysely');
type AnyKysely = import('kysely').Kysely<any>;

/** Options of {@link sqliteStore} shared by both forms. */
export interface SqliteStoreCommonOptions {
  /**
   * Name of the activity table.
   * @default 'activity_logs'
   */
  tableName?: string;
  /**
   * Create the table and indexes on first use.
   * @default true
   */
  migrate?: boolean;
  /**
   * How long a write waits for another process's lock before failing (and being retried).
   * Applied only to connections the store opens itself.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * Where batches are written. `'worker'`: a worker thread with its own connection, so a
   * 1000-row transaction never blocks your event loop and runs beside the logger's own work.
   * `'main'`: on the calling thread. A `database` you pass is always written on the main thread.
   * Reads (query, get, count, summarize, export pages) and purges run on a reader thread of
   * their own in every case where the database is a file.
   * @default 'worker' (with `filename`)
   */
  writer?: 'worker' | 'main';
}

/**
 * Options of {@link sqliteStore}: a file to open, or a better-sqlite3 `Database` you opened
 * (the store then leaves its pragmas and its lifecycle to you).
 */
export type SqliteStoreOptions = SqliteStoreCommonOptions &
  (
    | {
        /**
         * The database file, created if missing.
         * @default 'activity.db'
         */
        filename?: string;
        database?: undefined;
      }
    | {
        /**
         * A better-sqlite3 database you opened; `close()` leaves it open. When it is a file,
         * reads run on the store's reader thread, through a connection of its own to that file.
         */
        database: BetterSqlite3Database;
        filename?: undefined;
      }
  );

/** The options of {@link SqliteStoreOptions} (both forms), for the check that refuses others. */
const SQLITE_STORE_OPTIONS = optionNames<SqliteStoreOptions>()(['filename', 'database', 'tableName', 'migrate', 'busyTimeoutMs', 'writer']);

/**
 * Refuses values the store would otherwise pass over without a word: a `filename` beside a
 * `database` (the file would never be opened), a `writer` it does not know (taken for the
 * default), a negative or fractional `busyTimeoutMs`. Start-up code, as every options check.
 */
function checkSqliteOptions(options: SqliteStoreOptions): void {
  const fail = (message: string) => new ActivityLogError('INVALID_OPTIONS', `sqliteStore: ${message}`);
  const { filename, database, writer, busyTimeoutMs } = options as Record<string, unknown>;
  if (database !== undefined) {
    if (filename !== undefined) throw fail('pass either "filename" or "database" (a better-sqlite3 Database you opened), not both');
    if (typeof (database as { prepare?: unknown } | null)?.prepare !== 'function') throw fail(`database: must be a better-sqlite3 Database (new Database(...)), got ${describeValue(database)}`);
  }
  if (filename !== undefined && typeof filename !== 'string') throw fail(`filename: must be a file path (a string), got ${describeValue(filename)}`);
  if (writer !== undefined && writer !== 'worker' && writer !== 'main') throw fail(`writer: must be "worker" or "main", got ${describeValue(writer)}`);
  if (busyTimeoutMs !== undefined && !(Number.isSafeInteger(busyTimeoutMs) && (busyTimeoutMs as number) >= 0)) {
    throw fail(`busyTimeoutMs: must be a whole number of milliseconds from 0, got ${describeValue(busyTimeoutMs)}`);
  }
}

/**
 * The embedded store, on better-sqlite3: zero set-up, one file, WAL mode. Nothing it does runs
 * on your event loop: batches are written by a writer thread (one cached prepared statement in
 * one transaction per batch), and reads, summaries and purges run on a reader thread, each
 * with its own connection. The SQL is the one the PostgreSQL and MySQL stores share.
 *
 * Requires the optional peers `better-sqlite3` and `kysely`.
 *
 * @example
 * import { sqliteStore } from 'activity-log/sqlite';
 * const activity = createActivityLogger({ store: sqliteStore({ filename: 'activity.db' }) });
 */
export function sqliteStore(options: SqliteStoreOptions = {}): SqlActivityStore {
  refuseUnknownOptions('sqliteStore', options, SQLITE_STORE_OPTIONS);
  checkSqliteOptions(options);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const userDatabase = options.database;
  const filename = userDatabase ? userDatabase.name : (options.filename ?? 'activity.db');
  // Other threads can share only a file: an in-memory database is one connection's alone
  // (a thread opening ':memory:' would get an empty database of its own).
  const inMemory = filename === '' || filename === ':memory:' || userDatabase?.memory === true;
  const readsOffThread = !inMemory;
  let writeOnThread = !userDatabase && !inMemory && options.writer !== 'main';
  let driver: LoadedDriver | undefined;
  let mainDatabase: BetterSqlite3.Database | undefined;
  let writer: SqliteThread | undefined;
  let reader: SqliteThread | undefined;
  let writeDb: AnyKysely | undefined;
  let readDb: AnyKysely | undefined;
  let insertOnMain: ((records: readonly ActivityRecord[]) => void) | undefined;

  const threadData = (role: SqliteThreadData['role']): SqliteThreadData => ({
    // The copy the main thread loaded, so every thread runs one driver; else the app's.
    driver: driver?.dir ?? resolveDriver(),
    filename,
    busyTimeoutMs,
    role,
  });

  /**
   * Starts a thread; `undefined` when the thread cannot load the driver (a bundled app may not
   * let it), in which case the work stays on the main thread.
   */
  const startThread = async (role: SqliteThreadData['role']): Promise<SqliteThread | undefined> => {
    const thread = new SqliteThread(threadData(role));
    try {
      await thread.ready();
      return thread;
    } catch (error) {
      await thread.close();
      // Only the driver or the thread's own file missing (a bundle that left them out) falls
      // back; any other failure is the store's to report.
      if (isUnresolvableDriver(error) && /better-sqlite3|sqlite-worker/.test(String((error as Error).message))) return undefined;
      throw error;
    }
  };

  /** One cached single-row prepared statement, run for each record inside one transaction. */
  const prepareInsert = (db: BetterSqlite3.Database, statements: SqlStatements) => {
    const insert = db.prepare(statements.insertText(1));
    return db.transaction((records: readonly ActivityRecord[]) => {
      for (const record of records) insert.run(statements.values(record));
    });
  };

  return createSqlStore({
    name: 'sqlite',
    location: fileLocation(filename, inMemory),
    subpath: 'sqlite',
    tableName: options.tableName,
    migrate: options.migrate,
    async connect() {
      const Database = userDatabase
        ? (userDatabase.constructor as typeof BetterSqlite3)
        : defaultExport<typeof BetterSqlite3>(await loadPeer('better-sqlite3', 'sqlite'));
      // The copy that runs, checked before the store makes any statement: one that can abort
      // the process on this Node.js is refused here. Found once: a refused connect is retried
      // with every batch, and the module cache and package.json do not change in between.
      driver ??= loadedDriver(Database);
      assertDriverRunsHere(driver?.version);
      const k = await loadPeer<KyselyModule>('kysely', 'sqlite');

      if (!writeDb && writeOnThread) {
        writer = await startThread('writer');
        if (writer) writeDb = new k.Kysely({ dialect: threadDialect(k, writer) });
        else writeOnThread = false;
      }
      if (!writeDb) {
        if (!mainDatabase) {
          mainDatabase = userDatabase ?? openSqlite(Database, filename, 'writer', busyTimeoutMs);
        }
        writeDb = new k.Kysely({ dialect: new k.SqliteDialect({ database: mainDatabase }) });
      }
      if (!readDb && readsOffThread) {
        // Started after the writer, which creates the file and sets it to WAL.
        reader = await startThread('reader');
        if (reader) readDb = new k.Kysely({ dialect: threadDialect(k, reader) });
      }
      return { db: writeDb, readDb, dialect: sqliteDialect };
    },
    async insert(records, statements) {
      if (writer) {
        const rows = records.map((record) => statements.values(record));
        return writer.batch(statements.insertText(1), rows);
      }
      const db = mainDatabase!;
      if (db.inTransaction) {
        // Someone else's transaction is open on this connection: writing now would make these
        // records part of it (and lose them on its rollback). Rejecting lets the logger retry.
        throw new Error('sqlite store: the connection is inside another transaction; the batch will be retried');
      }
      insertOnMain ??= prepareInsert(db, statements);
      insertOnMain(records);
    },
    disconnect: () => closeAll(),
  });

  /** Closes what the store opened: both threads, and the main-thread connection unless it is the app's. */
  async function closeAll(): Promise<void> {
    insertOnMain = undefined;
    const threads = [writer, reader];
    writer = reader = undefined;
    writeDb = readDb = undefined;
    await Promise.all(threads.map((thread) => thread?.close().catch(() => undefined)));
    if (mainDatabase && !userDatabase) mainDatabase.close();
    mainDatabase = undefined;
  }
}
