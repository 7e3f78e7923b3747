import type { Dialect } from 'kysely';
import { loadPeer } from '../peer.js';
import type { AnyKysely, KyselyModule } from './dialect.js';
import { SQL_DIALECTS } from './dialects.js';
import { createSqlStore, type SqlActivityStore, type SqlTableOptions } from './store.js';

/**
 * The PostgreSQL and MySQL stores: a Kysely over the pool the user passed (left open by
 * `close()`), or over one the store opens on first use (and ends on `close()`). @internal
 */
export function createPooledSqlStore<Pool>(config: {
  name: 'postgres' | 'mysql';
  /** Where the database is, without credentials (location.ts). */
  location: string | undefined;
  options: SqlTableOptions;
  userPool: Pool | undefined;
  openPool: () => Promise<Pool>;
  kyselyDialect: (kysely: KyselyModule, pool: Pool) => Dialect;
  partitioning?: 'monthly';
}): SqlActivityStore {
  const { name, options, userPool } = config;
  let kysely: AnyKysely | undefined;
  return createSqlStore({
    name,
    location: config.location,
    subpath: name,
    tableName: options.tableName,
    schema: options.schema,
    migrate: options.migrate,
    partitioning: config.partitioning,
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
