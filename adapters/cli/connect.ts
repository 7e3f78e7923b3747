import { existsSync } from 'node:fs';
import type { ActivityStore } from '../../src/store.js';

/** Where the CLI reads and writes: a store opened from `--db` (or `ACTIVITY_LOG_DB`) and `--table`. */
export interface Connection {
  store: ActivityStore;
  /** What `--db` named, with any password hidden, for messages. */
  label: string;
}

/**
 * Opens the store a `--db` value names: `sqlite:path/to/file.db` (or a path ending in `.db`,
 * `.sqlite`, `.sqlite3`), `postgres://…` / `postgresql://…`, or `mysql://…` / `mariadb://…`.
 * Throws a usage error naming `--db` and the rule for anything else, and for a SQLite file that
 * does not exist unless `createFile` (migrate).
 */
export async function connect(db: string | undefined, tableName: string | undefined, createFile = false): Promise<Connection> {
  if (!db) throw usage('--db: name the log\'s database (sqlite:FILE, postgres://..., mysql://...), or set ACTIVITY_LOG_DB');
  const table = tableName === undefined ? {} : { tableName };
  const label = db.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  if (/^postgres(ql)?:\/\//.test(db)) {
    const { postgresStore } = await import('../storage/postgres.js');
    return { store: postgresStore({ connectionString: db, poolConfig: { max: 2 }, ...table }), label };
  }
  if (/^(mysql|mariadb):\/\//.test(db)) {
    const { mysqlStore } = await import('../storage/mysql.js');
    return { store: mysqlStore({ uri: db.replace(/^mariadb:/, 'mysql:'), poolOptions: { connectionLimit: 2 }, ...table }), label };
  }
  const file = db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : /\.(db|sqlite3?)$/.test(db) ? db : undefined;
  if (!file) throw usage(`--db: must be sqlite:FILE, postgres://... or mysql://..., got ${JSON.stringify(db)}`);
  // Only migrate makes a file: a misspelt path would otherwise read as an empty log, and leave
  // a new database behind.
  if (!createFile && file !== ':memory:' && !existsSync(file)) throw usage(`--db: there is no SQLite file at ${JSON.stringify(file)} (run "activity-log migrate" to create one)`);
  const { sqliteStore } = await import('../storage/sqlite.js');
  // The CLI's own reads and writes happen on its main thread: a command is short, and a
  // thread's start would cost it more than it saves.
  return { store: sqliteStore({ filename: file, writer: 'main', ...table }), label };
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {}

export function usage(message: string): UsageError {
  return new UsageError(message);
}

