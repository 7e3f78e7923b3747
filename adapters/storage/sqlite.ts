import type BetterSqlite3 from 'better-sqlite3';
import type { Worker } from 'node:worker_threads';
import type { ActivityRecord } from '../../src/schema.js';
import { createSqlStore, SQL_DIALECTS, type SqlActivityStore, type TableInfo } from './kysely.js';
import { defaultExport, loadPeer } from './peer.js';
import { assertDriverRunsHere, isUnresolvableDriver, loadedDriver, resolveDriver, type LoadedDriver } from './sqlite-driver.js';

type KyselyModule = typeof import('kysely');

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
   * Applied only to a database the store opens itself.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * Where batches are written. `'worker'`: a worker thread with its own connection, so a
   * 1000-row transaction never blocks your event loop and runs beside the logger's own work.
   * `'main'`: on the calling thread. A `database` you pass is always written on the main thread.
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
        /** A better-sqlite3 database you opened; `close()` leaves it open. */
        database: BetterSqlite3.Database;
        filename?: undefined;
      }
  );

/**
 * The embedded store, on better-sqlite3: zero set-up, one file, WAL mode. Writes use cached
 * prepared statements inside one transaction per batch; reads share the Kysely implementation
 * of the PostgreSQL and MySQL stores.
 *
 * Requires the optional peers `better-sqlite3` and `kysely`.
 *
 * @example
 * import { sqliteStore } from 'activity-log/sqlite';
 * const activity = createActivityLogger({ store: sqliteStore({ filename: 'activity.db' }) });
 */
export function sqliteStore(options: SqliteStoreOptions = {}): SqlActivityStore {
  const filename = options.filename ?? 'activity.db';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let database: BetterSqlite3.Database | undefined = options.database;
  const ownsDatabase = options.database === undefined;
  let useWorker = ownsDatabase && options.writer !== 'main';
  let kysely: import('kysely').Kysely<unknown> | undefined;
  let insertBatch: ((records: readonly ActivityRecord[]) => void) | undefined;
  let writer: Promise<WorkerWriter> | undefined;
  let driver: LoadedDriver | undefined;

  /**
   * One cached single-row prepared statement, run for each record inside one transaction:
   * measured as fast as multi-row statements here, and the same shape as a hand-written loop.
   */
  const prepareInsert = (db: BetterSqlite3.Database, table: TableInfo) => {
    const insert = db.prepare(table.insertSql(1));
    return db.transaction((records: readonly ActivityRecord[]) => {
      for (const record of records) insert.run(table.values(record));
    });
  };

  const insertOnMainThread = (records: readonly ActivityRecord[], table: TableInfo) => {
    const db = database!;
    if (db.inTransaction) {
      // Someone else's transaction is open on this connection: writing now would make these
      // records part of it (and lose them on its rollback). Rejecting lets the logger retry.
      throw new Error('sqlite store: the connection is inside another transaction; the batch will be retried');
    }
    insertBatch ??= prepareInsert(db, table);
    insertBatch(records);
  };

  return createSqlStore({
    name: 'sqlite',
    subpath: 'sqlite',
    tableName: options.tableName,
    schema: undefined,
    migrate: options.migrate,
    async connect() {
      const Database = database
        ? (database.constructor as typeof BetterSqlite3)
        : defaultExport<typeof BetterSqlite3>(await loadPeer('better-sqlite3', 'sqlite'));
      // The copy that runs, checked before the store makes any statement: one that can abort
      // the process on this Node.js is refused here. Found once: a refused connect is retried
      // with every batch, and the module cache and package.json do not change in between.
      driver ??= loadedDriver(Database);
      assertDriverRunsHere(driver?.version);
      if (!database) {
        const opened = new Database(filename, { timeout: busyTimeoutMs });
        // WAL: readers never block the writer; NORMAL: durable at checkpoints, and fast.
        opened.pragma('journal_mode = WAL');
        opened.pragma('synchronous = NORMAL');
        database = opened;
      }
      const k = await loadPeer<KyselyModule>('kysely', 'sqlite');
      kysely ??= new k.Kysely({ dialect: new k.SqliteDialect({ database }) });
      return { db: kysely, dialect: SQL_DIALECTS.sqlite };
    },
    async fastInsert(records, table) {
      if (useWorker) {
        if (!writer) {
          writer = WorkerWriter.start(filename, busyTimeoutMs, driver?.dir);
          writer.catch(() => (writer = undefined));
        }
        const started = await writer.catch((error: unknown) => {
          if (!isUnresolvableDriver(error)) throw error;
          // A bundled app may not let the worker load the driver: write on this thread instead.
          useWorker = false;
          return undefined;
        });
        if (started) {
          const rows = records.map((record) => table.values(record));
          return started.write(table.insertSql(1), rows).catch((error: unknown) => {
            if (started.dead) writer = undefined;
            throw error;
          });
        }
      }
      insertOnMainThread(records, table);
    },
    async disconnect() {
      insertBatch = undefined;
      const started = writer;
      writer = undefined;
      await started?.then((w) => w.close(), () => undefined);
      // Kysely's SQLite driver closes the database on destroy: only when the store opened it.
      if (ownsDatabase) {
        if (kysely) await kysely.destroy();
        else database?.close();
      }
      kysely = undefined;
    },
  });
}

/**
 * The worker's code, CommonJS evaluated in the worker: it opens its own connection and runs
 * each batch as one transaction of one cached prepared statement.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const toError = (error) => ({ message: String(error && error.message), code: error && error.code });
let db;
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.filename, { timeout: workerData.busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Checkpoint every 16 MB of WAL rather than 4 MB: a third less CPU per row (measured), and
  // truncate the WAL back to 32 MB if a long reader ever let it grow past that.
  db.pragma('wal_autocheckpoint = 4000');
  db.pragma('journal_size_limit = 33554432');
  parentPort.postMessage({ ready: true });
} catch (error) {
  parentPort.postMessage({ ready: false, error: toError(error) });
}
const batches = new Map();
parentPort.on('message', (message) => {
  if (message.close) {
    db && db.close();
    parentPort.close();
    return;
  }
  try {
    let insertBatch = batches.get(message.sql);
    if (!insertBatch) {
      const statement = db.prepare(message.sql);
      insertBatch = db.transaction((rows) => { for (const row of rows) statement.run(row); });
      batches.set(message.sql, insertBatch);
    }
    insertBatch(message.rows);
    parentPort.postMessage({ id: message.id });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: toError(error) });
  }
});
`;

/** A worker thread that writes batches; referenced only while a batch is in flight. */
class WorkerWriter {
  dead = false;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: { id?: number; error?: { message: string; code?: string } }) => {
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (this.pending.size === 0) worker.unref();
      if (message.error) waiter?.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
      else waiter?.resolve();
    });
    const fail = (error: Error) => {
      this.dead = true;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('sqlite store: the writer thread exited')));
  }

  /** Starts a writer; rejects when the worker cannot load the driver or open the file. */
  static async start(filename: string, busyTimeoutMs: number, driverDir: string | undefined): Promise<WorkerWriter> {
    const { Worker } = await import('node:worker_threads');
    // The copy the main thread loaded, so both threads run one driver; else the app's.
    const driver = driverDir ?? resolveDriver();
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, filename, busyTimeoutMs } });
    worker.unref();
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (message: { ready: boolean; error?: { message: string; code?: string } }) => {
        if (message.ready) return resolve();
        void worker.terminate();
        reject(Object.assign(new Error(message.error?.message ?? 'sqlite writer failed to start'), { code: message.error?.code }));
      });
      worker.once('error', reject);
    });
    return new WorkerWriter(worker);
  }

  write(sql: string, rows: unknown[][]): Promise<void> {
    if (this.dead) return Promise.reject(new Error('sqlite store: the writer thread has stopped'));
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Keep the process alive while a batch is in flight, and only then.
      this.worker.ref();
      this.worker.postMessage({ id, sql, rows });
    });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.ref();
    this.worker.postMessage({ close: true });
    await exited;
  }
}
