import type { Kysely, RawBuilder } from 'kysely';
import type { CursorPosition } from '../../src/cursor.js';
import { ActivityLogError } from '../../src/errors.js';
import { actionPrefix, toPage, type StoreQuery } from '../../src/query.js';
import { LIMITS } from '../../src/schema.js';
import type {
  ActivityPage,
  ActivityRecord,
  ActivityStatus,
  NormalizedActivityFilter,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  SummaryBucket,
} from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { bucketKey, sortBuckets } from '../../src/summary.js';
import { loadPeer } from './peer.js';

/**
 * The SQL storage layer: one implementation of the table, the filters, the keyset cursor,
 * count, summarize, purge and migrations over any Kysely instance. SQLite, PostgreSQL and
 * MySQL/MariaDB differ only where the databases differ, and those differences are data
 * ({@link SqlDialectCapabilities}), not branches spread through the code.
 */

type KyselyModule = typeof import('kysely');
// The table name is chosen at run time, so the store works on an untyped Kysely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKysely = Kysely<any>;

/** The schema version this release writes; a table marked with a newer one is refused. */
export const SCHEMA_VERSION = 1;

/** The databases the SQL stores support. */
export type SqlDialectName = 'sqlite' | 'postgres' | 'mysql';

/** How one database differs from the others. The shared code branches on these fields only. */
export interface SqlDialectCapabilities {
  readonly name: SqlDialectName;
  /** Column type of `occurred_at`, and how a time is bound and read. */
  readonly timestamp: 'epoch-ms-integer' | 'timestamptz' | 'datetime-utc';
  /** Column type of `metadata`, `changes`, `error` and `context`. */
  readonly jsonType: 'text' | 'jsonb' | 'json';
  /** Collation of text columns, so ids order and compare byte-wise like JavaScript strings. */
  readonly textCollation?: string;
  /** How an insert skips an id that is already stored. */
  readonly insertIgnore: 'on-conflict-do-nothing' | 'on-duplicate-key-noop';
  /** Most bound parameters in one statement; inserts are split to stay under it. */
  readonly maxBindParameters: number;
  /**
   * How a multi-statement write transaction starts. SQLite's `begin immediate` takes the write
   * lock first and is retried asynchronously, so writers in one process never deadlock.
   */
  readonly writeTransaction: 'begin-immediate' | 'begin';
  /** How `migrate()` keeps two processes from migrating at once. */
  readonly migrationLock: 'begin-immediate' | 'advisory-xact-lock' | 'get-lock';
  /** Indexes are declared inside `CREATE TABLE` (MySQL has no `CREATE INDEX IF NOT EXISTS`). */
  readonly inlineIndexes: boolean;
  /**
   * The filter indexes (actor, action, target, tenant) end with `id desc` as well as
   * `occurred_at desc`, so ties in time are paged from the index. SQLite leaves it out of
   * them: its index entries end with the 8-byte rowid anyway, the 36-character id in each
   * index made every insert 30-40% dearer (measured), and the planner orders the few rows of
   * one millisecond itself. The time index keeps it everywhere: it is what a page filtered
   * only on unindexed columns (status, actor type) walks, and it must match the page order
   * to stop after one page instead of sorting the table.
   */
  readonly idInIndexes: boolean;
  /**
   * The actor, target and tenant indexes leave out rows where that column is null
   * (`where actor_id is not null`...): an anonymous event, an event without a target or a
   * single-tenant app's event then costs one index insert fewer each (12-15% less CPU per row
   * measured on SQLite), and `actor_id = ?` still uses the index, as it implies not null.
   */
  readonly partialIndexes: boolean;
  /** A bounded delete is `DELETE ... LIMIT n`, else `DELETE ... WHERE id IN (SELECT ... LIMIT n)`. */
  readonly deleteWithLimit: boolean;
  /** `INSERT ... RETURNING` exists (informational; inserts do not need it). */
  readonly supportsReturning: boolean;
}

/** The capabilities of each supported database. */
export const SQL_DIALECTS: Readonly<Record<SqlDialectName, SqlDialectCapabilities>> = {
  sqlite: {
    name: 'sqlite',
    timestamp: 'epoch-ms-integer',
    jsonType: 'text',
    insertIgnore: 'on-conflict-do-nothing',
    // The historical default of SQLITE_MAX_VARIABLE_NUMBER; builds since 3.32 allow 32766.
    maxBindParameters: 999,
    writeTransaction: 'begin-immediate',
    migrationLock: 'begin-immediate',
    inlineIndexes: false,
    idInIndexes: false,
    partialIndexes: true,
    deleteWithLimit: false,
    supportsReturning: true,
  },
  postgres: {
    name: 'postgres',
    timestamp: 'timestamptz',
    jsonType: 'jsonb',
    textCollation: '"C"',
    insertIgnore: 'on-conflict-do-nothing',
    maxBindParameters: 65_535,
    writeTransaction: 'begin',
    migrationLock: 'advisory-xact-lock',
    inlineIndexes: false,
    idInIndexes: true,
    partialIndexes: false,
    deleteWithLimit: false,
    supportsReturning: true,
  },
  mysql: {
    name: 'mysql',
    timestamp: 'datetime-utc',
    jsonType: 'json',
    insertIgnore: 'on-duplicate-key-noop',
    maxBindParameters: 65_535,
    writeTransaction: 'begin',
    migrationLock: 'get-lock',
    inlineIndexes: true,
    idInIndexes: true,
    partialIndexes: false,
    deleteWithLimit: true,
    supportsReturning: false,
  },
};

/** Where the table lives and whether the store creates it: options every SQL store shares. */
export interface SqlTableOptions {
  /**
   * Name of the activity table; a `<tableName>_schema` table records its schema version.
   * @default 'activity_logs'
   */
  tableName?: string;
  /**
   * Schema (PostgreSQL) or database (MySQL) holding the table.
   * @default the connection's current one
   */
  schema?: string;
  /**
   * Create the table and indexes on first use. With `false`, run `store.migrate()` yourself;
   * the store still refuses a table marked with a newer schema version.
   * @default true
   */
  migrate?: boolean;
}

/** Options of {@link kyselyStore}. */
export interface KyselyStoreOptions extends SqlTableOptions {
  /** Your Kysely instance. The store never destroys it: its pool and lifecycle stay yours. */
  db: AnyKysely;
  /**
   * The database behind `db`, or its full capabilities.
   * @default detected from the Kysely dialect's adapter
   */
  dialect?: SqlDialectName | SqlDialectCapabilities;
}

/** A SQL-backed activity store. */
export interface SqlActivityStore extends ActivityStore {
  /** The capabilities of the database in use, once known (after the first operation). */
  readonly dialect: SqlDialectCapabilities | undefined;
  /** The activity table's name. */
  readonly tableName: string;
  count(filter: NormalizedActivityFilter): Promise<number>;
  summarize(query: NormalizedSummaryQuery): Promise<SummaryBucket[]>;
  /**
   * Writes records inside your Kysely transaction: they commit or roll back with it.
   * Used by `logger.logInTransaction(trx, event)`.
   */
  insertInTransaction(transaction: unknown, records: readonly ActivityRecord[]): Promise<void>;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An activity store over a Kysely instance you already have (PostgresDialect, MysqlDialect
 * or SqliteDialect). It supports `logger.logInTransaction(trx, event)` with your transactions.
 *
 * @example
 * import { kyselyStore } from 'activity-log/kysely';
 * const activity = createActivityLogger({ store: kyselyStore({ db }) });
 * await db.transaction().execute(async (trx) => {
 *   await trx.updateTable('recipes').set({ title }).where('id', '=', id).execute();
 *   await activity.logInTransaction(trx, { action: 'recipe.update', target: { type: 'recipe', id } });
 * });
 */
export function kyselyStore(options: KyselyStoreOptions): SqlActivityStore {
  if (options === null || typeof options !== 'object' || !isKysely(options.db)) {
    throw new ActivityLogError('INVALID_OPTIONS', 'kyselyStore: "db" must be a Kysely instance');
  }
  const { db, dialect } = options;
  return createSqlStore({
    name: 'kysely',
    subpath: 'kysely',
    tableName: options.tableName,
    schema: options.schema,
    migrate: options.migrate,
    // Without the user's plugins: a CamelCasePlugin, say, would rename the columns this store reads.
    connect: async () => ({
      db: db.withoutPlugins(),
      dialect: typeof dialect === 'object' ? dialect : SQL_DIALECTS[dialect ?? detectDialect(db)],
    }),
  });
}

/**
 * The PostgreSQL and MySQL stores: a Kysely over the pool the user passed (left open by
 * `close()`), or over one the store opens on first use (and ends on `close()`). @internal
 */
export function createPooledSqlStore<Pool>(config: {
  name: 'postgres' | 'mysql';
  options: SqlTableOptions;
  userPool: Pool | undefined;
  openPool: () => Promise<Pool>;
  dialect: (kysely: KyselyModule, pool: Pool) => import('kysely').Dialect;
}): SqlActivityStore {
  const { name, options, userPool } = config;
  let kysely: AnyKysely | undefined;
  return createSqlStore({
    name,
    subpath: name,
    tableName: options.tableName,
    schema: options.schema,
    migrate: options.migrate,
    async connect() {
      if (!kysely) {
        const pool = userPool ?? (await config.openPool());
        const k = await loadPeer<KyselyModule>('kysely', name);
        kysely = new k.Kysely({ dialect: config.dialect(k, pool) });
      }
      return { db: kysely, dialect: SQL_DIALECTS[name] };
    },
    async disconnect() {
      // Destroying Kysely ends the pool: only when the store created it.
      if (!userPool) await kysely?.destroy();
      kysely = undefined;
    },
  });
}

/** What the database-specific factories hand to the shared implementation. @internal */
export interface SqlStoreConfig {
  name: string;
  /** The activity-log subpath, for MISSING_PEER messages. */
  subpath: string;
  tableName: string | undefined;
  schema: string | undefined;
  migrate: boolean | undefined;
  /**
   * Opens what the store runs on; called on first use and again after a failure. `readDb`,
   * when given, runs the reads and purges (SQLite's reader thread), off the thread of `db`.
   */
  connect: () => Promise<{ db: AnyKysely; readDb?: AnyKysely | undefined; dialect: SqlDialectCapabilities }>;
  /** Releases what `connect` opened itself, never a client the user passed in. */
  disconnect?: () => Promise<void>;
  /** A driver-specific insert that is faster than the generic one (SQLite's prepared statements). */
  fastInsert?: (records: readonly ActivityRecord[], table: TableInfo) => Promise<void> | void;
}

/** Names the fast paths need. @internal */
export interface TableInfo {
  tableName: string;
  columns: readonly string[];
  /** The values of one record, in {@link COLUMNS} order, as bound for this database. */
  values(record: ActivityRecord): unknown[];
  /** The SQL text of an insert of `rows` records that skips known ids. */
  insertSql(rows: number): string;
}

/** The columns of the activity table, in insert order. */
export const COLUMNS = [
  'id',
  'occurred_at',
  'action',
  'status',
  'actor_type',
  'actor_id',
  'actor_name',
  'target_type',
  'target_id',
  'target_name',
  'tenant_id',
  'metadata',
  'changes',
  'error',
  'context',
] as const;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;
const METADATA_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Rows per purge statement: small enough that no delete holds locks for long. */
const PURGE_BATCH = 2000;
/** Rows per insert statement at most, whatever the parameter limit allows. */
const MAX_ROWS_PER_INSERT = 1000;

/** The shared SQL store. @internal */
export function createSqlStore(config: SqlStoreConfig): SqlActivityStore {
  const tableName = config.tableName ?? 'activity_logs';
  if (!IDENTIFIER.test(tableName)) {
    throw new ActivityLogError('INVALID_OPTIONS', `tableName: must be letters, digits and "_" (at most 48), got ${JSON.stringify(tableName)}`);
  }
  if (config.schema !== undefined && !IDENTIFIER.test(config.schema)) {
    throw new ActivityLogError('INVALID_OPTIONS', `schema: must be letters, digits and "_", got ${JSON.stringify(config.schema)}`);
  }
  const autoMigrate = config.migrate !== false;

  interface State {
    db: AnyKysely;
    /** Where reads and purges run: `db` unless the store has a reader of its own. */
    readDb: AnyKysely;
    k: KyselyModule;
    sql: SqlBuilder;
  }
  let state: Promise<State> | undefined;
  let current: SqlBuilder | undefined;
  let closed = false;

  /** Connects, loads Kysely and migrates once; a failure is forgotten so the next call retries. */
  const ready = (): Promise<State> => {
    if (closed) return Promise.reject(new ActivityLogError('STORE_FAILED', `store "${config.name}" is closed`));
    state ??= (async () => {
      // The driver first: with neither installed, the message names the driver.
      const { db, readDb, dialect } = await config.connect();
      const k = await loadPeer<KyselyModule>('kysely', config.subpath);
      const builder = new SqlBuilder(k, dialect, tableName, config.schema);
      builder.db = db;
      if (autoMigrate) await builder.migrate(db);
      else await builder.checkVersion(db);
      current = builder;
      return { db, readDb: readDb ?? db, k, sql: builder };
    })();
    state.catch(() => {
      state = undefined;
    });
    return state;
  };

  const store: SqlActivityStore = {
    name: config.name,
    capabilities: { count: true, summarize: true, metadataFilter: true, transactions: true },
    tableName,
    get dialect() {
      return current?.dialect;
    },

    async insert(records) {
      if (records.length === 0) return;
      const { db, sql } = await ready();
      try {
        if (config.fastInsert) {
          await config.fastInsert(records, sql.tableInfo);
          return;
        }
        const chunks = sql.insertChunks(db, records);
        if (chunks.length === 1) {
          await db.executeQuery(chunks[0]!);
          return;
        }
        const insertAll = async (trx: AnyKysely) => {
          for (const chunk of chunks) await trx.executeQuery(chunk);
        };
        if (sql.dialect.writeTransaction === 'begin-immediate') await sql.immediateTransaction(db, insertAll);
        else await db.transaction().execute(insertAll);
      } catch (error) {
        throw await sql.classifyInsertError(db, error, records, config.name);
      }
    },

    async insertInTransaction(transaction, records) {
      if (!isKysely(transaction)) {
        throw new ActivityLogError('INVALID_OPTIONS', `insertInTransaction: expected a Kysely Transaction (from db.transaction().execute(trx => ...)), got ${typeof transaction}`);
      }
      if (records.length === 0) return;
      const trx = transaction.withoutPlugins();
      const { sql } = await readyForTransaction(trx);
      for (const chunk of sql.insertChunks(trx, records)) await trx.executeQuery(chunk);
    },

    async query(query: StoreQuery): Promise<ActivityPage> {
      const { readDb, sql } = await ready();
      const rows = await sql.selectPage(query).execute(readDb);
      return toPage(rows.rows.map((row) => sql.toRecord(row)), query.limit);
    },

    async get(id) {
      const { readDb, sql } = await ready();
      const { rows } = await sql.selectById(id).execute(readDb);
      return rows[0] ? sql.toRecord(rows[0]) : undefined;
    },

    async count(filter) {
      const { readDb, sql } = await ready();
      const { rows } = await sql.count(filter).execute(readDb);
      return Number(rows[0]?.n ?? 0);
    },

    async summarize(query) {
      const { readDb, sql } = await ready();
      const { rows } = await sql.summarize(query).execute(readDb);
      return sql.toBuckets(rows, query.by);
    },

    async purge(options) {
      const { readDb, sql } = await ready();
      const statement = sql.purgeBatch(options, PURGE_BATCH);
      let removed = 0;
      // Each batch is its own short statement: no long transaction, no long table lock.
      for (;;) {
        const result = await statement.execute(readDb);
        const deleted = Number(result.numAffectedRows ?? 0);
        removed += deleted;
        if (deleted < PURGE_BATCH) return removed;
      }
    },

    async migrate() {
      const { db, sql } = await ready();
      // ready() migrated already when autoMigrate; an explicit call migrates in any case.
      if (!autoMigrate) await sql.migrate(db);
    },

    async close() {
      if (closed) return;
      closed = true;
      const opened = state;
      state = undefined;
      await opened?.catch(() => undefined);
      await config.disconnect?.();
    },
  };

  /**
   * SQLite runs one connection per Kysely: migrating through the store's own connection while
   * the caller's transaction holds it would wait forever, so there the migration runs inside
   * the caller's transaction (SQLite DDL is transactional).
   */
  const readyForTransaction = async (trx: AnyKysely): Promise<State> => {
    if (current?.dialect.name === 'sqlite' || (!current && detectDialectOrUndefined(trx) === 'sqlite')) {
      const k = await loadPeer<KyselyModule>('kysely', config.subpath);
      const builder = current ?? new SqlBuilder(k, SQL_DIALECTS.sqlite, tableName, config.schema);
      if (!current) await (autoMigrate ? builder.runMigration(trx) : builder.checkVersion(trx));
      return { db: trx, readDb: trx, k, sql: builder };
    }
    return ready();
  };

  return store;
}

/** Everything that turns activity-log semantics into SQL for one dialect and table. */
class SqlBuilder {
  readonly tableInfo: TableInfo;
  private readonly table: RawBuilder<unknown>;
  private readonly insertSqlCache = new Map<number, string>();

  constructor(
    private readonly k: KyselyModule,
    readonly dialect: SqlDialectCapabilities,
    private readonly tableName: string,
    private readonly schema: string | undefined,
  ) {
    this.table = schema ? k.sql.id(schema, tableName) : k.sql.id(tableName);
    const encodeTime = timeEncoder(dialect);
    this.tableInfo = {
      tableName,
      columns: COLUMNS,
      values: (record) => recordValues(record, encodeTime),
      insertSql: (rows) => {
        if (!this.db) throw new Error('insertSql: the store is not connected yet');
        return this.insertSql(this.db, rows);
      },
    };
  }

  /** The store's own Kysely, once connected (for compiling the fast paths' SQL). */
  db: AnyKysely | undefined;

  // ---- writes ---------------------------------------------------------------------------

  /** The insert statements for a batch, each under the bound-parameter limit. */
  insertChunks(db: AnyKysely, records: readonly ActivityRecord[]) {
    const rowsPerStatement = Math.min(MAX_ROWS_PER_INSERT, Math.floor(this.dialect.maxBindParameters / COLUMNS.length));
    const chunks = [];
    for (let start = 0; start < records.length; start += rowsPerStatement) {
      const slice = records.slice(start, start + rowsPerStatement);
      const parameters: unknown[] = [];
      for (const record of slice) for (const value of this.tableInfo.values(record)) parameters.push(value);
      chunks.push(this.k.CompiledQuery.raw(this.insertSql(db, slice.length), parameters));
    }
    return chunks;
  }

  /**
   * The SQL text of an n-row insert, compiled by Kysely once per row count: building a
   * 15,000-parameter query tree per batch costs more than the database's own work.
   */
  insertSql(db: AnyKysely, rows: number): string {
    let text = this.insertSqlCache.get(rows);
    if (text === undefined) {
      const { sql } = this.k;
      const row = sql`(${sql.join(COLUMNS.map(() => null))})`;
      const values = sql.join(Array.from({ length: rows }, () => row));
      const columns = sql.join(COLUMNS.map((column) => sql.id(column)));
      const query =
        this.dialect.insertIgnore === 'on-conflict-do-nothing'
          ? sql`insert into ${this.table} (${columns}) values ${values} on conflict (id) do nothing`
          : sql`insert into ${this.table} (${columns}) values ${values} on duplicate key update id = id`;
      text = query.compile(db).sql;
      if (this.insertSqlCache.size > 32) this.insertSqlCache.clear();
      this.insertSqlCache.set(rows, text);
    }
    return text;
  }

  /**
   * What an insert failure means to the logger: an `ActivityLogError('RECORD_REJECTED')` when
   * the database refused the records for their content (see {@link isContentRejection}),
   * naming the column when the batch was one record; the error itself for anything else
   * (a connection, a lock), which the logger retries.
   */
  async classifyInsertError(db: AnyKysely, error: unknown, records: readonly ActivityRecord[], storeName: string): Promise<unknown> {
    if (!isContentRejection(this.dialect.name, error)) return error;
    const reason = String((error as { message?: unknown }).message ?? error);
    const column = records.length === 1 ? await this.findRefusedColumn(db, records[0]!) : undefined;
    const field = column === undefined ? undefined : FIELD_OF_COLUMN[column];
    return new ActivityLogError(
      'RECORD_REJECTED',
      `store "${storeName}" refused ${records.length === 1 ? 'a record' : `a batch of ${records.length} records`} for its content${field ? ` (${field})` : ''}: ${reason}`,
      { cause: error, details: { reason, field, count: records.length } },
    );
  }

  /**
   * The column whose value the database refuses, found by inserting the record's required
   * columns with one other column at a time, each in a transaction that is always rolled back
   * (nothing is stored). Only ever run for a single record the database refused: rare, so a
   * dozen statements are cheap. `undefined` when no one column is to blame.
   */
  private async findRefusedColumn(db: AnyKysely, record: ActivityRecord): Promise<(typeof COLUMNS)[number] | undefined> {
    const values = this.tableInfo.values(record);
    const text = this.insertSql(db, 1);
    const rowWith = (column: string | undefined) => COLUMNS.map((name, i) => (REQUIRED_COLUMNS.has(name) || name === column ? values[i] : null));
    try {
      if ((await this.refusesRow(db, text, rowWith(undefined))) !== false) return undefined;
      for (const column of COLUMNS) {
        if (REQUIRED_COLUMNS.has(column) || values[COLUMNS.indexOf(column)] === null) continue;
        const refused = await this.refusesRow(db, text, rowWith(column));
        if (refused === undefined) return undefined;
        if (refused) return column;
      }
    } catch {
      // The diagnosis is a courtesy: the record is reported either way.
    }
    return undefined;
  }

  /** True when the database refuses `row` for its content, false when it takes it, undefined for any other failure. Never stores it. */
  private async refusesRow(db: AnyKysely, text: string, row: unknown[]): Promise<boolean | undefined> {
    const { sql, CompiledQuery } = this.k;
    return db.connection().execute(async (connection) => {
      await sql`begin`.execute(connection);
      try {
        await connection.executeQuery(CompiledQuery.raw(text, row));
        return false;
      } catch (error) {
        return isContentRejection(this.dialect.name, error) ? true : undefined;
      } finally {
        await sql`rollback`.execute(connection).catch(() => undefined);
      }
    });
  }

  /** One bounded purge statement; run until it deletes fewer than `batch` rows. */
  purgeBatch(options: NormalizedPurgeOptions, batch: number) {
    const { sql } = this.k;
    const where = this.where({ to: options.before, tenantId: options.tenantId, action: options.action });
    if (this.dialect.deleteWithLimit) {
      return sql`delete from ${this.table} where ${where} order by occurred_at, id limit ${sql.lit(batch)}`;
    }
    return sql`delete from ${this.table} where id in (select id from ${this.table} where ${where} limit ${sql.lit(batch)})`;
  }

  // ---- reads ----------------------------------------------------------------------------

  private selectList() {
    const { sql } = this.k;
    const columns = COLUMNS.map((column) =>
      // Aliased apart from the column, so ORDER BY occurred_at still means the indexed column.
      column === 'occurred_at' ? sql`${this.epochMs()} as occurred_at_ms` : sql.id(column),
    );
    return sql.join(columns);
  }

  selectPage(query: StoreQuery) {
    const { sql } = this.k;
    return sql<Row>`select ${this.selectList()} from ${this.table} where ${this.where(query, query.after)} order by occurred_at desc, id desc limit ${query.limit + 1}`;
  }

  selectById(id: string) {
    const { sql } = this.k;
    return sql<Row>`select ${this.selectList()} from ${this.table} where id = ${id}`;
  }

  count(filter: NormalizedActivityFilter) {
    const { sql } = this.k;
    return sql<{ n: unknown }>`select count(*) as n from ${this.table} where ${this.where(filter)}`;
  }

  summarize(query: NormalizedSummaryQuery) {
    const { sql } = this.k;
    const key =
      query.by === 'hour' || query.by === 'day'
        ? this.timeBucket(query.by === 'hour' ? 3_600_000 : 86_400_000)
        : sql.id({ action: 'action', status: 'status', actorType: 'actor_type' }[query.by]);
    // Positional GROUP BY: the key expression appears once, so PostgreSQL accepts it as is.
    return sql<{ k: unknown; status: ActivityStatus; n: unknown }>`select ${key} as k, status, count(*) as n from ${this.table} where ${this.where(query)} group by 1, 2`;
  }

  toBuckets(rows: { k: unknown; status: ActivityStatus; n: unknown }[], by: NormalizedSummaryQuery['by']): SummaryBucket[] {
    const timed = by === 'hour' || by === 'day';
    const unit = by === 'hour' ? 3_600_000 : 86_400_000;
    const buckets = new Map<string, SummaryBucket>();
    for (const row of rows) {
      const key = timed
        ? bucketKey({ action: '', status: row.status }, Number(row.k) * unit, by)
        : row.k === null || row.k === undefined
          ? '(none)'
          : String(row.k);
      const n = Number(row.n);
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { key, count: 0 };
        if (timed) bucket.byStatus = {};
        buckets.set(key, bucket);
      }
      bucket.count += n;
      if (bucket.byStatus) bucket.byStatus[row.status] = (bucket.byStatus[row.status] ?? 0) + n;
    }
    return sortBuckets([...buckets.values()], by);
  }

  /** Turns a row back into a record: absent fields stay absent, never null. */
  toRecord(row: Row): ActivityRecord {
    const record: ActivityRecord = {
      id: row.id,
      occurredAt: new Date(Number(row.occurred_at_ms)),
      action: row.action,
      status: row.status,
    };
    if (row.actor_type !== null) {
      const actor: NonNullable<ActivityRecord['actor']> = { type: row.actor_type };
      if (row.actor_id !== null) actor.id = row.actor_id;
      if (row.actor_name !== null) actor.name = row.actor_name;
      record.actor = actor;
    }
    if (row.target_type !== null && row.target_id !== null) {
      const target: NonNullable<ActivityRecord['target']> = { type: row.target_type, id: row.target_id };
      if (row.target_name !== null) target.name = row.target_name;
      record.target = target;
    }
    if (row.tenant_id !== null) record.tenantId = row.tenant_id;
    if (row.metadata !== null) record.metadata = parseJson(row.metadata) as ActivityRecord['metadata'];
    if (row.changes !== null) record.changes = parseJson(row.changes) as ActivityRecord['changes'];
    if (row.error !== null) record.error = parseJson(row.error) as ActivityRecord['error'];
    if (row.context !== null) record.context = parseJson(row.context) as ActivityRecord['context'];
    return record;
  }

  /** The number of whole `unit`s since the epoch: the time bucket of a row. */
  private timeBucket(unit: number): RawBuilder<unknown> {
    const { sql } = this.k;
    // SQLite: integer division of integers (floor() needs the optional math functions).
    if (this.dialect.timestamp === 'epoch-ms-integer') return sql`(occurred_at / ${sql.lit(unit)})`;
    return sql`floor(${this.epochMs()} / ${sql.lit(unit)})`;
  }

  /** `occurred_at` as epoch milliseconds, whatever the column type and session time zone. */
  private epochMs(): RawBuilder<unknown> {
    const { sql } = this.k;
    switch (this.dialect.timestamp) {
      case 'epoch-ms-integer':
        return sql`occurred_at`;
      case 'timestamptz':
        return sql`(extract(epoch from occurred_at) * 1000)`;
      case 'datetime-utc':
        return sql`(timestampdiff(microsecond, '1970-01-01 00:00:00', occurred_at) div 1000)`;
    }
  }

  /** The WHERE condition of a filter, and of the cursor when paging. Every value is bound. */
  private where(filter: NormalizedActivityFilter, after?: CursorPosition): RawBuilder<unknown> {
    const { sql } = this.k;
    const time = timeEncoder(this.dialect);
    const conditions: RawBuilder<unknown>[] = [];
    if (filter.actorType !== undefined) conditions.push(sql`actor_type = ${filter.actorType}`);
    if (filter.actorId !== undefined) conditions.push(sql`actor_id = ${filter.actorId}`);
    if (filter.action !== undefined) {
      const prefix = actionPrefix(filter.action);
      conditions.push(
        prefix === undefined ? sql`action = ${filter.action}` : sql`action like ${`${escapeLike(prefix)}%`} escape '!'`,
      );
    }
    if (filter.status !== undefined) conditions.push(sql`status = ${filter.status}`);
    if (filter.targetType !== undefined) conditions.push(sql`target_type = ${filter.targetType}`);
    if (filter.targetId !== undefined) conditions.push(sql`target_id = ${filter.targetId}`);
    if (filter.tenantId !== undefined) conditions.push(sql`tenant_id = ${filter.tenantId}`);
    if (filter.from !== undefined) conditions.push(sql`occurred_at >= ${time(filter.from.getTime())}`);
    if (filter.to !== undefined) conditions.push(sql`occurred_at < ${time(filter.to.getTime())}`);
    if (after !== undefined) {
      // Expanded rather than a row comparison, so every database uses the (…, occurred_at, id) indexes.
      const at = time(after.occurredAtMs);
      conditions.push(sql`occurred_at <= ${at} and (occurred_at < ${at} or id < ${after.id})`);
    }
    for (const [key, value] of Object.entries(filter.metadata ?? {})) conditions.push(this.metadataEquals(key, value));
    return conditions.length === 0 ? sql`1 = 1` : sql.join(conditions, sql` and `);
  }

  /**
   * `metadata[key] === value`, as the memory store compares: the JSON type must match too,
   * so the string '1' never equals the number 1, nor `true` the number 1.
   */
  private metadataEquals(key: string, value: string | number | boolean): RawBuilder<unknown> {
    const { sql } = this.k;
    if (!METADATA_KEY.test(key)) {
      throw new ActivityLogError('INVALID_QUERY', `metadata: keys must be identifiers (letters, digits, "_"), got ${JSON.stringify(key)}`);
    }
    const path = `$.${key}`;
    switch (this.dialect.name) {
      case 'postgres':
        return sql`(metadata -> ${key}::text) = ${JSON.stringify(value)}::jsonb`;
      case 'sqlite':
        if (typeof value === 'boolean') return sql`json_type(metadata, ${path}) = ${value ? 'true' : 'false'}`;
        return typeof value === 'number'
          ? sql`(json_type(metadata, ${path}) in ('integer', 'real') and json_extract(metadata, ${path}) = ${value})`
          : sql`(json_type(metadata, ${path}) = 'text' and json_extract(metadata, ${path}) = ${value})`;
      case 'mysql': {
        const extracted = sql`json_extract(metadata, ${path})`;
        if (typeof value === 'boolean') return sql`(json_type(${extracted}) = 'BOOLEAN' and json_unquote(${extracted}) = ${String(value)})`;
        return typeof value === 'number'
          ? sql`(json_type(${extracted}) in ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL') and ${extracted} = ${value})`
          : // Compared as bytes: the session's collation may be case- or accent-insensitive.
            sql`(json_type(${extracted}) = 'STRING' and cast(json_unquote(${extracted}) as binary) = cast(${value} as binary))`;
      }
    }
  }

  // ---- migrations -----------------------------------------------------------------------

  private get metaTable(): RawBuilder<unknown> {
    const { sql } = this.k;
    const name = `${this.tableName}_schema`;
    return this.schema ? sql.id(this.schema, name) : sql.id(name);
  }

  /** The recorded schema version, or undefined when the store has never migrated this table. */
  async readVersion(db: AnyKysely): Promise<number | undefined> {
    const { sql } = this.k;
    try {
      const { rows } = await sql<{ version: unknown }>`select version from ${this.metaTable} where id = 1`.execute(db);
      return rows[0] ? Number(rows[0].version) : undefined;
    } catch (error) {
      if (isMissingTable(error)) return undefined;
      throw error;
    }
  }

  /** Refuses a table written by a newer release. */
  async checkVersion(db: AnyKysely): Promise<number | undefined> {
    const version = await this.readVersion(db);
    if (version !== undefined && version > SCHEMA_VERSION) {
      throw new ActivityLogError(
        'SCHEMA_VERSION',
        `table "${this.tableName}" is at schema version ${version}, newer than this release of activity-log understands (${SCHEMA_VERSION}); upgrade activity-log, or point the store at another table`,
        { details: { table: this.tableName, version, supported: SCHEMA_VERSION } },
      );
    }
    return version;
  }

  /** Migrates under a lock that serialises concurrent migrations, across processes too. */
  async migrate(db: AnyKysely): Promise<void> {
    const { sql } = this.k;
    // The common case, an up-to-date table, takes no lock.
    if ((await this.checkVersion(db)) === SCHEMA_VERSION) return;
    switch (this.dialect.migrationLock) {
      case 'advisory-xact-lock':
        await db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtext(${`activity-log:${this.schema ?? ''}.${this.tableName}`}))`.execute(trx);
          await this.runMigration(trx);
        });
        return;
      case 'get-lock':
        await db.connection().execute(async (connection) => {
          const lockName = `activity_log:${this.schema ?? ''}.${this.tableName}`.slice(0, 64);
          const { rows } = await sql<{ locked: unknown }>`select get_lock(${lockName}, 60) as locked`.execute(connection);
          if (Number(rows[0]?.locked) !== 1) throw new Error(`could not take the migration lock ${lockName} within 60 s`);
          try {
            await this.runMigration(connection);
          } finally {
            await sql`select release_lock(${lockName})`.execute(connection);
          }
        });
        return;
      case 'begin-immediate':
        await this.immediateTransaction(db, (connection) => this.runMigration(connection));
        return;
    }
  }

  /**
   * A SQLite write transaction that takes the write lock first (BEGIN IMMEDIATE) and waits for
   * it asynchronously. SQLite's busy timeout waits synchronously: when the lock holder is
   * another connection in this same process, that wait would block the holder from ever
   * finishing, so the timeout is off while the lock is being taken.
   */
  async immediateTransaction(db: AnyKysely, fn: (connection: AnyKysely) => Promise<void>): Promise<void> {
    const { sql } = this.k;
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

  /** Creates what is missing and records the version. Runs under the caller's lock. */
  async runMigration(db: AnyKysely): Promise<void> {
    const { sql } = this.k;
    await sql`create table if not exists ${this.metaTable} (id integer primary key, version integer not null)`.execute(db);
    const version = await this.checkVersion(db);
    if (version === SCHEMA_VERSION) return;
    for (const statement of await this.createStatements(db)) await statement.execute(db);
    if (version === undefined) await sql`insert into ${this.metaTable} (id, version) values (1, ${SCHEMA_VERSION})`.execute(db);
    else await sql`update ${this.metaTable} set version = ${SCHEMA_VERSION} where id = 1`.execute(db);
  }

  /** Version 1: the table and its indexes. Each index ends with the page order, so it serves paging. */
  private async createStatements(db: AnyKysely): Promise<RawBuilder<unknown>[]> {
    const { sql } = this.k;
    const d = this.dialect;
    const collate = d.textCollation ? ` collate ${d.textCollation}` : '';
    const text = (max: number, nullable = true) => sql.raw(`varchar(${max})${collate}${nullable ? '' : ' not null'}`);
    const json = sql.raw(d.jsonType);
    const time = sql.raw({ 'epoch-ms-integer': 'integer', timestamptz: 'timestamptz', 'datetime-utc': 'datetime(3)' }[d.timestamp]);
    // suffix, leading columns, the column whose null rows a partial index leaves out, and
    // whether the index ends with `id` (the time index always: see `idInIndexes`).
    const indexes: { suffix: string; columns: string[]; nullable?: string; endsWithId: boolean }[] = [
      { suffix: 'time', columns: [], endsWithId: true },
      { suffix: 'actor', columns: ['actor_id'], nullable: 'actor_id', endsWithId: d.idInIndexes },
      { suffix: 'action', columns: ['action'], endsWithId: d.idInIndexes },
      { suffix: 'target', columns: ['target_type', 'target_id'], nullable: 'target_type', endsWithId: d.idInIndexes },
      { suffix: 'tenant', columns: ['tenant_id'], nullable: 'tenant_id', endsWithId: d.idInIndexes },
    ];
    const indexColumns = ({ columns, endsWithId }: (typeof indexes)[number]) =>
      sql.join([...columns.map((c) => sql.id(c)), sql`occurred_at desc`, ...(endsWithId ? [sql`id desc`] : [])]);
    const indexName = (suffix: string) => sql.id(`${this.tableName}_${suffix}_idx`);
    const inline = d.inlineIndexes
      ? sql`, ${sql.join(indexes.map((index) => sql`index ${indexName(index.suffix)} (${indexColumns(index)})`))}`
      : sql``;
    const tableOptions = d.name === 'mysql' ? sql.raw(` engine=InnoDB default charset=utf8mb4 collate=${await mysqlBinaryCollation(this.k, db)}`) : sql``;
    const statements = [
      sql`create table if not exists ${this.table} (
        id ${text(64, false)} primary key,
        occurred_at ${time} not null,
        action ${text(LIMITS.action, false)},
        status ${text(16, false)},
        actor_type ${text(LIMITS.type)},
        actor_id ${text(LIMITS.id)},
        actor_name ${text(LIMITS.name)},
        target_type ${text(LIMITS.type)},
        target_id ${text(LIMITS.id)},
        target_name ${text(LIMITS.name)},
        tenant_id ${text(LIMITS.id)},
        metadata ${json},
        changes ${json},
        error ${json},
        context ${json}${inline}
      )${tableOptions}`,
    ];
    if (!d.inlineIndexes) {
      for (const index of indexes) {
        const where = d.partialIndexes && index.nullable ? sql` where ${sql.id(index.nullable)} is not null` : sql``;
        statements.push(sql`create index if not exists ${indexName(index.suffix)} on ${this.table} (${indexColumns(index)})${where}`);
      }
    }
    return statements;
  }
}

/** A row as selected: `occurred_at` as epoch milliseconds. */
interface Row {
  id: string;
  occurred_at_ms: unknown;
  action: string;
  status: ActivityStatus;
  actor_type: string | null;
  actor_id: string | null;
  actor_name: string | null;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  tenant_id: string | null;
  metadata: unknown;
  changes: unknown;
  error: unknown;
  context: unknown;
}

/** How a time is bound: epoch ms (SQLite), an ISO string (PostgreSQL), a UTC DATETIME string (MySQL). */
function timeEncoder(dialect: SqlDialectCapabilities): (ms: number) => unknown {
  switch (dialect.timestamp) {
    case 'epoch-ms-integer':
      return (ms) => ms;
    case 'timestamptz':
      return (ms) => new Date(ms).toISOString();
    case 'datetime-utc':
      // Written as UTC text, so neither the driver's nor the session's time zone shifts it.
      return (ms) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
  }
}

function recordValues(record: ActivityRecord, encodeTime: (ms: number) => unknown): unknown[] {
  const { actor, target } = record;
  return [
    record.id,
    encodeTime(record.occurredAt.getTime()),
    record.action,
    record.status,
    actor?.type ?? null,
    actor?.id ?? null,
    actor?.name ?? null,
    target?.type ?? null,
    target?.id ?? null,
    target?.name ?? null,
    record.tenantId ?? null,
    record.metadata === undefined ? null : JSON.stringify(record.metadata),
    record.changes === undefined ? null : JSON.stringify(record.changes),
    record.error === undefined ? null : JSON.stringify(record.error),
    record.context === undefined ? null : JSON.stringify(record.context),
  ];
}

function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/** `!` is the LIKE escape character: it needs no escaping itself in any SQL string literal. */
function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (char) => `!${char}`);
}

/** Binary, no-pad collation, so comparisons and id order match JavaScript's exactly. */
async function mysqlBinaryCollation(k: KyselyModule, db: AnyKysely): Promise<string> {
  const { rows } = await k.sql<{ v: string }>`select version() as v`.execute(db);
  const version = String(rows[0]?.v ?? '');
  if (/mariadb/i.test(version)) return 'utf8mb4_nopad_bin';
  return version.startsWith('5.') ? 'utf8mb4_bin' : 'utf8mb4_0900_bin';
}

/** The record fields each column holds, for messages. */
const FIELD_OF_COLUMN: Readonly<Record<(typeof COLUMNS)[number], string>> = {
  id: 'id',
  occurred_at: 'occurredAt',
  action: 'action',
  status: 'status',
  actor_type: 'actor.type',
  actor_id: 'actor.id',
  actor_name: 'actor.name',
  target_type: 'target.type',
  target_id: 'target.id',
  target_name: 'target.name',
  tenant_id: 'tenantId',
  metadata: 'metadata',
  changes: 'changes',
  error: 'error',
  context: 'context',
};

/** The columns a row cannot be without. */
const REQUIRED_COLUMNS: ReadonlySet<string> = new Set(['id', 'occurred_at', 'action', 'status']);

/**
 * Whether the database refused a statement for the data it carried (a value it cannot hold, a
 * constraint or trigger of the table) rather than for its connection, a lock or its schema: by
 * the database's own error codes, never by message text.
 *  - PostgreSQL: SQLSTATE class 22 (data exception), 23 (integrity constraint), P0001 (raised by a trigger);
 *  - MySQL/MariaDB: SQLSTATE class 22 and 23, 45000 (SIGNAL in a trigger), and the errors of a
 *    value the column cannot hold that MySQL files under HY000 (1366, 1367, 3140);
 *  - SQLite: SQLITE_CONSTRAINT*, SQLITE_TOOBIG, SQLITE_MISMATCH.
 */
export function isContentRejection(dialect: SqlDialectName, error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, sqlState, errno } = error as { code?: unknown; sqlState?: unknown; errno?: unknown };
  switch (dialect) {
    case 'postgres':
      return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$|^P0001$/.test(code);
    case 'mysql':
      return (typeof sqlState === 'string' && /^(22|23)[0-9A-Z]{3}$|^45000$/.test(sqlState)) || errno === 1366 || errno === 1367 || errno === 3140;
    case 'sqlite':
      return typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH');
  }
}

function isBusy(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === 'SQLITE_BUSY' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

function isMissingTable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // PostgreSQL 42P01, MySQL ER_NO_SUCH_TABLE, SQLite "no such table".
  return code === '42P01' || code === 'ER_NO_SUCH_TABLE' || (typeof message === 'string' && message.includes('no such table'));
}

function isKysely(value: unknown): value is AnyKysely {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AnyKysely).executeQuery === 'function' &&
    typeof (value as AnyKysely).getExecutor === 'function'
  );
}

function detectDialectOrUndefined(db: AnyKysely): SqlDialectName | undefined {
  const adapter = db.getExecutor().adapter;
  const name = adapter.constructor?.name ?? '';
  if (/postgres/i.test(name)) return 'postgres';
  if (/mysql/i.test(name)) return 'mysql';
  if (/sqlite/i.test(name)) return 'sqlite';
  // An adapter of another package: its capability flags tell the three apart.
  if (adapter.supportsOutput) return undefined;
  if (!adapter.supportsReturning) return 'mysql';
  return adapter.supportsTransactionalDdl ? 'postgres' : 'sqlite';
}

/** Which database a Kysely instance talks to, from its dialect adapter. */
export function detectDialect(db: AnyKysely): SqlDialectName {
  const name = detectDialectOrUndefined(db);
  if (!name) {
    throw new ActivityLogError('INVALID_OPTIONS', 'kyselyStore: supports PostgreSQL, MySQL/MariaDB and SQLite dialects; pass { dialect } if yours is one of them');
  }
  return name;
}
