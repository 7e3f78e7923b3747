import { doubleQuote, indexColumns, indexNameText, valueRows, type AnyKysely, type Fragment, type IndexDefinition, type KyselyModule, type SqlDialect, type SqlTag, upsertLease } from './dialect.js';

/**
 * SQLite: times as epoch-millisecond integers, JSON as text read with the JSON1 functions,
 * partial indexes, and write transactions that take the write lock first. @internal
 */
export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  // The historical default of SQLITE_MAX_VARIABLE_NUMBER; builds since 3.32 allow 32766.
  oneConnection: true,
  maxBindParameters: 999,

  encodeTime: (ms) => ms,
  // The value as the column holds it (a fraction, a huge number, text): SQLite compares it as stored.
  storedTimeParameter: (stored) => stored,
  epochMs: (sql) => sql`occurred_at`,
  // Integer arithmetic (floor() needs the optional math functions). Not occurred_at / unit:
  // it rounds toward zero, which puts a time before 1970 in the unit after its own. `%` keeps
  // the dividend's sign, so the remainder is made positive first.
  unitStart: (sql, unitMs) => sql`(occurred_at - (((occurred_at % ${sql.lit(unitMs)}) + ${sql.lit(unitMs)}) % ${sql.lit(unitMs)}))`,
  metadataEquals(sql, key, value) {
    const path = `$.${key}`;
    if (typeof value === 'boolean') return sql`json_type(metadata, ${path}) = ${value ? 'true' : 'false'}`;
    // A number is also compared as SQLite reads the JSON text it was stored as: an integer past
    // 2^53 (2 ** 60) is stored as JSON.stringify writes it, "1152921504606847000", which SQLite
    // reads as that 64-bit integer, not as the double bound for it; parsing the same text from
    // the filter gives the same integer. The plain comparison still matches a number another
    // writer stored exactly ("1152921504606846976", as change capture's triggers write them).
    return typeof value === 'number'
      ? sql`(json_type(metadata, ${path}) in ('integer', 'real') and (json_extract(metadata, ${path}) = ${value} or json_extract(metadata, ${path}) = json_extract(${JSON.stringify(value)}, '$')))`
      : sql`(json_type(metadata, ${path}) = 'text' and json_extract(metadata, ${path}) = ${value})`;
  },

  contextEquals: (sql, key, value) => sql`(json_type(context, ${`$.${key}`}) = 'text' and json_extract(context, ${`$.${key}`}) = ${value})`,
  // SQLite's lower() folds ASCII letters only (without the ICU extension, which we never load).
  asciiLower: (sql, column) => sql`lower(${sql.id(column)})`,

  quote: doubleQuote,
  insertIgnoringDuplicates: (table, columns, rows, key) =>
    `insert into ${table} (${columns.map((column) => doubleQuote(column)).join(', ')}) values ${valueRows(rows, columns.length, () => '?')} on conflict (${key.join(', ')}) do nothing`,
  boundedDelete: (sql, table, where, limit) => sql`delete from ${table} where id in (select id from ${table} where ${where} order by occurred_at, id limit ${sql.lit(limit)})`,
  takeLease: upsertLease,
  writeTransaction: immediateTransaction,
  // The erased rows' old pages stay in the write-ahead log (written there when the records were
  // inserted, and not yet overwritten) until the log is reused: copied into the file, whose
  // freed cells secure_delete zeroes (sqlite-pragmas.ts), and the log truncated to nothing. A
  // reader in the middle of a read keeps the log; the next checkpoint that finds none empties it.
  afterErase: async (k, db) => void (await k.sql`pragma wal_checkpoint(TRUNCATE)`.execute(db)),
  // BEGIN IMMEDIATE already holds the write lock.
  lockForUpdate: (sql) => sql``,

  textType: (max) => `varchar(${max})`,
  jsonType: 'text',
  timeType: 'integer',
  bigIntType: 'integer',
  tableOptions: async () => '',
  indexes(sql, _table, tableName, definitions, schema) {
    // The filter indexes leave `id` out: SQLite's index entries end with the 8-byte rowid
    // anyway, and the 36-character id made every insert dearer (see the storage benchmark);
    // the planner orders the few rows of one millisecond itself. They are partial: a row with
    // no actor, target or tenant costs one index insert fewer, and `actor_id = ?` still uses
    // the index, as it implies not null.
    return { inline: [], statements: definitions.map((definition) => sqliteIndex(sql, tableName, definition, schema)) };
  },
  addIndex: (sql, _table, tableName, definition, schema) => sqliteIndex(sql, tableName, definition, schema),
  // SQLite matches a database's name without case; "temp" is there once used, and always usable.
  hasSchema: async (k, db, schema) =>
    schema.toLowerCase() === 'temp' || (await k.sql`select 1 as found from pragma_database_list where name = ${schema} collate nocase`.execute(db)).rows.length > 0,
  // In the attached database `schema` names, not the first database that has such a table.
  hasColumn: async (k, db, schema, table, column) => {
    const info = schema ? k.sql`pragma_table_info(${table}, ${schema})` : k.sql`pragma_table_info(${table})`;
    return (await k.sql`select 1 as found from ${info} where name = ${column}`.execute(db)).rows.length > 0;
  },
  hasIndex: async (k, db, schema, table, name) => {
    const master = schema ? k.sql.id(schema, 'sqlite_master') : k.sql.id('sqlite_master');
    return (await k.sql`select 1 as found from ${master} where type = 'index' and name = ${name} and tbl_name = ${table} collate nocase`.execute(db)).rows.length > 0;
  },
  withMigrationLock: (k, db, _lock, migrate) => immediateTransaction(k, db, migrate),

  isContentRejection(error) {
    const code = errorCode(error);
    return typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH');
  },
  isMissingTable(error) {
    const message = (error as { message?: unknown } | null)?.message;
    return typeof message === 'string' && message.includes('no such table');
  },
};

/**
 * A partial index where the definition names a column whose null rows it leaves out. In an
 * attached database (`schema`), SQLite wants the index's name qualified and its table not: the
 * index is made in the table's database.
 */
function sqliteIndex(sql: SqlTag, tableName: string, definition: IndexDefinition, schema: string | undefined): Fragment {
  const where = definition.nullable ? sql` where ${sql.id(definition.nullable)} is not null` : sql``;
  const name = schema ? sql.id(schema, indexNameText(tableName, definition)) : sql.id(indexNameText(tableName, definition));
  return sql`create index if not exists ${name} on ${sql.id(tableName)} (${indexColumns(sql, definition, definition.endsWithId === true)})${where}`;
}

/**
 * A write transaction that takes the write lock first (BEGIN IMMEDIATE) and waits for it
 * asynchronously. SQLite's busy timeout waits synchronously: when the lock holder is another
 * connection in this same process, that wait would block the holder from ever finishing, so
 * the timeout is off while the lock is being taken.
 */
async function immediateTransaction(k: KyselyModule, db: AnyKysely, fn: (connection: AnyKysely) => Promise<void>): Promise<void> {
  const { sql } = k;
  await db.connection().execute(async (connection) => {
    const { rows } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(connection);
    const busyTimeoutMs = Number(rows[0]?.timeout ?? 0);
    await sql`pragma busy_timeout = 0`.execute(connection);
    try {
      const deadline = Date.now() + Math.max(busyTimeoutMs, 5000);
      for (let attempt = 0; ; attempt++) {
        try {
          await sql`begin immediate`.execute(connection);
          break;
        } catch (error) {
          if (!isBusy(error) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + attempt * 5)));
        }
      }
    } finally {
      await sql`pragma busy_timeout = ${sql.lit(busyTimeoutMs)}`.execute(connection);
    }
    try {
      await fn(connection);
      await sql`commit`.execute(connection);
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
  });
}

function isBusy(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'SQLITE_BUSY' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

function errorCode(error: unknown): unknown {
  return error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
}
