import { CHANGE_CAPTURE, registerChangeAttribution, type ChangeCaptureSupport } from '../../../src/change-capture.js';
import { describeValue } from '../../../src/describe.js';
import { ActivityLogError } from '../../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../../src/option-keys.js';
import { loadPeer } from '../peer.js';
import type { AnyKysely, KyselyModule, SqlDialectName } from '../sql/dialect.js';
import { detectDialectName, SQL_DIALECTS } from '../sql/dialects.js';
import { isKysely } from '../sql/store.js';
import { instrumentKysely, pinContext, uninstrumented } from './connections.js';
import type { CaptureDialect } from './dialect.js';
import { CAPTURE_VERSION, checkIdentifier, type CaptureCaller, checkTables, defineCapture, fingerprint, isLogsOwnTable, type CaptureDefinition, type CapturedTables, type LogTable } from './model.js';
import { mysqlCapture } from './mysql.js';
import { postgresCapture } from './postgres.js';
import { contextOf, currentContext } from './scope.js';
import { dropTemporaryTriggers, SCOPE_DATABASE, sqliteCapture } from './sqlite.js';

/**
 * `captureChanges` and `removeChangeCapture`: installing, upgrading and removing the triggers,
 * under the same cross-process lock as the log table's migrations, with what is installed
 * recorded in `<log table>_capture` (one row per audited table: the release's version and a
 * fingerprint of the triggers' text, so an upgrade, a new column or new options replace them
 * and an unchanged table is left alone).
 */

const CAPTURE_DIALECTS: Record<SqlDialectName, CaptureDialect> = { postgres: postgresCapture, mysql: mysqlCapture, sqlite: sqliteCapture };

/** Options of {@link captureChanges}. */
export interface CaptureChangesOptions {
  /**
   * The schema (PostgreSQL) or database (MySQL) of the audited tables.
   * @default the connection's current one
   */
  schema?: string;
  /**
   * The database behind `db`.
   * @default detected from the Kysely dialect's adapter
   */
  dialect?: SqlDialectName;
}

/** The options of {@link CaptureChangesOptions}, for the check that refuses others. */
const CAPTURE_CHANGES_OPTIONS = optionNames<CaptureChangesOptions>()(['schema', 'dialect']);

/** What {@link captureChanges} did. */
export interface CaptureInstallation {
  /** Tables whose triggers were created or replaced (new, upgraded, columns or options changed). */
  installed: string[];
  /** Tables whose triggers were already this release's, for these columns and options. */
  unchanged: string[];
}

interface Target {
  k: KyselyModule;
  dialect: SqlDialectName;
  capture: CaptureDialect;
  log: LogTable;
  meta: string;
}

/**
 * Records every INSERT, UPDATE and DELETE of the given tables into the activity log, however
 * it is made (your Kysely, raw SQL, another service, psql), by database triggers that commit
 * or roll back with the change. Writes made through `db` while a request scope is current
 * (the framework middleware, `runWithActivityContext`) carry that request's actor, tenant and
 * context; others are recorded with the actor `{ type: 'database', id: <database user> }`.
 *
 * `db` is your own Kysely instance, over the database that holds `activity`'s log table (a
 * kyselyStore on `db`, or a sqliteStore/postgresStore/mysqlStore on the same database). It is
 * changed in place so that it passes the request's context to the triggers. Idempotent and
 * safe from several processes: call it at every start, after your migrations (a column added
 * since the last call is then captured too).
 *
 * @example
 * await captureChanges(db, activity, {
 *   recipes: { target: 'recipe', id: 'id', name: 'title', ignore: ['updated_at'] },
 *   users: { target: 'user', id: 'id', name: 'email', redact: ['password_hash'] },
 * });
 */
export async function captureChanges(db: AnyKysely, activity: unknown, tables: CapturedTables, options: CaptureChangesOptions = {}): Promise<CaptureInstallation> {
  const support = supportOf(activity);
  const checked = checkTables(tables);
  const schema = checkOptions(options);
  const target = await targetOf(db, await logTableOf(support), options.dialect);
  installedLog.set(db, target.log);
  const result: CaptureInstallation = { installed: [], unchanged: [] };
  const definitions: CaptureDefinition[] = [];
  const { redactor } = support;
  // Without the app's plugins: a CamelCasePlugin would rename the catalogue's columns we read.
  const plain = uninstrumented(() => db.withoutPlugins());
  await SQL_DIALECTS[target.dialect].withMigrationLock(target.k, plain, { scope: 'activity-log:capture', schema: target.log.schema, tableName: target.log.name }, async (connection) => {
    await ensureLogTable(connection, target);
    await createMeta(connection, target);
    const log = await triggersLogTable(connection, target);
    const current = await currentSchema(connection, target);
    const tablesSchema = schema ?? current;
    for (const table of checked) {
      if (tablesSchema === log.schema && isLogsOwnTable(table.table, log)) {
        throw new ActivityLogError(
          'INVALID_OPTIONS',
          `captureChanges: tables.${table.table}: is ${table.table === log.name ? 'the log table itself' : `a table of the log "${log.name}"`}; its triggers would record the log's own writes, and every write of the log would fail`,
        );
      }
      const columns = await target.capture.columns(target.k, connection, table.table, schema);
      const definition = defineCapture(table, schema, columns, { isSensitive: (column) => redactor.isSensitive([column]), censor: redactor.censor });
      definitions.push(definition);
      const statements = target.capture.install(definition, log);
      const print = fingerprint(definition, log, statements.join(';\n'));
      // Keyed against the connection's own schema, as removeChangeCapture looks it up: against
      // tablesSchema, a table of { schema } would be recorded as the same-named table of the
      // connection's schema, and removing capture would drop the wrong table's triggers.
      const key = installKey(schema, current, table.table);
      const { rows } = await target.k.sql<{ fingerprint: string }>`select fingerprint from ${target.k.sql.raw(target.meta)} where table_key = ${key}`.execute(connection);
      // The same fingerprint, and the triggers still there: a table dropped and made again
      // since (same columns, same options) has lost them, and is installed again.
      if (rows[0]?.fingerprint === print && (await target.capture.present(target.k, connection, table.table, schema))) {
        result.unchanged.push(table.table);
        continue;
      }
      await replaceTriggers(connection, target, statements, target.capture.replacing?.(table.table, schema));
      await target.k.sql`delete from ${target.k.sql.raw(target.meta)} where table_key = ${key}`.execute(connection);
      await target.k.sql`insert into ${target.k.sql.raw(target.meta)} (table_key, version, fingerprint) values (${key}, ${CAPTURE_VERSION}, ${print})`.execute(connection);
      result.installed.push(table.table);
    }
  });
  if (target.capture.connectionSetup) await setUpConnection(plain, target, definitions);
  instrumentKysely(db, target.dialect, currentContext);
  registerChangeAttribution({ attribute: (transaction, by) => attribute(transaction, by) });
  return result;
}

/**
 * Runs a table's install statements, under `guard`'s lock where the database needs one (see
 * CaptureDialect.replacing). A role without the right to lock tables installs as before,
 * unlocked: a write racing the install could then go unrecorded, but capture still installs.
 */
async function replaceTriggers(connection: AnyKysely, target: Target, statements: string[], guard: { lock: string; unlock: string } | undefined): Promise<void> {
  const run = (statement: string) => target.k.sql.raw(statement).execute(connection);
  const locked = guard ? await run(guard.lock).then(() => true, () => false) : false;
  try {
    for (const statement of statements) await run(statement);
  } finally {
    // Never hand the connection back to the pool holding the lock.
    if (locked) await run(guard!.unlock);
  }
}

/** Options of {@link removeChangeCapture}. */
export interface RemoveChangeCaptureOptions extends CaptureChangesOptions {
  /**
   * The log table the triggers write, when neither a logger is passed nor `captureChanges`
   * was called with this `db` in this process.
   * @default 'activity_logs'
   */
  tableName?: string;
}

/** The options of {@link RemoveChangeCaptureOptions}, for the check that refuses others. */
const REMOVE_CHANGE_CAPTURE_OPTIONS = optionNames<RemoveChangeCaptureOptions>()(['schema', 'dialect', 'tableName']);

/** The log table `captureChanges` used with each db, for `removeChangeCapture(db)`. */
const installedLog = new WeakMap<AnyKysely, LogTable>();

/**
 * Removes change capture from `tables` (all the audited tables when left out): their triggers
 * and what records them as installed. The records already captured stay in the log.
 * Returns the tables it removed capture from: those that had it (a table named here that was
 * never audited, or audited in another schema, is left out).
 *
 * @example
 * await removeChangeCapture(db, ['recipes']);   // before a MySQL migration that drops a column
 * await removeChangeCapture(db, activity);      // every audited table of activity's log
 */
export async function removeChangeCapture(db: AnyKysely, tables?: string[], options?: RemoveChangeCaptureOptions): Promise<string[]>;
export async function removeChangeCapture(db: AnyKysely, activity: unknown, tables?: string[], options?: RemoveChangeCaptureOptions): Promise<string[]>;
export async function removeChangeCapture(db: AnyKysely, ...args: unknown[]): Promise<string[]> {
  const withLogger = args[0] !== undefined && !Array.isArray(args[0]) && (args[0] as { [CHANGE_CAPTURE]?: unknown } | null)?.[CHANGE_CAPTURE] !== undefined;
  const activity = withLogger ? args[0] : undefined;
  const [tables, options = {}] = (withLogger ? args.slice(1) : args) as [string[] | undefined, RemoveChangeCaptureOptions | undefined];
  const schema = checkOptions(options, 'removeChangeCapture');
  if (tables !== undefined && (!Array.isArray(tables) || tables.length === 0)) {
    throw new ActivityLogError('INVALID_OPTIONS', `removeChangeCapture: tables: must be a non-empty array of table names, or left out for all, got ${Array.isArray(tables) ? 'an empty array' : describeValue(tables)}`);
  }
  tables?.forEach((table, i) => checkIdentifier(`tables[${i}]`, table, 'removeChangeCapture'));
  if (options.tableName !== undefined) checkIdentifier('tableName', options.tableName, 'removeChangeCapture');
  const log: LogTable = activity
    ? await logTableOf(supportOf(activity, 'removeChangeCapture'), 'removeChangeCapture')
    : (installedLog.get(db) ?? { name: options.tableName ?? 'activity_logs', schema: undefined });
  const target = await targetOf(db, log, options.dialect, 'removeChangeCapture');
  const removed: string[] = [];
  const named: string[] = [];
  const plain = uninstrumented(() => db.withoutPlugins());
  await SQL_DIALECTS[target.dialect].withMigrationLock(target.k, plain, { scope: 'activity-log:capture', schema: target.log.schema, tableName: target.log.name }, async (connection) => {
    await createMeta(connection, target);
    const { rows } = await target.k.sql<{ table_key: string }>`select table_key from ${target.k.sql.raw(target.meta)}`.execute(connection);
    const installed = rows.map((row) => String(row.table_key));
    const current = schema === undefined ? undefined : await currentSchema(connection, target);
    const keys = tables ? tables.map((table) => installKey(schema, current, table)) : installed;
    const recorded = new Set(installed);
    for (const key of keys) {
      const dot = key.indexOf('.');
      const keySchema = key.slice(0, dot) || undefined;
      const table = key.slice(dot + 1);
      for (const statement of target.capture.remove(table, keySchema)) {
        // A table dropped since: its triggers went with it.
        await target.k.sql.raw(statement).execute(connection).catch((error: unknown) => {
          if (!SQL_DIALECTS[target.dialect].isMissingTable(error) && !/does not exist|no such table/i.test(String((error as Error)?.message))) throw error;
        });
      }
      await target.k.sql`delete from ${target.k.sql.raw(target.meta)} where table_key = ${key}`.execute(connection);
      // Only what was installed: a table never audited (a typo, another schema) is not reported as removed.
      if (recorded.has(key)) removed.push(table);
      named.push(table);
    }
  });
  if (target.dialect === 'sqlite') {
    for (const table of named) for (const statement of dropTemporaryTriggers(table)) await target.k.sql.raw(statement).execute(plain);
  }
  return removed;
}

function supportOf(activity: unknown, caller: CaptureCaller = 'captureChanges'): ChangeCaptureSupport {
  const support = (activity as { [CHANGE_CAPTURE]?: ChangeCaptureSupport } | null | undefined)?.[CHANGE_CAPTURE];
  if (!support) throw new ActivityLogError('INVALID_OPTIONS', `${caller}: activity: must be a logger made by createActivityLogger`);
  return support;
}

function checkOptions(options: CaptureChangesOptions, caller: CaptureCaller = 'captureChanges'): string | undefined {
  if (options === null || typeof options !== 'object') throw new ActivityLogError('INVALID_OPTIONS', `${caller}: options: must be an object, got ${describeValue(options)}`);
  // A misspelt `schema` would install on (or remove from) the connection's own schema's table of that name.
  refuseUnknownOptions(caller, options, caller === 'captureChanges' ? CAPTURE_CHANGES_OPTIONS : REMOVE_CHANGE_CAPTURE_OPTIONS);
  if (options.dialect !== undefined && !Object.hasOwn(SQL_DIALECTS, options.dialect)) {
    throw new ActivityLogError('INVALID_OPTIONS', `${caller}: dialect: must be one of ${Object.keys(SQL_DIALECTS).join(', ')}, got ${JSON.stringify(options.dialect)}`);
  }
  return options.schema === undefined ? undefined : checkIdentifier('schema', options.schema, caller);
}

/**
 * The key an audited table's install is recorded under: `<schema>.<table>`, with the schema
 * left out when it is not given or is the current one, so that a table named with its schema
 * spelt out and without it is one table, not two (a removal by one spelling would otherwise
 * leave the other's record, and the next install would find the triggers "unchanged").
 */
function installKey(schema: string | undefined, current: string | undefined, table: string): string {
  return `${schema === undefined || schema === current ? '' : schema}.${table}`;
}

/** The schema (PostgreSQL) or database (MySQL) an unqualified audited table is looked up in; SQLite has none. */
async function currentSchema(db: AnyKysely, target: Target): Promise<string | undefined> {
  if (target.dialect === 'sqlite') return undefined;
  const { sql } = target.k;
  const query = target.dialect === 'postgres' ? sql<{ s: string | null }>`select current_schema() as s` : sql<{ s: string | null }>`select database() as s`;
  const schema = (await query.execute(db)).rows[0]?.s;
  return schema == null ? undefined : String(schema);
}

/** The database, the log table the triggers write, and where installs are recorded. */
async function targetOf(db: AnyKysely, log: LogTable, dialectOption: SqlDialectName | undefined, caller: CaptureCaller = 'captureChanges'): Promise<Target> {
  if (!isKysely(db)) throw new ActivityLogError('INVALID_OPTIONS', `${caller}: db: must be your Kysely instance`);
  const dialect = dialectOption ?? detectDialectName(db);
  if (!dialect) throw new ActivityLogError('INVALID_OPTIONS', `${caller}: db: supports PostgreSQL, MySQL/MariaDB and SQLite dialects; pass { dialect } if yours is one of them`);
  const k = await loadPeer<KyselyModule>('kysely', 'kysely');
  const quote = SQL_DIALECTS[dialect].quote;
  const meta = log.schema ? quote(log.schema, `${log.name}_capture`) : quote(`${log.name}_capture`);
  return { k, dialect, capture: CAPTURE_DIALECTS[dialect], log, meta };
}

/** The log table of `activity`'s SQL store, made if it is not there yet (a trigger writes into it). */
async function logTableOf(support: ChangeCaptureSupport, caller: CaptureCaller = 'captureChanges'): Promise<LogTable> {
  const store = support.store as { tableName?: unknown; schema?: unknown; migrate?: () => Promise<void>; name?: string };
  if (typeof store.tableName !== 'string') {
    throw new ActivityLogError('INVALID_OPTIONS', `${caller}: activity: its store "${store.name}" keeps no SQL table; change capture writes into the log table of a SQL store (kyselyStore, sqliteStore, postgresStore, mysqlStore) in the same database as db`);
  }
  await store.migrate?.();
  return { name: store.tableName, schema: typeof store.schema === 'string' ? store.schema : undefined };
}

async function ensureLogTable(db: AnyKysely, target: Target): Promise<void> {
  // A SQLite trigger writes only into its own database's tables: one on a table of main could
  // not insert into an attached database's log, and every write of the audited table would fail.
  if (target.dialect === 'sqlite' && target.log.schema !== undefined && target.log.schema !== 'main') {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `captureChanges: activity: its log table "${target.log.name}" is in the attached database "${target.log.schema}" (the store's schema option); SQLite triggers write only into tables of their own database, so change capture needs the log table in main (leave schema out)`,
    );
  }
  const found = await SQL_DIALECTS[target.dialect].hasColumn(target.k, db, target.log.schema, target.log.name, 'integrity_proof');
  if (!found) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `captureChanges: the log table "${target.log.name}" is not in the database of db (or not at this release's schema): the triggers write into it, so activity's store must use the same database as db`,
    );
  }
}

/**
 * The log table as the triggers name it: schema-qualified on PostgreSQL and MySQL. Unqualified,
 * a PostgreSQL trigger would look it up in the writing session's search_path (another one, and
 * every write fails), and a MySQL trigger in the audited table's database (`{ schema }`).
 */
async function triggersLogTable(db: AnyKysely, target: Target): Promise<LogTable> {
  if (target.log.schema || target.dialect === 'sqlite') return target.log;
  const { sql } = target.k;
  const query =
    target.dialect === 'postgres'
      ? sql<{ s: string }>`select n.nspname as s from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass(${SQL_DIALECTS.postgres.quote(target.log.name)})`
      : sql<{ s: string }>`select database() as s`;
  const schema = (await query.execute(db)).rows[0]?.s;
  return schema ? { name: target.log.name, schema: String(schema) } : target.log;
}

async function createMeta(db: AnyKysely, target: Target): Promise<void> {
  // Compared byte for byte, as table names are: under MySQL's default case-insensitive
  // collation, the keys of `Recipes` and `recipes` (two tables there) were one row, so each
  // install replaced the other's record, and a removal lost track of the other's triggers.
  const key = target.dialect === 'mysql' ? `varchar(200) character set utf8mb4 collate ${MYSQL_KEY_COLLATION}` : 'varchar(200)';
  await target.k.sql
    .raw(`create table if not exists ${target.meta} (table_key ${key} not null primary key, version integer not null, fingerprint varchar(64) not null)`)
    .execute(db);
  if (target.dialect !== 'mysql') return;
  // Made by an earlier release with the database's default collation: changed in place.
  const { sql } = target.k;
  const { rows } = await sql<{ c: string | null }>`select collation_name as c from information_schema.columns
    where table_schema = coalesce(${target.log.schema ?? null}, database()) and table_name = ${`${target.log.name}_capture`} and column_name = 'table_key'`.execute(db);
  const collation = rows[0]?.c;
  if (collation != null && String(collation) !== MYSQL_KEY_COLLATION) {
    await sql.raw(`alter table ${target.meta} modify table_key ${key} not null`).execute(db);
  }
}

/** The MySQL/MariaDB collation of `<log>_capture`'s keys: binary, as the table names they hold. */
const MYSQL_KEY_COLLATION = 'utf8mb4_bin';

/** SQLite: the app's own connection reads the request's context (see sqlite.ts). */
async function setUpConnection(db: AnyKysely, target: Target, definitions: CaptureDefinition[]): Promise<void> {
  const { sql } = target.k;
  await db.connection().execute(async (connection) => {
    const { rows } = await sql<{ name: string }>`select name from pragma_database_list where name = ${SCOPE_DATABASE}`.execute(connection);
    if (rows.length === 0) await sql.raw(`attach database ':memory:' as ${SCOPE_DATABASE}`).execute(connection);
    for (const statement of target.capture.connectionSetup!(definitions, target.log)) await sql.raw(statement).execute(connection);
  });
}

/** `logger.changes(trx)`: the transaction's changes are attributed to that logger. */
async function attribute(transaction: unknown, support: ChangeCaptureSupport): Promise<void> {
  if (!isKysely(transaction as AnyKysely)) throw new ActivityLogError('INVALID_OPTIONS', 'changes(trx): trx must be a Kysely transaction of the db given to captureChanges');
  const trx = transaction as AnyKysely;
  const dialect = detectDialectName(trx);
  if (!dialect) throw new ActivityLogError('INVALID_OPTIONS', 'changes(trx): trx must be a Kysely transaction over PostgreSQL, MySQL/MariaDB or SQLite');
  if (!trx.isTransaction) throw new ActivityLogError('INVALID_OPTIONS', 'changes(trx): trx must be a transaction (db.transaction().execute(async (trx) => …)); outside one there is nothing to attribute');
  const context = await contextOf(support);
  if (!(await pinContext(trx, dialect, context))) {
    throw new ActivityLogError('INVALID_OPTIONS', 'changes(trx): trx is not a transaction of a db given to captureChanges in this process');
  }
}
