import { existsSync } from 'node:fs';
import { ActivityLogError } from '../../src/errors.js';
import type { ActivityStore } from '../../src/store.js';
import { withoutPassword } from './secrets.js';
import type { SqlDialectName } from '../storage/sql/dialect.js';
import { SQL_DIALECTS } from '../storage/sql/dialects.js';

/** Where the CLI reads and writes: a store opened from `--db` (or `ACTIVITY_LOG_DB`) and `--table`. */
export interface Connection {
  store: ActivityStore;
  /** What `--db` named, with any password hidden, for messages. */
  label: string;
  /** The database's kind, to recognise its "no such table" error. */
  dialect: SqlDialectName;
}

/**
 * Opens the store a `--db` value names: `sqlite:path/to/file.db` (or a path ending in `.db`,
 * `.sqlite`, `.sqlite3`), `postgres://…` / `postgresql://…`, or `mysql://…` / `mariadb://…`.
 * Throws a usage error naming `--db` and the rule for anything else, and for a SQLite file that
 * does not exist unless `create` (migrate). Only with `create` does the store make its tables:
 * a misspelt `--table` would otherwise read as an empty log and leave three new tables behind
 * (see `missingTable`).
 */
export async function connect(db: string | undefined, tableName: string | undefined, create = false, schema?: string): Promise<Connection> {
  if (!db) throw usage('--db: name the log\'s database (sqlite:FILE, postgres://..., mysql://...), or set ACTIVITY_LOG_DB');
  const table = { ...(tableName === undefined ? {} : { tableName }), ...(schema === undefined ? {} : { schema }), migrate: create };
  const label = withoutPassword(db);
  if (/^(postgres(ql)?|mysql|mariadb):\/\//.test(db) && !URL.canParse(db)) {
    // The drivers' own words are "Invalid URL", naming neither the flag nor the usual cause.
    throw usage(`--db: is not a valid URL, got ${JSON.stringify(label)} (a password or user name holding @ : / ? # or % must be percent-encoded: @ as %40)`);
  }
  if (/^postgres(ql)?:\/\//.test(db)) {
    const { postgresStore } = await import('../storage/postgres.js');
    return { store: asFlags(() => postgresStore({ connectionString: db, poolConfig: { max: 2 }, ...table })), label, dialect: 'postgres' };
  }
  if (/^(mysql|mariadb):\/\//.test(db)) {
    const { mysqlStore } = await import('../storage/mysql.js');
    return { store: asFlags(() => mysqlStore({ uri: db.replace(/^mariadb:/, 'mysql:'), poolOptions: { connectionLimit: 2 }, ...table })), label, dialect: 'mysql' };
  }
  if (schema !== undefined) throw usage(`--schema: names a PostgreSQL schema or a MySQL database; a SQLite file has none (leave --schema out)`);
  const file = db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : /\.(db|sqlite3?)$/.test(db) ? db : undefined;
  if (!file) throw usage(`--db: must be sqlite:FILE, postgres://... or mysql://..., got ${JSON.stringify(label)}`);
  // Only migrate makes a file: a misspelt path would otherwise read as an empty log, and leave
  // a new database behind.
  if (!create && file !== ':memory:' && !existsSync(file)) throw usage(`--db: there is no SQLite file at ${JSON.stringify(file)} (run "activity-log migrate" to create one)`);
  const { sqliteStore } = await import('../storage/sqlite.js');
  // The CLI's own reads and writes happen on its main thread: a command is short, and a
  // thread's start would cost it more than it saves.
  return { store: asFlags(() => sqliteStore({ filename: file, writer: 'main', ...table })), label, dialect: 'sqlite' };
}

/**
 * Makes the store, with a table or schema name it refuses reported as the flag that gave it
 * (`--table: must be letters, …`) rather than as the store option the user never wrote.
 */
function asFlags(make: () => ActivityStore): ActivityStore {
  try {
    return make();
  } catch (error) {
    throw storeOptionAsFlag(error) ?? error;
  }
}

/**
 * A store's refusal of its `tableName` or `schema` as a usage error naming the flag that gave
 * it: at construction (the name's rule), or at first use (a schema the database does not have).
 */
export function storeOptionAsFlag(error: unknown): UsageError | undefined {
  const message = error instanceof ActivityLogError && error.code === 'INVALID_OPTIONS' ? error.message : '';
  if (message.startsWith('tableName: ')) return usage(`--table: ${message.slice('tableName: '.length)}`);
  if (message.startsWith('schema: ')) return usage(`--schema: ${message.slice('schema: '.length)}`);
  return undefined;
}

/**
 * `error` (or an error it was caused by) is the database saying the command's table is not
 * there: as a usage error naming `--table`, or undefined when it is anything else.
 */
export function missingTable(error: unknown, connection: Connection, tableName: string | undefined, schema?: string): UsageError | undefined {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if (SQL_DIALECTS[connection.dialect].isMissingTable(cause)) {
      const where = schema === undefined ? '' : ` of schema "${schema}"`;
      const hint = schema === undefined && connection.dialect !== 'sqlite' ? ', or name its schema with --schema' : '';
      return usage(`--table: there is no table "${tableName ?? 'activity_logs'}"${where} in ${connection.label} (check the name${hint}, or run "activity-log migrate" to create it)`);
    }
  }
  return undefined;
}

/**
 * `error` (or an error it was caused by) is SQLite saying the `--db` file is not a database
 * (a misnamed export, a spool file's neighbour): as a usage error naming `--db` and the file.
 */
export function notADatabase(error: unknown, connection: Connection): UsageError | undefined {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if ((cause as { code?: unknown }).code === 'SQLITE_NOTADB') return usage(`--db: ${connection.label} is not a SQLite database (check the file's name)`);
  }
  return undefined;
}

/**
 * Node's and the drivers' codes for a database that could not be reached or that refused the
 * connection, besides the SQLSTATE classes 08 and 28 (a database it does not have, too many
 * connections, the server shutting down).
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  '3D000', '53300', '57P01', '57P03',
  'PROTOCOL_CONNECTION_LOST', 'ER_DBACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_HOST_NOT_PRIVILEGED', 'ER_CON_COUNT_ERROR',
]);

/**
 * `error` (or an error it was caused by) is the database not answering or refusing the
 * connection: as a failure that names the database (its password hidden), for exit code 3.
 * A driver's own words ("connect ECONNREFUSED 127.0.0.1:5432", "Connection terminated due to
 * connection timeout") do not say that they are about the log's database, nor which one.
 */
export function connectionFailure(error: unknown, connection: Connection): CommandFailure | undefined {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const { code, sqlState, message } = cause as { code?: unknown; sqlState?: unknown; message?: unknown };
    // SQLSTATE classes 08 (connection exception) and 28 (invalid authorization): PostgreSQL's
    // code, MySQL's sqlState.
    const state = typeof sqlState === 'string' ? sqlState : typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : '';
    const lost = typeof message === 'string' && /^Connection terminated|^connect |SSL connection/i.test(message);
    if ((typeof code === 'string' && CONNECTION_CODES.has(code)) || /^(08|28)/.test(state) || lost) {
      return new CommandFailure(`could not connect to ${connection.label}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return undefined;
}

/** The command could not be done (the database could not be reached, the output written): exit code 3. */
export class CommandFailure extends Error {}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {}

export function usage(message: string): UsageError {
  return new UsageError(message);
}

