import { ActivityLogError } from '../../../src/errors.js';
import { LIMITS } from '../../../src/schema.js';
import type { AnyKysely, Fragment, IndexDefinition, KyselyModule } from './dialect.js';
import type { SqlStatements } from './statements.js';

/**
 * The schema version this release writes; a table marked with a newer one is refused.
 * 1: the table and its indexes. 2: the hash chain's columns, their index, and the
 * checkpoints table (a table at version 1 is upgraded in place).
 */
export const SCHEMA_VERSION = 2;

/**
 * The secondary indexes. Each ends with the page order (`occurred_at desc`, and `id desc`
 * where the dialect keeps it), so a filtered page is a range of one index.
 */
const CHAIN_INDEX: IndexDefinition = { suffix: 'chain', columns: ['integrity_chain', 'integrity_seq'], nullable: 'integrity_chain', plain: true };

const INDEXES: readonly IndexDefinition[] = [
  { suffix: 'time', columns: [], endsWithId: true },
  { suffix: 'actor', columns: ['actor_id'], nullable: 'actor_id' },
  { suffix: 'action', columns: ['action'] },
  { suffix: 'target', columns: ['target_type', 'target_id'], nullable: 'target_type' },
  { suffix: 'tenant', columns: ['tenant_id'], nullable: 'tenant_id' },
  CHAIN_INDEX,
];

/**
 * The activity table's schema: creation, the recorded version (in `<table>_schema`), and the
 * lock that keeps two processes from migrating at once. @internal
 */
export class SqlMigrations {
  private readonly metaTable: Fragment;

  constructor(
    private readonly k: KyselyModule,
    private readonly statements: SqlStatements,
  ) {
    const name = `${statements.tableName}_schema`;
    this.metaTable = statements.schema ? k.sql.id(statements.schema, name) : k.sql.id(name);
  }

  /** The recorded schema version, or undefined when the table was never migrated. */
  async readVersion(db: AnyKysely): Promise<number | undefined> {
    try {
      const { rows } = await this.k.sql<{ version: unknown }>`select version from ${this.metaTable} where id = 1`.execute(db);
      return rows[0] ? Number(rows[0].version) : undefined;
    } catch (error) {
      if (this.statements.dialect.isMissingTable(error)) return undefined;
      throw error;
    }
  }

  /** Refuses a table written by a newer release; returns the recorded version. */
  async checkVersion(db: AnyKysely): Promise<number | undefined> {
    const version = await this.readVersion(db);
    if (version !== undefined && version > SCHEMA_VERSION) {
      const table = this.statements.tableName;
      throw new ActivityLogError(
        'SCHEMA_VERSION',
        `table "${table}" is at schema version ${version}, newer than this release of activity-log understands (${SCHEMA_VERSION}); upgrade activity-log, or point the store at another table`,
        { details: { table, version, supported: SCHEMA_VERSION } },
      );
    }
    return version;
  }

  /**
   * For a store that does not migrate (`migrate: false`): refuses a table of a newer release,
   * and one of an older release, which lacks columns this release reads and writes (every
   * statement would fail on them, one by one). A table not made yet passes: it is made by
   * whoever migrates.
   */
  async requireCurrent(db: AnyKysely): Promise<void> {
    const version = await this.checkVersion(db);
    if (version === undefined || version >= SCHEMA_VERSION) return;
    const table = this.statements.tableName;
    throw new ActivityLogError(
      'SCHEMA_VERSION',
      `table "${table}" is at schema version ${version}, older than this release of activity-log needs (${SCHEMA_VERSION}), and the store was made with migrate: false; run its migrate() (or "activity-log migrate") to upgrade it in place`,
      { details: { table, version, supported: SCHEMA_VERSION } },
    );
  }

  /** Migrates under the dialect's lock, which serialises migrations across processes. */
  async migrate(db: AnyKysely): Promise<void> {
    // The common case, an up-to-date table, takes no lock.
    if ((await this.checkVersion(db)) === SCHEMA_VERSION) return;
    const { schema, tableName, dialect } = this.statements;
    await dialect.withMigrationLock(this.k, db, { scope: 'activity-log', schema, tableName }, (connection) => this.migrateLocked(connection));
  }

  /** Creates what is missing and records the version. Runs under the caller's lock (or transaction). */
  async migrateLocked(db: AnyKysely): Promise<void> {
    const { sql } = this.k;
    await sql`create table if not exists ${this.metaTable} (id integer primary key, version integer not null)`.execute(db);
    const version = await this.checkVersion(db);
    if (version === SCHEMA_VERSION) return;
    const statements = version === undefined ? await this.createStatements(db) : await this.upgradeStatements(db, version);
    for (const statement of statements) await statement.execute(db);
    if (version === undefined) await sql`insert into ${this.metaTable} (id, version) values (1, ${SCHEMA_VERSION})`.execute(db);
    else await sql`update ${this.metaTable} set version = ${SCHEMA_VERSION} where id = 1`.execute(db);
  }

  /** Version 1: the table and its indexes. */
  private async createStatements(db: AnyKysely): Promise<Fragment[]> {
    const { sql } = this.k;
    const { dialect, table, tableName } = this.statements;
    const text = (max: number) => sql.raw(dialect.textType(max));
    const required = (max: number) => sql.raw(`${dialect.textType(max)} not null`);
    const json = sql.raw(dialect.jsonType);
    const indexes = dialect.indexes(sql, table, tableName, INDEXES, this.statements.schema);
    const inline = indexes.inline.length > 0 ? sql`, ${sql.join(indexes.inline)}` : sql``;
    // A partitioned table's key must hold the partition's column: (id, occurred_at) there.
    const partitioned = this.statements.partitioned;
    const create = sql`create table if not exists ${table} (
        id ${required(64)}${sql.raw(partitioned ? '' : ' primary key')},
        occurred_at ${sql.raw(dialect.timeType)} not null,
        action ${required(LIMITS.action)},
        status ${required(16)},
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
        context ${json},
        integrity_chain ${text(96)},
        integrity_seq ${sql.raw(dialect.bigIntType)},
        integrity_key ${text(64)},
        integrity_prev ${text(64)},
        integrity_hash ${text(64)},
        integrity_proof ${json}${inline}${sql.raw(partitioned ? ', primary key (id, occurred_at)' : '')}
      )${sql.raw(partitioned ? ' partition by range (occurred_at)' : await dialect.tableOptions(this.k, db))}`;
    const partitions = partitioned ? [dialect.partitions!(this.k, tableName, this.statements.schema).createDefault()] : [];
    return [create, ...partitions, ...indexes.statements, await this.createCheckpoints(db)];
  }

  /** From version 1 to 2: the hash chain's columns, their index, and the checkpoints table. */
  private async upgradeStatements(db: AnyKysely, from: number): Promise<Fragment[]> {
    const { sql } = this.k;
    const { dialect, table, tableName } = this.statements;
    if (from !== 1) throw new Error(`no upgrade from schema version ${from}`);
    // Each step is skipped when already done: MySQL commits every ALTER on its own, so an
    // upgrade cut short (a crash, a lock timeout) is taken up where it stopped.
    const columns: [string, string][] = [
      ['integrity_chain', dialect.textType(96)],
      ['integrity_seq', dialect.bigIntType],
      ['integrity_key', dialect.textType(64)],
      ['integrity_prev', dialect.textType(64)],
      ['integrity_hash', dialect.textType(64)],
      ['integrity_proof', dialect.jsonType],
    ];
    const statements: Fragment[] = [];
    for (const [name, type] of columns) {
      if (!(await this.hasColumn(db, name))) statements.push(sql`alter table ${table} add column ${sql.id(name)} ${sql.raw(type)}`);
    }
    if (!(await this.hasColumn(db, 'integrity_seq')) || !(await this.hasChainIndex(db))) statements.push(dialect.addIndex(sql, table, tableName, CHAIN_INDEX, this.statements.schema));
    statements.push(await this.createCheckpoints(db));
    return statements;
  }

  /** Whether the activity table has a column. */
  private hasColumn(db: AnyKysely, name: string): Promise<boolean> {
    const { dialect, schema, tableName } = this.statements;
    return dialect.hasColumn(this.k, db, schema, tableName, name);
  }

  /** Whether the chain index is there. */
  private hasChainIndex(db: AnyKysely): Promise<boolean> {
    const { dialect, schema, tableName } = this.statements;
    return dialect.hasIndex(this.k, db, schema, tableName, `${tableName}_${CHAIN_INDEX.suffix}_idx`);
  }

  /** The checkpoints of the hash chains, one row per checkpoint. */
  private async createCheckpoints(db: AnyKysely): Promise<Fragment> {
    const { sql } = this.k;
    const { dialect, checkpointTable } = this.statements;
    const text = (max: number) => sql.raw(`${dialect.textType(max)} not null`);
    return sql`create table if not exists ${checkpointTable} (
        chain ${text(96)},
        seq ${sql.raw(dialect.bigIntType)} not null,
        hash ${text(64)},
        key_id ${text(64)},
        at ${text(32)},
        signature ${text(64)},
        primary key (chain, seq)
      )${sql.raw(await dialect.tableOptions(this.k, db))}`;
  }
}
