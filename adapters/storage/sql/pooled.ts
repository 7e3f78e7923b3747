import type { Dialect } from 'kysely';
import { describeValue } from '../../../src/describe.js';
import { ActivityLogError } from '../../../src/errors.js';
import { loadPeer } from '../peer.js';
import type { AnyKysely, KyselyModule } from './dialect.js';
import { SQL_DIALECTS } from './dialects.js';
import { createSqlStore, type SqlActivityStore, type SqlTableOptions } from './store.js';

/** Options the PostgreSQL and MySQL stores share besides the table's: what a database server over a network needs. */
export interface NetworkStoreOptions {
  /**
   * How long the database has to answer each statement of an insert (of records, or of
   * integrity checkpoints). Past it, the insert fails and its connection is closed rather than
   * given back to the pool: a connection lost without a reset (a hung server, a firewall that
   * dropped it) never answers, and would otherwise hold its pool slot for ever. The logger
   * retries the batch on a fresh connection; if the first insert did commit, ids keep one copy.
   * Longer than the logger's `retry.attemptTimeoutMs`, so an insert that is only slow (waiting
   * for a lock) is waited for rather than sent again. Reads and migrations have no such limit.
   * @default 60000
   */
  insertTimeoutMs?: number;
}

/** The default of {@link NetworkStoreOptions.insertTimeoutMs}: twice the logger's default `retry.attemptTimeoutMs`. */
const DEFAULT_INSERT_TIMEOUT_MS = 60_000;

/**
 * The PostgreSQL and MySQL stores: a Kysely over the pool the user passed (left open by
 * `close()`), or over one the store opens on first use (and ends on `close()`). @internal
 */
export function createPooledSqlStore<Pool>(config: {
  name: 'postgres' | 'mysql';
  /** Where the database is, without credentials (location.ts). */
  location: string | undefined;
  options: SqlTableOptions & NetworkStoreOptions;
  userPool: Pool | undefined;
  openPool: () => Promise<Pool>;
  kyselyDialect: (kysely: KyselyModule, pool: Pool) => Dialect;
  partitioning?: 'monthly';
}): SqlActivityStore {
  const { name, options, userPool } = config;
  const { insertTimeoutMs = DEFAULT_INSERT_TIMEOUT_MS } = options;
  if (!Number.isSafeInteger(insertTimeoutMs) || insertTimeoutMs < 1) {
    throw new ActivityLogError('INVALID_OPTIONS', `${name}Store: insertTimeoutMs: must be a whole number of milliseconds from 1, got ${describeValue(options.insertTimeoutMs)}`);
  }
  let kysely: AnyKysely | undefined;
  return createSqlStore({
    name,
    location: config.location,
    subpath: name,
    tableName: options.tableName,
    schema: options.schema,
    migrate: options.migrate,
    partitioning: config.partitioning,
    insertTimeoutMs,
    async connect() {
      if (!kysely) {
        const pool = userPool ?? (await config.openPool());
        const k = await loadPeer<KyselyModule>('kysely', name);
        kysely = new k.Kysely({ dialect: config.kyselyDialect(k, pool) });
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
