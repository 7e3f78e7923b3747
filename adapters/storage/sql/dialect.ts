import type { StoredTimeValue } from '../../../src/stored-time.js';
import type { Kysely, RawBuilder } from 'kysely';
import type { ColumnKind } from './columns.js';

/**
 * How the SQL stores talk to one database. Everything that differs between SQLite,
 * PostgreSQL and MySQL/MariaDB is a method or a value here, implemented once per database in
 * its own file (sqlite.ts, postgres.ts and mysql.ts beside this one); the shared statements,
 * migrations and store lifecycle call them and never ask which database they run on.
 *
 * Dialects are plain constants: the methods that build SQL fragments are handed Kysely's
 * `sql` tag, because Kysely is an optional peer that the stores load on first use.
 * @internal
 */

/** Kysely's module, loaded on first use (see peer.ts). */
export type KyselyModule = typeof import('kysely');
/** Kysely's `sql` template tag. */
export type SqlTag = KyselyModule['sql'];
// The table name is chosen at run time, so the stores work on an untyped Kysely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKysely = Kysely<any>;
/** A fragment of SQL with its bound values. */
export type Fragment = RawBuilder<unknown>;

/** The databases the SQL stores support. */
export type SqlDialectName = 'sqlite' | 'postgres' | 'mysql';

/** One secondary index of the activity table, as migrations.ts declares it. */
export interface IndexDefinition {
  /** `<table>_<suffix>_idx`. */
  suffix: string;
  /** Leading columns, before `occurred_at desc` that every other index ends with. */
  columns: readonly string[];
  /** The columns alone, without the page order after them (an index not used for pages). */
  plain?: boolean;
  /** The column whose null rows a partial index may leave out. */
  nullable?: string;
  /**
   * The index ends with `id desc` whatever the database prefers (the time index: it is what
   * a page filtered only on unindexed columns walks, and it must match the page order).
   */
  endsWithId?: boolean;
}

/**
 * What a migration lock keeps to one process at a time: `scope` (the store's migrations,
 * change capture's) of the log table `tableName` in `schema` (the connection's own when
 * undefined).
 */
export interface MigrationLock {
  scope: 'activity-log' | 'activity-log:capture';
  schema: string | undefined;
  tableName: string;
}

/**
 * The lock's name as PostgreSQL hashes it for its advisory lock (`hashtext`), which is local
 * to the database: `<scope>:<schema>.<table>`, the schema empty for the connection's own.
 */
export function lockText(lock: MigrationLock): string {
  return `${lock.scope}:${lock.schema ?? ''}.${lock.tableName}`;
}

/** The partitions of a table partitioned by time (see partitions.ts). */
export interface TablePartitions {
  /** Whether the table is partitioned, plain, or not made yet. */
  tableKind(db: AnyKysely): Promise<'partitioned' | 'plain' | 'missing'>;
  /** What follows the partitioned table's creation (its default partition). */
  createDefault(): Fragment;
  /** Makes the partitions of the current period and those ahead of it. */
  ensureAhead(db: AnyKysely, now: number, lockName: string): Promise<void>;
  /** Drops the partitions that end before `before`; how many records they held. */
  dropBefore(db: AnyKysely, before: Date): Promise<number>;
}

/**
 * `SqlDialect.takeLease` for the databases with `insert … on conflict … do update … where`
 * (PostgreSQL, SQLite): unqualified columns in DO UPDATE name the stored row, `excluded` the
 * proposed one.
 */
export const upsertLease: SqlDialect['takeLease'] = (sql, table, { name, holder, now, expiresAt }) =>
  sql`insert into ${table} (name, holder, expires_at) values (${name}, ${holder}, ${expiresAt}) on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at where ${table}.expires_at <= ${now} or ${table}.holder = excluded.holder`;

export interface SqlDialect {
  readonly name: SqlDialectName;
  /** Most bound parameters one statement may carry; inserts are split to stay under it. */
  readonly maxBindParameters: number;
  /**
   * The largest statement the server takes, in bytes, where it refuses bigger ones by dropping
   * the connection (MySQL's `max_allowed_packet`); read once at connect. Absent where a
   * statement's size is not a practical limit.
   */
  maxStatementBytes?(k: KyselyModule, db: AnyKysely): Promise<number | undefined>;
  /**
   * A Kysely of this database has a single connection (SQLite): a caller's open transaction
   * holds it, so work the store would do on its own connection meanwhile (a first migration)
   * has to run inside that transaction instead.
   */
  readonly oneConnection: boolean;

  // ---- values ------------------------------------------------------------------------------
  /** A time as bound for `occurred_at`. */
  encodeTime(ms: number): unknown;
  /**
   * A stored time no Date holds (a page's cursor carries it: see stored-time.ts) as bound to
   * compare with `occurred_at`, or undefined when this database cannot hold it (the page then
   * continues from the whole milliseconds that stand for it).
   */
  storedTimeParameter(stored: StoredTimeValue): unknown;
  /**
   * `occurred_at` as epoch milliseconds, whatever the column type and session time zone, and
   * exact: digits below the millisecond are kept (a fraction), for verify() (stored-time.ts).
   */
  epochMs(sql: SqlTag): Fragment;
  /**
   * The start of the `unitMs` unit holding `occurred_at`, in epoch milliseconds: a row's time
   * bucket. Floored, before 1970 too (1969-12-31T12:00Z is in the day 1969-12-31).
   */
  unitStart(sql: SqlTag, unitMs: number): Fragment;
  /**
   * `metadata[key] === value` as JavaScript compares: the JSON type must match too, so the
   * string '1' never equals the number 1, nor `true` the number 1. `key` is an identifier.
   */
  metadataEquals(sql: SqlTag, key: string, value: string | number | boolean): Fragment;
  /** `context[key] === value` for a string field of the context (`requestId`, `traceId`); `key` is an identifier. */
  contextEquals(sql: SqlTag, key: string, value: string): Fragment;
  /**
   * `column` with A–Z lower-cased and every other character left as it is, as
   * `asciiLowerCase` does in JavaScript: the `search` filter compares it with `like`, so
   * every store finds the same records. `column` is an identifier.
   */
  asciiLower(sql: SqlTag, column: string): Fragment;

  // ---- statements --------------------------------------------------------------------------
  /** An identifier quoted for this database; `schema.table` when given two parts. */
  quote(...parts: string[]): string;
  /**
   * The text of an insert of `rows` rows of `columns` into `table` (already quoted) that skips
   * a row whose `key` columns are already stored, with this database's placeholders. Built
   * without Kysely, so the SQLite writer thread and the insert paths share one text.
   */
  insertIgnoringDuplicates(table: string, columns: readonly string[], rows: number, key: readonly string[]): string;
  /**
   * The same insert with the rows bound as one array per column, of the columns' `kinds`
   * (`unnest`): the database parses and plans one small statement whatever the number of rows.
   * PostgreSQL takes a 1,000-row batch this way about twice as fast as a 1,000-row `values`
   * list, whose every value is a parameter to parse and plan. Absent where the database has no
   * array parameters: the store then binds `insertIgnoringDuplicates`' rows.
   */
  insertColumnsIgnoringDuplicates?(table: string, columns: readonly string[], kinds: readonly ColumnKind[], key: readonly string[]): string;
  /**
   * A delete of at most `limit` rows of `table` matching `where`, the oldest first; `key`
   * names a row (`id`, or `id, occurred_at` in a partitioned table, where ids are unique only
   * with their time).
   */
  boundedDelete(sql: SqlTag, table: Fragment, where: Fragment, limit: number, key: readonly string[]): Fragment;
  /**
   * Writes the lease `name` for `holder` until `expiresAt` (epoch ms) when the stored lease
   * expired at or before `now`, or is already `holder`'s; leaves it as it is otherwise. In one
   * statement, so two processes taking it at once cannot both succeed.
   */
  takeLease(sql: SqlTag, table: Fragment, lease: { name: string; holder: string; now: number; expiresAt: number }): Fragment;
  /**
   * What follows a select whose rows the transaction is about to rewrite, so that no other
   * writer changes them in between: `for update`, or nothing where the write transaction
   * already holds the database (SQLite).
   */
  lockForUpdate(sql: SqlTag): Fragment;
  /**
   * Monthly partitions of the activity table, where the database has declarative
   * partitioning (PostgreSQL); absent elsewhere.
   */
  partitions?(k: KyselyModule, tableName: string, schema: string | undefined): TablePartitions;
  /**
   * Runs after an erasure rewrote records, to take the erased values out of what the database
   * keeps beside its live rows where that can be done from a connection: SQLite's write-ahead
   * log (see sqlite.ts). Absent where it cannot (PostgreSQL's old row versions and InnoDB's
   * undo log go with VACUUM and purge, which the README leaves to the operator).
   */
  afterErase?(k: KyselyModule, db: AnyKysely): Promise<void>;
  /** Runs `fn` as one write transaction on a connection of `db`. */
  writeTransaction(k: KyselyModule, db: AnyKysely, fn: (connection: AnyKysely) => Promise<void>): Promise<void>;

  // ---- schema ------------------------------------------------------------------------------
  /** Column types: text of at most `max` characters, JSON, the time, and a 64-bit integer. */
  textType(max: number): string;
  readonly jsonType: string;
  readonly timeType: string;
  readonly bigIntType: string;
  /** What follows `create table (...)` (MySQL: the engine and a binary collation). */
  tableOptions(k: KyselyModule, db: AnyKysely): Promise<string>;
  /**
   * The secondary indexes: `inline` goes inside `create table (...)` (MySQL has no
   * `create index if not exists`), `statements` run after it. `schema` is the table's (SQLite
   * names an attached database's index with it, and its table without).
   */
  indexes(sql: SqlTag, table: Fragment, tableName: string, definitions: readonly IndexDefinition[], schema: string | undefined): { inline: Fragment[]; statements: Fragment[] };
  /**
   * Whether `schema` (a PostgreSQL schema, a MySQL database, a database attached to the SQLite
   * connection) is there, matched as the database matches the name in a statement. Read from
   * the catalogue, so a role without DDL rights can ask.
   */
  hasSchema(k: KyselyModule, db: AnyKysely, schema: string): Promise<boolean>;
  /** Whether a table has a column, from the database's catalogue (a probe would abort PostgreSQL's transaction). */
  hasColumn(k: KyselyModule, db: AnyKysely, schema: string | undefined, table: string, column: string): Promise<boolean>;
  /** Whether `table` has an index of this name (in `schema`, or the connection's own). */
  hasIndex(k: KyselyModule, db: AnyKysely, schema: string | undefined, table: string, name: string): Promise<boolean>;
  /** One index added to an existing table (a schema upgrade). */
  addIndex(sql: SqlTag, table: Fragment, tableName: string, definition: IndexDefinition, schema: string | undefined): Fragment;
  /**
   * Runs `migrate` under a lock that keeps another process from migrating the same table at
   * once: one lock per `lock` (what is migrated, and the table of which schema).
   */
  withMigrationLock(k: KyselyModule, db: AnyKysely, lock: MigrationLock, migrate: (connection: AnyKysely) => Promise<void>): Promise<void>;

  // ---- errors ------------------------------------------------------------------------------
  /**
   * Whether the database refused a statement for the data it carried (a value it cannot hold,
   * a constraint or trigger of the table) rather than for its connection, a lock or its
   * schema: by the database's own error codes, never by message text.
   */
  isContentRejection(error: unknown): boolean;
  /** Whether the error says the table does not exist (yet). */
  isMissingTable(error: unknown): boolean;
}

/**
 * Epoch milliseconds with a fraction as an ISO 8601 time with six fraction digits
 * (`2026-12-07T23:03:11.375001Z`), or undefined outside the years 0 to 9999.
 */
export function isoWithMicroseconds(ms: number): string | undefined {
  const whole = Math.floor(ms);
  const micros = Math.round((ms - whole) * 1000);
  const date = new Date(whole + (micros === 1000 ? 1 : 0));
  if (Number.isNaN(date.getTime())) return undefined;
  const iso = date.toISOString();
  return iso.length === 24 ? `${iso.slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z` : undefined;
}

/** The `"name"` quoting of SQLite and PostgreSQL. */
export function doubleQuote(...parts: string[]): string {
  return parts.map((part) => `"${part.replace(/"/g, '""')}"`).join('.');
}

/** `(p, p, ...), (...)` for `rows` rows of `columns` values, numbering placeholders from 1. */
export function valueRows(rows: number, columns: number, placeholder: (n: number) => string): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row: string[] = [];
    for (let c = 0; c < columns; c++) row.push(placeholder(r * columns + c + 1));
    out.push(`(${row.join(', ')})`);
  }
  return out.join(', ');
}

/** The SQLSTATE classes of a refused value (22, data exception) and of a refused row (23, integrity constraint). */
export const CONTENT_SQLSTATE = /^(22|23)[0-9A-Z]{3}$/;

/** The text of one index's columns: the leading ones, then the page order. */
export function indexColumns(sql: SqlTag, definition: IndexDefinition, endsWithId: boolean): Fragment {
  const leading = definition.columns.map((column) => sql.id(column));
  if (definition.plain) return sql.join(leading);
  return sql.join([...leading, sql`occurred_at desc`, ...(endsWithId ? [sql`id desc`] : [])]);
}

/** `<table>_<suffix>_idx`. */
export function indexName(sql: SqlTag, tableName: string, definition: IndexDefinition): Fragment {
  return sql.id(indexNameText(tableName, definition));
}

/** `<table>_<suffix>_idx`, as text. */
export function indexNameText(tableName: string, definition: IndexDefinition): string {
  return `${tableName}_${definition.suffix}_idx`;
}
