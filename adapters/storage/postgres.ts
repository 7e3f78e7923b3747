import type { Pool, PoolClient, PoolConfig } from 'pg';
import { ActivityLogError } from '../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import { serverLocation, type ServerSettings } from './sql/location.js';
import { guardConnection } from './sql/answer-deadline.js';
import { createPooledSqlStore, type NetworkStoreOptions } from './sql/pooled.js';
import type { SqlActivityStore, SqlTableOptions } from './sql/store.js';
import { defaultExport, loadPeer } from './peer.js';

/**
 * Options of {@link postgresStore} shared by both forms: `tableName`, `schema` (default: the
 * connection's search_path), `migrate` and `insertTimeoutMs`.
 */
export interface PostgresStoreCommonOptions extends SqlTableOptions, NetworkStoreOptions {
  /**
   * Make the table partitioned by month of `occurred_at` (declarative partitioning): one
   * partition per UTC month, made three months ahead, and a default partition for anything
   * else, so retention drops a month in one statement instead of deleting its rows. Applies
   * when the store creates the table; a table that exists unpartitioned is refused (the
   * README's "Partitions" shows how to move it). A partitioned table is written correctly
   * with or without this option.
   * @default undefined (one plain table)
   */
  partitioning?: 'monthly';
}

/** Options of {@link postgresStore}: a connection string, or a `pg` Pool you own. */
export type PostgresStoreOptions = PostgresStoreCommonOptions &
  (
    | {
        /** `postgres://user@host:5432/db`; the store opens (and closes) its own pool. */
        connectionString: string;
        /**
         * More settings of the store's own pool (`max`, `ssl`, `application_name`...).
         * @default { max: 10, allowExitOnIdle: true, connectionTimeoutMillis: 10000, keepAlive: true }
         */
        poolConfig?: Omit<PoolConfig, 'connectionString'>;
        pool?: undefined;
      }
    | {
        /** A `pg` Pool you created; `close()` leaves it open. */
        pool: Pool;
        connectionString?: undefined;
        poolConfig?: undefined;
      }
  );

/**
 * The options of {@link PostgresStoreOptions} (both forms), for the check that refuses others.
 * `poolConfig` is not checked here: it goes to `pg.Pool` as it is, whose settings are pg's.
 */
const POSTGRES_STORE_OPTIONS = optionNames<PostgresStoreOptions>()(['connectionString', 'poolConfig', 'pool', 'tableName', 'schema', 'migrate', 'partitioning', 'insertTimeoutMs']);

/**
 * PostgreSQL storage on `pg`, for many app instances writing to one database: `jsonb`
 * metadata, `timestamptz` times, keyset pagination on indexes.
 *
 * Requires the optional peers `pg` and `kysely`.
 *
 * @example
 * import { postgresStore } from 'activity-log/postgres';
 * const activity = createActivityLogger({ store: postgresStore({ connectionString: process.env.DATABASE_URL! }) });
 */
export function postgresStore(options: PostgresStoreOptions): SqlActivityStore {
  refuseUnknownOptions('postgresStore', options, POSTGRES_STORE_OPTIONS);
  if (options.pool !== undefined) {
    if (options.connectionString !== undefined || options.poolConfig !== undefined) {
      throw new ActivityLogError('INVALID_OPTIONS', 'postgresStore: pass either "pool" or "connectionString" (with "poolConfig"), not both');
    }
    if (typeof (options.pool as { connect?: unknown } | null)?.connect !== 'function') {
      throw new ActivityLogError('INVALID_OPTIONS', 'postgresStore: "pool" must be a pg Pool (new pg.Pool(...))');
    }
  }
  return createPooledSqlStore<Pool>({
    name: 'postgres',
    // pg reads the connection string over the other settings, as here.
    location: serverLocation({ url: options.connectionString }, options.poolConfig, ...poolSettings(options.pool)),
    options,
    userPool: options.pool && holdingClientErrors(options.pool),
    async openPool() {
      const pg = defaultExport<typeof import('pg')>(await loadPeer('pg', 'postgres'));
      // allowExitOnIdle: an idle connection does not hold the process open, so a script that
      // awaits flush() ends at once rather than after idleTimeoutMillis; a query in flight does.
      // connectionTimeoutMillis: pg waits for ever by default, for a connection (a server that
      // accepts and never answers, a firewall that drops the packets) and for a free slot: the
      // store's first use, or its reconnection after an outage, never ended, even once the
      // network was back (mysql2 gives up after 10 s, as this now does). keepAlive lets the
      // system find a connection lost without a reset while it waits in the pool.
      const pool = new pg.Pool({
        max: 10,
        allowExitOnIdle: true,
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
        ...options.poolConfig,
        connectionString: options.connectionString,
      });
      // A connection that dies (a restart, pg_terminate_backend) must not crash the process:
      // the query on it rejects (the logger retries), the pool drops it and opens a fresh one.
      pool.on('error', () => undefined);
      pool.on('connect', (client) => guardConnection(client.on('error', () => undefined), socketOf));
      return pool;
    },
    kyselyDialect: (kysely, pool) => new kysely.PostgresDialect({ pool }),
    partitioning: options.partitioning,
  });
}

/** What a caller's pg Pool was made with (`pool.options`): its connection string first, as pg reads it. */
function poolSettings(pool: Pool | undefined): ServerSettings[] {
  const settings = (pool as { options?: ServerSettings & { connectionString?: unknown } } | undefined)?.options;
  return settings ? [{ url: settings.connectionString }, settings] : [];
}

/** The socket under a pg client (`connection.stream`, not in pg's types), for the insert deadline. */
function socketOf(client: PoolClient): { destroy(error?: Error): unknown } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(error?: Error): unknown } } }).connection?.stream;
}

/**
 * The caller's pool as the store's Kysely uses it: while the store holds one of its clients,
 * that client has an 'error' listener. pg emits 'error' on a checked-out client whose backend
 * dies between two statements (a restart, pg_terminate_backend, a failover), and with no
 * listener that is an uncaught exception: the process ends. pg's pool listens only to its
 * idle clients, leaving a checked-out one to whoever checked it out, here the store. The
 * statement on it rejects (the logger retries) and the pool drops it on release; the
 * listener goes with the release, so the pool's other users see their clients as before.
 * Its clients' statements also get the store's insert deadline (only the store's inserts:
 * the caller's own queries on them are left as they are).
 */
function holdingClientErrors(pool: Pool): Pool {
  const ignore = () => undefined;
  const held = {
    async connect(): Promise<PoolClient> {
      const client = guardConnection(await pool.connect(), socketOf);
      client.on('error', ignore);
      const release = client.release;
      client.release = (error?: Error | boolean) => {
        client.removeListener('error', ignore);
        client.release = release;
        return release.call(client, error);
      };
      return client;
    },
    // Never called: the store does not end a pool it did not open.
    end: () => pool.end(),
  };
  return held as unknown as Pool;
}
