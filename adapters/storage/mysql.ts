import type { Pool, PoolOptions } from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { ActivityLogError } from '../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import { serverLocation, type ServerSettings } from './sql/location.js';
import { guardConnection } from './sql/answer-deadline.js';
import { createPooledSqlStore, type NetworkStoreOptions } from './sql/pooled.js';
import type { SqlActivityStore, SqlTableOptions } from './sql/store.js';
import { defaultExport, loadPeer } from './peer.js';

/**
 * Options of {@link mysqlStore} shared by both forms: `tableName`, `schema` (the database;
 * default: the connection's current one), `migrate` and `insertTimeoutMs`.
 */
export type MysqlStoreCommonOptions = SqlTableOptions & NetworkStoreOptions;

/** Options of {@link mysqlStore}: a URI, or a mysql2 pool you own. */
export type MysqlStoreOptions = MysqlStoreCommonOptions &
  (
    | {
        /** `mysql://user:password@host:3306/db`; the store opens (and closes) its own pool. */
        uri: string;
        /**
         * More settings of the store's own pool.
         * @default { connectionLimit: 10 }
         */
        poolOptions?: Omit<PoolOptions, 'uri'>;
        pool?: undefined;
      }
    | {
        /**
         * A pool from mysql2's `createPool()`, or from `mysql2/promise` (the store then uses the
         * callback pool under it, as Kysely's MysqlDialect needs); `close()` leaves it open.
         */
        pool: Pool | PromisePool;
        uri?: undefined;
        poolOptions?: undefined;
      }
  );

/** The socket under a pooled mysql2 connection (`stream`, not in mysql2's types). */
function socketOf(connection: unknown): { ref(): unknown; unref(): unknown; destroy(error?: Error): unknown } | undefined {
  const stream = (connection as { stream?: { ref?: unknown; unref?: unknown; destroy?: unknown } }).stream;
  return stream && typeof stream.ref === 'function' && typeof stream.unref === 'function' && typeof stream.destroy === 'function'
    ? (stream as { ref(): unknown; unref(): unknown; destroy(error?: Error): unknown })
    : undefined;
}

/**
 * The options of {@link MysqlStoreOptions} (both forms), for the check that refuses others.
 * `poolOptions` is not checked here: it goes to mysql2's `createPool` as it is.
 */
const MYSQL_STORE_OPTIONS = optionNames<MysqlStoreOptions>()(['uri', 'poolOptions', 'pool', 'tableName', 'schema', 'migrate', 'insertTimeoutMs']);

/**
 * MySQL and MariaDB storage on `mysql2`: JSON columns, `DATETIME(3)` in UTC, binary
 * collation so ids and filters compare exactly as in JavaScript.
 *
 * Times are written and read as UTC by the SQL itself, so the pool's `timezone` setting and
 * the server's time zone do not shift them.
 *
 * Requires the optional peers `mysql2` and `kysely`.
 *
 * @example
 * import { mysqlStore } from 'activity-log/mysql';
 * const activity = createActivityLogger({ store: mysqlStore({ uri: process.env.MYSQL_URL! }) });
 */
export function mysqlStore(options: MysqlStoreOptions): SqlActivityStore {
  refuseUnknownOptions('mysqlStore', options, MYSQL_STORE_OPTIONS);
  return createPooledSqlStore<Pool>({
    name: 'mysql',
    // mysql2 reads the URI over the other settings, as here.
    location: serverLocation({ url: options.uri }, options.poolOptions, poolSettings(options.pool)),
    options,
    userPool: userPoolOf(options),
    async openPool() {
      const mysql = defaultExport<typeof import('mysql2')>(await loadPeer('mysql2', 'mysql'));
      const pool = mysql.createPool({ connectionLimit: 10, timezone: 'Z', charset: 'utf8mb4', ...options.poolOptions, uri: options.uri });
      // An idle connection does not hold the process open (mysql2 has no allowExitOnIdle): its
      // socket is unref'd while it waits in the pool and ref'd again while it is in use, so a
      // script that awaits flush() ends by itself, and a query in flight keeps it alive.
      pool.on('release', (connection) => socketOf(connection)?.unref());
      pool.on('acquire', (connection) => socketOf(connection)?.ref());
      return pool;
    },
    kyselyDialect: (kysely, pool) => new kysely.MysqlDialect({ pool: guardingConnections(pool) }),
  });
}

/**
 * `pool` as the store's Kysely uses it: each connection it hands out has the store's insert
 * deadline on its statements (only the store's inserts; the caller's own queries on a pool
 * passed in are left as they are).
 */
function guardingConnections(pool: Pool): Pool {
  const guarding = {
    getConnection(callback: Parameters<Pool['getConnection']>[0]) {
      pool.getConnection((error, connection) => callback(error, connection && guardConnection(connection, socketOf)));
    },
    end: (callback?: (error: unknown) => void) => pool.end(callback),
  };
  return guarding as unknown as Pool;
}

/**
 * The callback pool under the caller's `pool`. Kysely's MysqlDialect calls
 * `getConnection(callback)`, which a `mysql2/promise` pool ignores (it returns a promise), so
 * over one every statement waited for ever, and so did the logger's `flush()` and `close()`:
 * such a pool is used through the callback pool it wraps (`.pool`).
 */
/** What a caller's mysql2 pool connects with (its connection config), of either form. */
function poolSettings(given: unknown): ServerSettings | undefined {
  const pool = given as { config?: { connectionConfig?: ServerSettings }; pool?: { config?: { connectionConfig?: ServerSettings } } } | undefined;
  return (pool?.pool ?? pool)?.config?.connectionConfig;
}

function userPoolOf(options: MysqlStoreOptions): Pool | undefined {
  if (options.pool === undefined) return undefined;
  if (options.uri !== undefined || options.poolOptions !== undefined) {
    throw new ActivityLogError('INVALID_OPTIONS', 'mysqlStore: pass either "pool" or "uri" (with "poolOptions"), not both');
  }
  const given = options.pool as unknown as { getConnection?: unknown; pool?: { getConnection?: unknown } } | null;
  // A promise pool is a wrapper holding the callback pool as `.pool`; a callback pool has none.
  const pool = typeof given?.pool?.getConnection === 'function' ? given.pool : given;
  if (typeof pool?.getConnection !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'mysqlStore: "pool" must be a mysql2 pool (createPool() of mysql2 or mysql2/promise)');
  }
  return pool as Pool;
}
