import type { AnyKysely, SqlDialect, SqlDialectName } from './dialect.js';
import { mysqlDialect } from './mysql.js';
import { postgresDialect } from './postgres.js';
import { sqliteDialect } from './sqlite.js';

/** The dialect of each supported database. @internal */
export const SQL_DIALECTS: Readonly<Record<SqlDialectName, SqlDialect>> = {
  sqlite: sqliteDialect,
  postgres: postgresDialect,
  mysql: mysqlDialect,
};

/**
 * Which database a Kysely instance talks to, from its dialect's adapter: by the class name of
 * Kysely's own adapters, else by the flags every adapter declares. `undefined` when it is none
 * of the three.
 */
export function detectDialectName(db: AnyKysely): SqlDialectName | undefined {
  const adapter = db.getExecutor().adapter;
  const name = adapter.constructor?.name ?? '';
  if (/postgres/i.test(name)) return 'postgres';
  if (/mysql/i.test(name)) return 'mysql';
  if (/sqlite/i.test(name)) return 'sqlite';
  // An adapter of another package (MSSQL's adapter supports OUTPUT, none of ours does).
  if (adapter.supportsOutput) return undefined;
  if (!adapter.supportsReturning) return 'mysql';
  return adapter.supportsTransactionalDdl ? 'postgres' : 'sqlite';
}

/** The dialect of a Kysely instance, when it is one of the three. */
export function dialectOf(db: AnyKysely): SqlDialect | undefined {
  const name = detectDialectName(db);
  return name === undefined ? undefined : SQL_DIALECTS[name];
}
