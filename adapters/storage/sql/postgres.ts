import { CONTENT_SQLSTATE, doubleQuote, indexColumns, indexName, isoWithMicroseconds, lockText, valueRows, type SqlDialect, upsertLease } from './dialect.js';
import type { ColumnKind } from './columns.js';
import { MonthlyPartitions } from './partitions.js';

/**
 * The array type each kind of column is bound as in an `unnest` insert. Text goes as `text[]`:
 * the column's own length limit is checked as the value is assigned, with the same error a
 * bound value gets.
 */
const ARRAY_TYPE: Readonly<Record<ColumnKind, string>> = { text: 'text', time: 'timestamptz', json: 'jsonb', bigint: 'bigint' };

/**
 * PostgreSQL: `timestamptz` times, `jsonb` JSON, text compared in the "C" collation (ids order
 * and compare byte-wise, like JavaScript strings), and an advisory lock for migrations. @internal
 */
export const postgresDialect: SqlDialect = {
  name: 'postgres',
  oneConnection: false,
  maxBindParameters: 65_535,

  encodeTime: (ms) => new Date(ms).toISOString(),
  storedTimeParameter: (stored) => {
    if (stored === Infinity || stored === 'Infinity') return 'infinity';
    if (stored === -Infinity || stored === '-Infinity') return '-infinity';
    return typeof stored === 'number' ? isoWithMicroseconds(stored) : undefined;
  },
  epochMs: (sql) => sql`(extract(epoch from occurred_at) * 1000)`,
  // extract() is numeric (exact) since PostgreSQL 14, and floor() rounds down before 1970 too.
  unitStart: (sql, unitMs) => sql`(floor((extract(epoch from occurred_at) * 1000) / ${sql.lit(unitMs)}) * ${sql.lit(unitMs)})`,
  metadataEquals: (sql, key, value) => sql`(metadata -> ${key}::text) = ${JSON.stringify(value)}::jsonb`,

  contextEquals: (sql, key, value) => sql`(context ->> ${key}::text) = ${value}`,
  // The columns are in the "C" collation, whose lower() folds ASCII letters only.
  asciiLower: (sql, column) => sql`lower(${sql.id(column)})`,

  quote: doubleQuote,
  insertIgnoringDuplicates: (table, columns, rows, key) =>
    `insert into ${table} (${columns.map((column) => doubleQuote(column)).join(', ')}) values ${valueRows(rows, columns.length, (n) => `$${n}`)} on conflict (${key.join(', ')}) do nothing`,
  insertColumnsIgnoringDuplicates: (table, columns, kinds, key) =>
    `insert into ${table} (${columns.map((column) => doubleQuote(column)).join(', ')}) select * from unnest(${kinds.map((kind, i) => `$${i + 1}::${ARRAY_TYPE[kind]}[]`).join(', ')}) on conflict (${key.join(', ')}) do nothing`,
  boundedDelete: (sql, table, where, limit, key) => {
    const columns = sql.join(key.map((column) => sql.id(column)));
    return sql`delete from ${table} where (${columns}) in (select ${columns} from ${table} where ${where} order by occurred_at, id limit ${sql.lit(limit)})`;
  },
  takeLease: upsertLease,
  partitions: (k, tableName, schema) => new MonthlyPartitions(k, tableName, schema),
  writeTransaction: (_k, db, fn) => db.transaction().execute(fn),
  lockForUpdate: (sql) => sql` for update`,

  textType: (max) => `varchar(${max}) collate "C"`,
  jsonType: 'jsonb',
  timeType: 'timestamptz',
  bigIntType: 'bigint',
  tableOptions: async () => '',
  indexes(sql, table, tableName, definitions, schema) {
    return { inline: [], statements: definitions.map((definition) => postgresDialect.addIndex(sql, table, tableName, definition, schema)) };
  },
  // Quoted, a schema's name is matched as it is written, case included.
  hasSchema: async (k, db, schema) => (await k.sql`select 1 as found from pg_namespace where nspname = ${schema}`.execute(db)).rows.length > 0,
  hasColumn: async (k, db, schema, table, column) =>
    (await k.sql`select 1 as found from information_schema.columns where table_schema = coalesce(${schema ?? null}::text, current_schema()) and table_name = ${table} and column_name = ${column}`.execute(db)).rows.length > 0,
  hasIndex: async (k, db, schema, table, name) =>
    (await k.sql`select 1 as found from pg_indexes where indexname = ${name} and tablename = ${table} and schemaname = coalesce(${schema ?? null}::text, current_schema())`.execute(db)).rows.length > 0,
  addIndex: (sql, table, tableName, definition) =>
    sql`create index if not exists ${indexName(sql, tableName, definition)} on ${table} (${indexColumns(sql, definition, true)})`,
  withMigrationLock: (k, db, lock, migrate) =>
    db.transaction().execute(async (trx) => {
      // Held until the transaction ends, also if the process dies mid-migration.
      await k.sql`select pg_advisory_xact_lock(hashtext(${lockText(lock)}))`.execute(trx);
      await migrate(trx);
    }),

  // SQLSTATE class 22 (data exception), 23 (integrity constraint), and what a trigger refuses
  // a row with: P0001 (raise exception) and P0004 (a failed assert).
  isContentRejection(error) {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && (CONTENT_SQLSTATE.test(code) || code === 'P0001' || code === 'P0004');
  },
  isMissingTable: (error) => (error as { code?: unknown } | null)?.code === '42P01',
};
