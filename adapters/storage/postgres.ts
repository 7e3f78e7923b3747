import type { Kysely } from 'kysely';
import type { Pool, PoolConfig } from 'pg';
import { createSqlStore, SQL_DIALECTS, type SqlActivityStore } from './kysely.js';
import { defaultExport, loadPeer } from './peer.js';

type KyselyModule = typeof import('kysely');

/** Options of {@link postgresStore} shared by both forms. */
export interface PostgresStoreCommonOptions {
  /**
   * Name of the activity table.
   * @default 'activity_logs'
   */
  tableName?: string;
  /**
   * Schema holding the table.
   * @default the connection's search_path
   */
  schema?: string;
  /**
   * Create the table and indexes on first use.
   * @default true
   */
  migrate?: boolean;
}

/** Options of {@link postgresStore}: a connection string, or a `pg` Pool you own. */
export type PostgresStoreOptions = PostgresStoreCommonOptions &
  (
    | {
        /** `postgres://user@host:5432/db`; the store opens (and closes) its own pool. */
        connectionString: string;
        /**
         * More settings of the store's own pool (`max`, `ssl`, `application_name`...).
         * @default { max: 10 }
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
  const userPool = options.pool;
  let kysely: Kysely<unknown> | undefined;
  return createSqlStore({
    name: 'postgres',
    subpath: 'postgres',
    tableName: options.tableName,
    schema: options.schema,
    migrate: options.migrate,
    async connect() {
      if (!kysely) {
        let pool = userPool;
        if (!pool) {
          const pg = defaultExport<typeof import('pg')>(await loadPeer('pg', 'postgres'));
          pool = new pg.Pool({ max: 10, ...options.poolConfig, connectionString: options.connectionString });
          // A connection that dies (a restart, pg_terminate_backend) must not crash the process:
          // the query on it rejects (the logger retries), the pool drops it and opens a fresh one.
          pool.on('error', () => undefined);
          pool.on('connect', (client) => client.on('error', () => undefined));
        }
        const k = await loadPeer<KyselyModule>('kysely', 'postgres');
        kysely = new k.Kysely({ dialect: new k.PostgresDialect({ pool }) });
      }
      return { db: kysely, dialect: SQL_DIALECTS.postgres };
    },
    async disconnect() {
      // Destroying Kysely ends the pool: only when the store created it.
      if (!userPool) await kysely?.destroy();
      kysely = undefined;
    },
  });
}
