import { describeValue } from '../../../src/describe.js';
import { ActivityLogError } from '../../../src/errors.js';
import { toPage, type StoreQuery } from '../../../src/query.js';
import { pagePosition } from '../../../src/cursor.js';
import type { ActivityRecord, NormalizedActivityFilter, NormalizedSummaryQuery, SummaryBucket } from '../../../src/schema.js';
import type { ActivityStore } from '../../../src/store.js';
import { loadPeer } from '../peer.js';
import { AnswerDeadline } from './answer-deadline.js';
import { rowToRecord } from './columns.js';
import { lockText, type AnyKysely, type KyselyModule, type SqlDialect, type SqlDialectName } from './dialect.js';
import { SqlMigrations } from './migrations.js';
import { classifyInsertError } from './refusals.js';
import { SqlStatements } from './statements.js';

/** Where the table lives and whether the store creates it: options every SQL store shares. */
export interface SqlTableOptions {
  /**
   * Name of the activity table; a `<tableName>_schema` table records its schema version.
   * @default 'activity_logs'
   */
  tableName?: string;
  /**
   * Schema (PostgreSQL) or database (MySQL, an attached SQLite database) holding the table.
   * It must be there: the store makes its tables, never their schema, and refuses one the
   * database does not have at first use (`INVALID_OPTIONS`).
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

/** A SQL-backed activity store. */
export interface SqlActivityStore extends ActivityStore {
  /** The database in use, once known (after the first operation). */
  readonly dialect: SqlDialectName | undefined;
  /** The activity table's name. */
  readonly tableName: string;
  /** The schema (PostgreSQL) or database (MySQL) holding it, when not the connection's own. */
  readonly schema: string | undefined;
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

/** What a database-specific factory hands to {@link createSqlStore}. @internal */
export interface SqlStoreConfig extends SqlTableOptions {
  name: string;
  /** Where the database is, without credentials (location.ts); undefined when unknown. */
  location?: string | undefined;
  /** The activity-log subpath, for MISSING_PEER messages. */
  subpath: string;
  /**
   * Opens what the store runs on; called on first use and again after a failure. `readDb`,
   * when given, runs the reads and purges (SQLite's reader thread), off the thread of `db`.
   */
  connect: () => Promise<{ db: AnyKysely; readDb?: AnyKysely | undefined; dialect: SqlDialect }>;
  /** Releases what `connect` opened itself, never a client the user passed in. */
  disconnect?: () => Promise<void>;
  /** Partition the table by month (PostgreSQL only); see `postgresStore`. */
  partitioning?: 'monthly';
  /**
   * Writes a batch faster than a generic multi-row insert can (SQLite: one cached prepared
   * statement in one transaction, on the writer thread). A content refusal it throws is
   * classified like any other.
   */
  insert?: (records: readonly ActivityRecord[], statements: SqlStatements) => Promise<void> | void;
  /**
   * How long the database is given to answer each statement of an insert (records or
   * checkpoints) on a connection `connect` guards (see `answer-deadline.ts`); none when unset.
   * `close()` closes the connections of those still unanswered.
   */
  insertTimeoutMs?: number;
}

/**
 * A table name: at most 48, so that every name made from it (`<table>_checkpoints`, an index's
 * `<table>_tenant_idx`, a partition's `<table>_p202501`) fits PostgreSQL's 63 bytes and
 * MySQL's 64 characters uncut.
 */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;
/** A schema (PostgreSQL) or database (MySQL, an attached SQLite database): the databases' own limit. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/**
 * How to make the `schema` option's schema, by database. The store makes its tables but never a
 * schema: that needs rights an app's role seldom has (CREATE on the database, on MySQL a
 * global one), a schema's owner and grants are the administrator's to choose, and a misspelt
 * name would put the log where no one looks for it.
 */
const MISSING_SCHEMA: Readonly<Record<SqlDialectName, (schema: string) => string>> = {
  postgres: (schema) => `there is no schema "${schema}" in this PostgreSQL database; create it first (create schema "${schema}"), or leave schema out for the search_path's`,
  mysql: (schema) =>
    `there is no database "${schema}" on this MySQL/MariaDB server that this user has rights on; create it first (create database \`${schema}\`) and grant the user its rights, or leave schema out for the connection's own`,
  sqlite: (schema) => `no database "${schema}" is attached to this SQLite connection; attach it first (attach database 'audit.db' as ${schema}) on the connection the store uses, or leave schema out for main`,
};
/** Rows per purge statement: small enough that no delete holds locks for long. */
const PURGE_BATCH = 2000;
/** Records an erasure reads and rewrites per transaction. */
const ERASE_BATCH = 500;

/** What the store runs on once connected and migrated. */
interface Connected {
  db: AnyKysely;
  /** Where reads and purges run: `db` unless the store has a reader of its own. */
  readDb: AnyKysely;
  k: KyselyModule;
  statements: SqlStatements;
  migrations: SqlMigrations;
}

/**
 * The store every SQL database shares: its lifecycle (connect on first use, migrate once,
 * forget a failed connection so the next call retries, close what it opened) and the
 * contract's methods over {@link SqlStatements}. @internal
 */
export function createSqlStore(config: SqlStoreConfig): SqlActivityStore {
  const tableName = config.tableName ?? 'activity_logs';
  if (typeof tableName !== 'string' || !TABLE_NAME.test(tableName)) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `tableName: must be letters, digits and "_", not starting with a digit, at most 48 (the names made from it, such as "<tableName>_checkpoints", must fit the databases' 63), got ${describeValue(tableName)}`,
    );
  }
  if (config.schema !== undefined && (typeof config.schema !== 'string' || !SCHEMA_NAME.test(config.schema))) {
    throw new ActivityLogError('INVALID_OPTIONS', `schema: must be letters, digits and "_", not starting with a digit, at most 63, got ${describeValue(config.schema)}`);
  }
  // Values read as flags: anything else would be taken for the default without a word
  // (`migrate: 'false'` migrating, `partitioning: 'Monthly'` leaving the table unpartitioned).
  if (config.migrate !== undefined && typeof config.migrate !== 'boolean') {
    throw new ActivityLogError('INVALID_OPTIONS', `migrate: must be true or false, got ${describeValue(config.migrate)}`);
  }
  if (config.partitioning !== undefined && config.partitioning !== 'monthly') {
    throw new ActivityLogError('INVALID_OPTIONS', `partitioning: must be "monthly" or left out, got ${describeValue(config.partitioning)}`);
  }
  const autoMigrate = config.migrate !== false;
  let connecting: Promise<Connected> | undefined;
  let known: Connected | undefined;
  /** Whether the table is known to be at this release's schema (without auto-migration: checked, or migrated). */
  let current = false;
  let closed = false;
  let leasesReady: Promise<void> | undefined;
  const insertDeadline = config.insertTimeoutMs === undefined ? undefined : new AnswerDeadline(config.insertTimeoutMs, 'insertTimeoutMs');
  /** Runs the statements of an insert under the store's deadline, when it has one. */
  const withinInsertDeadline = <T>(fn: () => Promise<T>): Promise<T> => (insertDeadline ? insertDeadline.run(fn) : fn());

  /**
   * Refuses a `schema` the database does not have, naming the option, before anything else
   * reaches it: migrating, PostgreSQL and MySQL said only `schema "audit" does not exist` or
   * `Unknown database 'audit'`; without migrating, every statement failed on a missing table.
   */
  const requireSchema = async (k: KyselyModule, db: AnyKysely, dialect: SqlDialect) => {
    const { schema } = config;
    if (schema === undefined || (await dialect.hasSchema(k, db, schema))) return;
    throw new ActivityLogError('INVALID_OPTIONS', `schema: ${MISSING_SCHEMA[dialect.name](schema)}. The store makes its tables, never their schema`, {
      details: { schema, dialect: dialect.name },
    });
  };

  type Prepared = { k: KyselyModule; statements: SqlStatements; migrations: SqlMigrations };
  const prepare = async (dialect: SqlDialect, partitioned = config.partitioning === 'monthly'): Promise<Prepared> => {
    const k = await loadPeer<KyselyModule>('kysely', config.subpath);
    const statements = new SqlStatements(k, dialect, tableName, config.schema, partitioned);
    return { k, statements, migrations: new SqlMigrations(k, statements) };
  };

  /**
   * Where the database partitions tables (PostgreSQL): reads what the table is, whatever the
   * option says (inserts into a partitioned table need its key), refuses `partitioning` on a
   * table made without it, and, with `upkeep`, makes the months ahead. At connect that upkeep
   * is best effort: a month without its partition goes to the default partition, and a role
   * without DDL rights must still be able to write; `migrate()` and retention passes retry it
   * and let a failure show.
   */
  const checkPartitions = async (db: AnyKysely, dialect: SqlDialect, prepared: Prepared, upkeep: 'best effort' | 'required' | 'none') => {
    const partitions = dialect.partitions?.(prepared.k, tableName, config.schema);
    if (!partitions) {
      if (config.partitioning) throw new ActivityLogError('INVALID_OPTIONS', `partitioning: ${dialect.name} tables are not partitioned by this store; only PostgreSQL's are`);
      return prepared;
    }
    const kind = await partitions.tableKind(db);
    // Not made yet (migrate: false): it will be made as the option says.
    if (kind === 'missing') return prepared;
    if (config.partitioning === 'monthly' && kind === 'plain') {
      throw new ActivityLogError(
        'INVALID_OPTIONS',
        `partitioning: table "${tableName}" exists and is not partitioned; move its rows into a partitioned table as the README's "Partitions" section shows, or leave partitioning out`,
      );
    }
    if (kind === 'plain') return prepared.statements.partitioned ? prepare(dialect, false) : prepared;
    if (upkeep === 'required') await partitions.ensureAhead(db, Date.now(), partitionLock);
    else if (upkeep === 'best effort') await partitions.ensureAhead(db, Date.now(), partitionLock).catch(() => undefined);
    return prepared.statements.partitioned ? prepared : prepare(dialect, true);
  };
  // The migration lock's own text: a month is never made while the table migrates.
  const partitionLock = lockText({ scope: 'activity-log', schema: config.schema, tableName });

  /**
   * Connects, loads Kysely and migrates once; a failure is forgotten so the next call retries.
   * Without auto-migration, a table of an older release is refused, except by `migrate()`.
   */
  const ready = (purpose: 'use' | 'migrate' = 'use'): Promise<Connected> => {
    if (closed) return Promise.reject(new ActivityLogError('STORE_FAILED', `store "${config.name}" is closed`));
    // Connected by migrate(), whose migration then failed (no DDL rights, a lock timeout): the
    // table is checked again before use, until it is current.
    if (connecting && !autoMigrate && purpose === 'use' && !current) {
      return connecting.then(async (connected) => {
        await connected.migrations.requireCurrent(connected.db);
        current = true;
        return connected;
      });
    }
    connecting ??= (async () => {
      // The driver first: with neither installed, the message names the driver.
      const { db, readDb, dialect } = await config.connect();
      const prepared = await prepare(dialect);
      await requireSchema(prepared.k, db, dialect);
      if (autoMigrate) await prepared.migrations.migrate(db);
      else if (purpose === 'migrate') await prepared.migrations.checkVersion(db);
      else await prepared.migrations.requireCurrent(db);
      current = autoMigrate || purpose === 'use';
      const { k, statements, migrations } = await checkPartitions(db, dialect, prepared, autoMigrate ? 'best effort' : 'none');
      statements.maxStatementBytes = await dialect.maxStatementBytes?.(k, db);
      known = { db, readDb: readDb ?? db, k, statements, migrations };
      return known;
    })();
    connecting.catch(() => {
      connecting = undefined;
    });
    return connecting;
  };

  /**
   * Where a write inside the caller's transaction runs. A database whose Kysely has one
   * connection (SQLite) cannot migrate through the store's own while the caller's
   * transaction holds it: there the migration runs inside the caller's transaction (SQLite's
   * DDL is transactional).
   */
  const readyForTransaction = async (trx: AnyKysely): Promise<Pick<Connected, 'statements'>> => {
    // The table of every dialect, loaded here only: a store of one database (the SQLite file
    // most apps start with) does not hold the others' code.
    const dialect = known?.statements.dialect ?? (await import('./dialects.js')).dialectOf(trx);
    if (!dialect?.oneConnection) return ready();
    if (known && (autoMigrate || current)) return known;
    const { k, statements, migrations } = await prepare(dialect);
    await requireSchema(k, trx, dialect);
    await (autoMigrate ? migrations.migrateLocked(trx) : migrations.requireCurrent(trx));
    return { statements };
  };

  /** The store's insert of `batch` on the store connected and migrated. */
  const insertBatch = async ({ db, k, statements }: Connected, batch: readonly ActivityRecord[]): Promise<void> => {
    const records = statements.partitioned ? await statements.withoutStoredIds(db, batch) : batch;
    if (records.length === 0) return;
    try {
      if (config.insert) {
        await config.insert(records, statements);
        return;
      }
      const chunks = statements.insertChunks(records);
      if (chunks.length === 1) {
        await db.executeQuery(chunks[0]!);
        return;
      }
      await statements.dialect.writeTransaction(k, db, async (trx) => {
        for (const chunk of chunks) await trx.executeQuery(chunk);
      });
    } catch (error) {
      throw await classifyInsertError(k, statements, db, error, records, config.name);
    }
  };

  const store: SqlActivityStore = {
    name: config.name,
    capabilities: { metadataFilter: true, purgeExcept: true, searchFilters: true, zonedSummary: true, concurrentInserts: true },
    tableName,
    schema: config.schema,
    location: config.location,
    get dialect() {
      return known?.statements.dialect.name;
    },

    async insert(batch) {
      if (batch.length === 0) return;
      // Connected (and migrated) before the deadline applies: a migration's statements may
      // rightly take longer than an insert (an index built over a large table).
      const connected = await ready();
      await withinInsertDeadline(() => insertBatch(connected, batch));
    },

    async insertInTransaction(transaction, records) {
      if (!isKysely(transaction)) {
        throw new ActivityLogError('INVALID_OPTIONS', `insertInTransaction: expected a Kysely Transaction (from db.transaction().execute(trx => ...)), got ${typeof transaction}`);
      }
      // A Kysely outside a transaction (`db` where `trx` was meant) would write at once and
      // never roll back with the caller's change: the atomicity asked for would silently fail.
      if (transaction.isTransaction !== true) {
        throw new ActivityLogError('INVALID_OPTIONS', 'insertInTransaction: expected a Kysely Transaction (the trx of db.transaction().execute(trx => ...)), got a Kysely that is not in a transaction: what it wrote would not roll back with your change');
      }
      if (records.length === 0) return;
      const trx = transaction.withoutPlugins();
      const { statements } = await readyForTransaction(trx);
      const fresh = statements.partitioned ? await statements.withoutStoredIds(trx, records) : records;
      for (const chunk of statements.insertChunks(fresh)) await trx.executeQuery(chunk);
    },

    async query(query) {
      const { readDb, statements } = await ready();
      const { rows } = await statements.selectPage(query).execute(readDb);
      return toPage(rows.map(rowToRecord), query.limit);
    },

    async get(id) {
      const { readDb, statements } = await ready();
      const { rows } = await statements.selectById(id).execute(readDb);
      return rows[0] ? rowToRecord(rows[0]) : undefined;
    },

    async count(filter) {
      const { readDb, statements } = await ready();
      const { rows } = await statements.count(filter).execute(readDb);
      return Number(rows[0]?.n ?? 0);
    },

    async summarize(query) {
      const { readDb, statements } = await ready();
      const time = await statements.timeBucketing(readDb, query);
      const { rows } = await statements.summarize(query, time).execute(readDb);
      return statements.toBuckets(rows, query.by, time);
    },

    async purge(options) {
      const { readDb, statements } = await ready();
      const limit = options.limit ?? Infinity;
      let removed = 0;
      // Each batch is its own short statement: no long transaction, no long table lock.
      while (removed < limit) {
        const batch = Math.min(PURGE_BATCH, limit - removed);
        const result = await statements.purgeBatch(options, batch).execute(readDb);
        const deleted = Number(result.numAffectedRows ?? 0);
        removed += deleted;
        if (deleted < batch) break;
      }
      return removed;
    },

    async dropPartitions(before) {
      const { db, k, statements } = await ready();
      const partitions = statements.partitioned ? statements.dialect.partitions?.(k, tableName, config.schema) : undefined;
      if (!partitions) return 0;
      const removed = await partitions.dropBefore(db, before);
      // Every retention pass also makes the months ahead, so a long-running process keeps
      // them made. Best effort, as at connect: without them, records go to the default partition.
      await partitions.ensureAhead(db, Date.now(), partitionLock).catch(() => undefined);
      return removed;
    },

    async lease(name, holder, ttlMs) {
      const { readDb, statements } = await ready();
      // The table is made on first use, not by migrate(): only a logger with retention needs it.
      // Tried twice: PostgreSQL can fail one of two concurrent "create table if not exists".
      leasesReady ??= statements
        .createLeases(readDb)
        .catch(() => statements.createLeases(readDb))
        .catch((error: unknown) => {
          leasesReady = undefined;
          throw error;
        });
      await leasesReady;
      return statements.takeLease(readDb, name, holder, ttlMs);
    },

    async chainPage(query) {
      const { readDb, statements } = await ready();
      const { rows } = await statements.selectChainPage(query, 'same-chain').execute(readDb);
      // The rest of the page from the chains after this one.
      if (query.after !== undefined && rows.length < query.limit && (query.chain === undefined || query.chain !== query.after.chain)) {
        const next = await statements.selectChainPage({ ...query, limit: query.limit - rows.length }, 'next-chains').execute(readDb);
        rows.push(...next.rows);
      }
      return rows.map(rowToRecord);
    },

    async insertCheckpoints(checkpoints) {
      if (checkpoints.length === 0) return;
      const { db, statements } = await ready();
      await withinInsertDeadline(() => db.executeQuery(statements.insertCheckpoints(checkpoints)));
    },

    async checkpointPage(query) {
      const { readDb, statements } = await ready();
      const { rows } = await statements.selectCheckpoints(query).execute(readDb);
      return rows.map((row) => ({ chain: row.chain, seq: Number(row.seq), hash: row.hash, keyId: row.key_id, at: row.at, signature: row.signature }));
    },

    async erase(filter, rewrite) {
      const { db, k, statements } = await ready();
      let rewritten = 0;
      let query: StoreQuery | undefined = { ...filter, limit: ERASE_BATCH };
      // Page by page, newest first; each page read, rewritten and written back in one short
      // transaction that holds its rows, so that two erasures never write over each other.
      while (query) {
        const current: StoreQuery = query;
        query = undefined;
        await statements.dialect.writeTransaction(k, db, async (trx) => {
          const { rows } = await statements.selectPage(current, true).execute(trx);
          const page = rows.slice(0, ERASE_BATCH).map(rowToRecord);
          for (const record of page) {
            const changed = rewrite(record);
            if (!changed) continue;
            await statements.eraseUpdate(changed).execute(trx);
            rewritten += 1;
          }
          const last = page[page.length - 1];
          if (rows.length > ERASE_BATCH && last) query = { ...filter, limit: ERASE_BATCH, after: pagePosition(last) };
        });
      }
      if (rewritten > 0) await statements.dialect.afterErase?.(k, db);
      return rewritten;
    },

    async migrate() {
      const connected = await ready('migrate');
      // ready() migrated already when autoMigrate; an explicit call migrates in any case,
      // and makes a partitioned table's months ahead (reading again what the table is now).
      if (!autoMigrate) await connected.migrations.migrate(connected.db);
      current = true;
      const { k, statements, migrations } = await checkPartitions(connected.db, connected.statements.dialect, connected, 'required');
      known = Object.assign(connected, { k, statements, migrations });
    },

    async close() {
      if (closed) return;
      closed = true;
      const opened = connecting;
      connecting = undefined;
      await opened?.catch(() => undefined);
      // The logger closes the store once it has written what it could, or given up: an insert
      // still unanswered now is one it gave up on, whose connection would hold the pool's end.
      insertDeadline?.abandon();
      await config.disconnect?.();
    },
  };
  return store;
}

/** Whether `value` is a Kysely instance or transaction. */
export function isKysely(value: unknown): value is AnyKysely {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AnyKysely).executeQuery === 'function' &&
    typeof (value as AnyKysely).getExecutor === 'function'
  );
}
