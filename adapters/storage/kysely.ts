import { ActivityLogError } from '../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import type { AnyKysely, SqlDialectName } from './sql/dialect.js';
import { detectDialectName, SQL_DIALECTS } from './sql/dialects.js';
import { createSqlStore, isKysely, type SqlActivityStore, type SqlTableOptions } from './sql/store.js';
import { uninstrumented } from './capture/connections.js';

export { captureChanges, removeChangeCapture, type CaptureChangesOptions, type CaptureInstallation, type RemoveChangeCaptureOptions } from './capture/install.js';
export type { CapturedTableOptions, CapturedTables } from './capture/model.js';

export type { SqlDialectName } from './sql/dialect.js';
export { SCHEMA_VERSION } from './sql/migrations.js';
export type { SqlActivityStore, SqlTableOptions } from './sql/store.js';

/** Options of {@link kyselyStore}. */
export interface KyselyStoreOptions extends SqlTableOptions {
  /** Your Kysely instance. The store never destroys it: its pool and lifecycle stay yours. */
  db: AnyKysely;
  /**
   * The database behind `db`.
   * @default detected from the Kysely dialect's adapter
   */
  dialect?: SqlDialectName;
}

/** The options of {@link KyselyStoreOptions}, for the check that refuses others. */
const KYSELY_STORE_OPTIONS = optionNames<KyselyStoreOptions>()(['db', 'dialect', 'tableName', 'schema', 'migrate']);

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
  refuseUnknownOptions('kyselyStore', options, KYSELY_STORE_OPTIONS);
  const { db, dialect } = options;
  if (dialect !== undefined && !Object.hasOwn(SQL_DIALECTS, dialect)) {
    throw new ActivityLogError('INVALID_OPTIONS', `kyselyStore: dialect must be one of ${Object.keys(SQL_DIALECTS).join(', ')}, got ${JSON.stringify(dialect)}`);
  }
  return createSqlStore({
    name: 'kysely',
    subpath: 'kysely',
    tableName: options.tableName,
    schema: options.schema,
    migrate: options.migrate,
    // Without the user's plugins: a CamelCasePlugin, say, would rename the columns this store reads.
    // And without change capture's context (see capture/connections.ts): the log table has no triggers.
    connect: async () => ({ db: uninstrumented(() => db.withoutPlugins()), dialect: SQL_DIALECTS[dialect ?? detectDialect(db)] }),
  });
}

/** Which database a Kysely instance talks to, from its dialect's adapter. */
export function detectDialect(db: AnyKysely): SqlDialectName {
  const name = detectDialectName(db);
  if (!name) {
    throw new ActivityLogError('INVALID_OPTIONS', 'kyselyStore: supports PostgreSQL, MySQL/MariaDB and SQLite dialects; pass { dialect } if yours is one of them');
  }
  return name;
}
