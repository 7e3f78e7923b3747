import { createHash } from 'node:crypto';
import { cutText } from '../../../src/text.js';
import { CONTENT_SQLSTATE, indexColumns, indexName, isoWithMicroseconds, valueRows, type SqlDialect } from './dialect.js';

/** SQLSTATE class 45: an exception a trigger or procedure raises with SIGNAL. */
const USER_DEFINED_SQLSTATE = /^45[0-9A-Z]{3}$/;
/** Refusals of a row's content that MySQL files under SQLSTATE HY000 (general error). */
const HY000_CONTENT_ERRNOS: ReadonlySet<number> = new Set([1366, 1367, 3140, 3819]);

/** The longest lock name MySQL takes (a longer one is an error there; MariaDB takes it whole). */
const MAX_LOCK_NAME = 64;
/** Hex digits of the hash that makes a lock name unique: 64 bits. */
const LOCK_HASH_DIGITS = 16;

/**
 * The name of the `GET_LOCK` that serialises the migrations of `scope` for one table: at most
 * {@link MAX_LOCK_NAME} characters, readable (`activity-log:app.activity_logs:…`) and unique per
 * database and table by a hash of both whole names. Cut to 64 characters instead, two long
 * names alike in their first 64 shared one lock, and each migration waited for the other's. @internal
 */
export function mysqlLockName(scope: string, database: string, tableName: string): string {
  const whole = `${database}.${tableName}`;
  // The parts as a JSON list: a database may have a "." in its name (`a.b` + `c` is not `a` + `b.c`).
  const hash = createHash('sha256').update(JSON.stringify([scope, database, tableName])).digest('hex').slice(0, LOCK_HASH_DIGITS);
  const room = MAX_LOCK_NAME - scope.length - hash.length - 2;
  return `${scope}:${cutText(whole, room)}:${hash}`;
}

/**
 * MySQL and MariaDB: `DATETIME(3)` written and read as UTC by the SQL itself (neither the
 * driver's nor the session's time zone shifts it), JSON columns, a binary collation so ids
 * and filters compare exactly as in JavaScript, and `GET_LOCK` for migrations. @internal
 */
export const mysqlDialect: SqlDialect = {
  name: 'mysql',
  oneConnection: false,
  maxBindParameters: 65_535,
  async maxStatementBytes(k, db) {
    // Best effort: a MySQL-compatible server without the variable still gets its events,
    // inserted unsplit as before.
    const rows = await k.sql<{ bytes: unknown }>`select @@max_allowed_packet as bytes`
      .execute(db)
      .then((result) => result.rows)
      .catch(() => []);
    const bytes = Number(rows[0]?.bytes);
    return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
  },

  encodeTime: (ms) => new Date(ms).toISOString().slice(0, 23).replace('T', ' '),
  storedTimeParameter: (stored) => (typeof stored === 'number' ? isoWithMicroseconds(stored)?.slice(0, 26).replace('T', ' ') : undefined),
  // Exact (a decimal), also for a column someone widened to datetime(6): see stored-time.ts.
  epochMs: (sql) => sql`(timestampdiff(microsecond, '1970-01-01 00:00:00', occurred_at) / 1000)`,
  // `div 1000` is exact (DATETIME(3) holds whole milliseconds); the decimal division and
  // floor() then round down, before 1970 too.
  unitStart: (sql, unitMs) => sql`(floor((timestampdiff(microsecond, '1970-01-01 00:00:00', occurred_at) div 1000) / ${sql.lit(unitMs)}) * ${sql.lit(unitMs)})`,
  metadataEquals(sql, key, value) {
    const extracted = sql`json_extract(metadata, ${`$.${key}`})`;
    if (typeof value === 'boolean') return sql`(json_type(${extracted}) = 'BOOLEAN' and json_unquote(${extracted}) = ${String(value)})`;
    // Both sides as doubles, the number JavaScript reads from the stored JSON and compares.
    // Compared with an integer (the driver writes 0 as the literal 0), MariaDB reads the JSON
    // number as a decimal of some 38 places, so 5e-324 or 1e-40 equalled 0; `+ 0e0` makes a
    // double on MySQL 5.7 and 8 and MariaDB alike (CAST AS DOUBLE is newer), and the CASE keeps
    // a string value from being converted at all (a warning, an error in a strict statement).
    return typeof value === 'number'
      ? sql`(case when json_type(${extracted}) in ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL') then ${extracted} + 0e0 end) = (${value} + 0e0)`
      : // Compared as bytes: the session's collation may be case- or accent-insensitive.
        sql`(json_type(${extracted}) = 'STRING' and cast(json_unquote(${extracted}) as binary) = cast(${value} as binary))`;
  },

  // Compared as bytes, as metadata strings are.
  contextEquals: (sql, key, value) => sql`cast(json_unquote(json_extract(context, ${`$.${key}`})) as binary) = cast(${value} as binary)`,

  // lower() folds every Unicode letter whatever the collation (ÉCLAIR would become éclair, so
  // the search "ÉCLAIR" would miss it). Replacing A-Z in the bytes folds ASCII only: no byte
  // of a multi-byte UTF-8 character is below 0x80, so none is taken for a letter. The result
  // is binary, so the `like` it meets compares bytes too.
  asciiLower: (sql, column) => {
    let folded = sql`cast(${sql.id(column)} as binary)`;
    for (let code = 65; code <= 90; code++) folded = sql`replace(${folded}, ${sql.lit(String.fromCharCode(code))}, ${sql.lit(String.fromCharCode(code + 32))})`;
    return folded;
  },

  quote: (...parts) => parts.map((part) => `\`${part.replace(/`/g, '``')}\``).join('.'),
  // Not INSERT IGNORE: it would also turn a value the column cannot hold into a warning.
  insertIgnoringDuplicates: (table, columns, rows, key) =>
    `insert into ${table} (${columns.map((column) => `\`${column}\``).join(', ')}) values ${valueRows(rows, columns.length, () => '?')} on duplicate key update ${key[0]} = ${key[0]}`,
  // The oldest rows, chosen by a SELECT and deleted through a join: MariaDB runs DELETE ... ORDER
  // BY ... LIMIT with a sort of every matching row when a filter's index leads (a purge of one
  // tenant took time in the square of its rows), where a SELECT reads them in index order.
  // A derived table with LIMIT is materialised, so MySQL allows it beside the DELETE.
  boundedDelete: (sql, table, where, limit) =>
    sql`delete purged from ${table} as purged join (select id from ${table} where ${where} order by occurred_at, id limit ${sql.lit(limit)}) as oldest on purged.id = oldest.id`,
  // One condition for both columns, true on the old row and still true once `holder` is
  // updated, so that the statement is right whether MySQL assigns left to right (the default)
  // or all at once (sql_mode SIMULTANEOUS_ASSIGNMENT, MariaDB).
  takeLease: (sql, table, { name, holder, now, expiresAt }) => {
    const free = sql`(expires_at <= ${now} or holder = values(holder))`;
    return sql`insert into ${table} (name, holder, expires_at) values (${name}, ${holder}, ${expiresAt}) on duplicate key update holder = if(${free}, values(holder), holder), expires_at = if(${free}, values(expires_at), expires_at)`;
  },
  writeTransaction: (_k, db, fn) => db.transaction().execute(fn),
  lockForUpdate: (sql) => sql` for update`,

  textType: (max) => `varchar(${max})`,
  jsonType: 'json',
  timeType: 'datetime(3)',
  bigIntType: 'bigint',
  async tableOptions(k, db) {
    const { rows } = await k.sql<{ v: string }>`select version() as v`.execute(db);
    const version = String(rows[0]?.v ?? '');
    // Binary and no-pad, so comparisons and id order match JavaScript's exactly.
    const collation = /mariadb/i.test(version) ? 'utf8mb4_nopad_bin' : version.startsWith('5.') ? 'utf8mb4_bin' : 'utf8mb4_0900_bin';
    return ` engine=InnoDB default charset=utf8mb4 collate=${collation}`;
  },
  indexes(sql, _table, tableName, definitions) {
    // Declared inside CREATE TABLE: MySQL has no CREATE INDEX IF NOT EXISTS.
    const inline = definitions.map((definition) => sql`index ${indexName(sql, tableName, definition)} (${indexColumns(sql, definition, true)})`);
    return { inline, statements: [] };
  },
  // The catalogue compares names without case; the server does so for database names only where
  // lower_case_table_names is set (as on Windows and macOS), and elsewhere `Audit` is not `audit`.
  // A database this user has no rights on is not in the catalogue either.
  hasSchema: async (k, db, schema) =>
    (
      await k.sql`select 1 as found from information_schema.schemata where schema_name = ${schema}
        and (@@lower_case_table_names <> 0 or cast(schema_name as binary) = cast(${schema} as binary))`.execute(db)
    ).rows.length > 0,
  // The catalogue compares names without case (index names, and table names in some of its
  // views), and `Logs` and `logs` are two tables on Linux: names are compared as bytes here.
  hasColumn: async (k, db, schema, table, column) =>
    (
      await k.sql`select 1 as found from information_schema.columns where table_schema = coalesce(${schema ?? null}, database())
        and table_name = ${table} and cast(table_name as binary) = cast(${table} as binary) and column_name = ${column}`.execute(db)
    ).rows.length > 0,
  // Index names are per table on MySQL: `<table>_chain_idx` of another table, or of the same name in another case, is not this one.
  hasIndex: async (k, db, schema, table, name) =>
    (
      await k.sql`select 1 as found from information_schema.statistics where table_schema = coalesce(${schema ?? null}, database())
        and table_name = ${table} and cast(table_name as binary) = cast(${table} as binary) and cast(index_name as binary) = cast(${name} as binary)`.execute(db)
    ).rows.length > 0,
  addIndex: (sql, table, tableName, definition) => sql`alter table ${table} add index ${indexName(sql, tableName, definition)} (${indexColumns(sql, definition, true)})`,
  withMigrationLock: (k, db, lock, migrate) =>
    db.connection().execute(async (connection) => {
      // GET_LOCK's names are the server's, not a database's: the table's database is named
      // even when it is the connection's own, so that a table of that name in another
      // database is migrated without waiting for this one.
      const database = lock.schema ?? String((await k.sql<{ name: unknown }>`select database() as name`.execute(connection)).rows[0]?.name ?? '');
      const name = mysqlLockName(lock.scope, database, lock.tableName);
      const { rows } = await k.sql<{ locked: unknown }>`select get_lock(${name}, 60) as locked`.execute(connection);
      if (Number(rows[0]?.locked) !== 1) throw new Error(`could not take the migration lock ${name} within 60 s`);
      try {
        await migrate(connection);
      } finally {
        await k.sql`select release_lock(${name})`.execute(connection);
      }
    }),

  // SQLSTATE class 22 and 23, class 45 (a user-defined exception: SIGNAL in a trigger, 45000
  // or any other), and the refusals of a row that MySQL files under HY000: a value the column
  // cannot hold (1366, 1367, 3140) and a CHECK constraint (3819 in MySQL 8; MariaDB files it
  // under 23000).
  isContentRejection(error) {
    if (error === null || typeof error !== 'object') return false;
    const { sqlState, errno } = error as { sqlState?: unknown; errno?: unknown };
    return (typeof sqlState === 'string' && (CONTENT_SQLSTATE.test(sqlState) || USER_DEFINED_SQLSTATE.test(sqlState))) || (typeof errno === 'number' && HY000_CONTENT_ERRNOS.has(errno));
  },
  isMissingTable: (error) => (error as { code?: unknown } | null)?.code === 'ER_NO_SUCH_TABLE',
};
