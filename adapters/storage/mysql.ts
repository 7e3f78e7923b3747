import type { Pool, PoolOptions } from 'mysql2';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import { createPooledSqlStore } from './sql/pooled.js';
import type { SqlActivityStore, SqlTableOptions } from './sql/store.js';
import { defaultExport, loadPeer } from './peer.js';

/**
 * Options of {@link mysqlStore} shared by both forms: `tableName`, `schema` (the database;
 * default: the connection's current one) and `migrate`.
 */
export type MysqlStoreCommonOptions = SqlTableOptions;

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
        /** A pool from mysql2's `createPool()` (the callback API, as Kysely's MysqlDialect takes); `close()` leaves it open. */
        pool: Pool;
        uri?: undefined;
        poolOptions?: undefined;
      }
  );

/** The socket under a pooled mysql2 connection (`stream`, not in mysql2's types). */
function socketOf(connection: unknown): { ref(): unknown; unref(): unknown } | undefined {
  const stream = (connection as { stream?: { ref?: unknown; unref?: unknown } }).stream;
  return stream && typeof stream.ref === 'function' && typeof stream.unref === 'function' ? (stream as { ref(): unknown; unref(): unknown }) : undefined;
}

/**
 * The options of {@link MysqlStoreOptions} (both forms), for the check that refuses others.
 * `poolOptions` is not checked here: it goes to mysql2's `createPool` as it is.
 */
const MYSQL_STORE_OPTIONS = optionNames<MysqlStoreOptions>()(['uri', 'poolOptions', 'pool', 'tableName', 'schema', 'migrate']);

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
    options,
    userPool: options.pool,
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
    kyselyDialect: (kysely, pool) => new kysely.MysqlDialect({ pool }),
  });
}
