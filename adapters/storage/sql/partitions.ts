import { doubleQuote, type AnyKysely, type Fragment, type KyselyModule, type TablePartitions } from './dialect.js';

/** Months of partitions kept ready ahead of the current one. */
export const MONTHS_AHEAD = 3;

/** Longest wait for the table's lock when a month is detached or attached: inserts queue behind it meanwhile. */
export const DETACH_LOCK_TIMEOUT = 200;
const DETACH_ATTEMPTS = 3;
/** SQLSTATE lock_not_available: the lock timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Monthly partitions of a PostgreSQL activity table (`postgresStore({ partitioning: 'monthly' })`):
 * the table is partitioned by range of `occurred_at`, one partition per UTC month named
 * `<table>_pYYYYMM`, and a default partition, `<table>_default`, takes any record no month
 * partition covers (one logged far in the past, or past the months made ahead), so an insert
 * never fails for want of a partition. Retention drops whole month partitions (see
 * `ActivityStore.dropPartitions`). @internal
 */
export class MonthlyPartitions implements TablePartitions {
  private readonly parent: Fragment;
  private readonly qualifiedParent: string;

  constructor(
    private readonly k: KyselyModule,
    private readonly tableName: string,
    private readonly schema: string | undefined,
  ) {
    this.parent = this.id(tableName);
    this.qualifiedParent = schema ? doubleQuote(schema, tableName) : doubleQuote(tableName);
  }

  /** Whether the table is partitioned (`relkind` 'p'), plain, or not made yet. */
  async tableKind(db: AnyKysely): Promise<'partitioned' | 'plain' | 'missing'> {
    const { rows } = await this.k.sql<{ kind: string }>`select c.relkind::text as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relname = ${this.tableName} and n.nspname = coalesce(${this.schema ?? null}::text, current_schema())`.execute(db);
    const kind = rows[0]?.kind;
    return kind === undefined ? 'missing' : kind === 'p' ? 'partitioned' : 'plain';
  }

  /** The statements that follow the partitioned table's creation: its default partition. */
  createDefault(): Fragment {
    return this.k.sql`create table if not exists ${this.id(`${this.tableName}_default`)} partition of ${this.parent} default`;
  }

  /**
   * Makes the partitions of this month and the next {@link MONTHS_AHEAD}, each under the
   * migration lock. A month whose records already went to the default partition has them
   * moved into its new partition in the same transaction.
   */
  async ensureAhead(db: AnyKysely, now: number, lockName: string): Promise<void> {
    const start = monthStart(now);
    for (let i = 0; i <= MONTHS_AHEAD; i++) await this.ensureMonth(db, addMonths(start, i), lockName);
  }

  /**
   * Detaches and drops every month partition whose whole month is before `before`; returns
   * how many records they held. Detaching waits for the table's running statements (a long
   * report, an export) and every insert queues behind it meanwhile, so it waits at most
   * {@link DETACH_LOCK_TIMEOUT}, a few times: a month it cannot take is left for the batched
   * deletes that follow, and its empty partition for the next pass.
   */
  async dropBefore(db: AnyKysely, before: Date): Promise<number> {
    const { sql } = this.k;
    // Every month table, attached or not: one left detached by a pass that stopped between its
    // detach and its drop (a crash, a lost connection) is finished now.
    const { rows } = await sql<{ name: string; attached: boolean }>`select c.relname as name,
        exists (select 1 from pg_inherits i where i.inhrelid = c.oid and i.inhparent = to_regclass(${this.qualifiedParent})) as attached
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname = coalesce(${this.schema ?? null}::text, current_schema())
        and c.relname like ${`${this.tableName.replace(/_/g, '\\_')}\\_p%`} order by c.relname`.execute(db);
    const pattern = new RegExp(`^${this.tableName}_p(\\d{4})(\\d{2})$`);
    let removed = 0;
    for (const { name, attached } of rows) {
      const match = pattern.exec(name);
      if (!match) continue;
      const end = addMonths(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1), 1);
      if (end > before.getTime()) continue;
      removed += (attached ? await this.dropMonth(db, name) : await this.dropDetached(db, name)) ?? 0;
    }
    return removed;
  }

  /** Drops a detached month table; how many records it held. */
  private async dropDetached(db: AnyKysely, name: string): Promise<number> {
    const { sql } = this.k;
    const counted = await sql<{ n: unknown }>`select count(*) as n from ${this.id(name)}`.execute(db);
    await sql`drop table ${this.id(name)}`.execute(db);
    return Number(counted.rows[0]?.n ?? 0);
  }

  /** Detaches and drops one month; how many records it held, or undefined when the lock was not to be had. */
  private async dropMonth(db: AnyKysely, name: string): Promise<number | undefined> {
    const { sql } = this.k;
    for (let attempt = 1; ; attempt++) {
      try {
        await db.transaction().execute(async (trx) => {
          await sql`set local lock_timeout = ${sql.lit(`${DETACH_LOCK_TIMEOUT}ms`)}`.execute(trx);
          await sql`alter table ${this.parent} detach partition ${this.id(name)}`.execute(trx);
        });
        // Counted once detached, outside the table's lock (counting a month takes a while, and
        // every insert would wait for it), and exactly: no insert reaches a detached table.
        return await this.dropDetached(db, name);
      } catch (error) {
        if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw error;
        if (attempt >= DETACH_ATTEMPTS) return undefined;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }

  private async ensureMonth(db: AnyKysely, from: number, lockName: string): Promise<void> {
    const { sql } = this.k;
    const name = `${this.tableName}_p${new Date(from).toISOString().slice(0, 7).replace('-', '')}`;
    const partition = this.id(name);
    const lower = new Date(from).toISOString();
    const upper = new Date(addMonths(from, 1)).toISOString();
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${lockName}))`.execute(trx);
      // Attaching locks the default partition (its inserts wait meanwhile): briefly, or not now.
      await sql`set local lock_timeout = ${sql.lit(`${DETACH_LOCK_TIMEOUT * 5}ms`)}`.execute(trx);
      const exists = await sql`select 1 as found from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relname = ${name} and n.nspname = coalesce(${this.schema ?? null}::text, current_schema())`.execute(trx);
      if (exists.rows.length > 0) return;
      const fallback = this.id(`${this.tableName}_default`);
      // Made apart and attached, so that rows of this month already in the default partition move with it.
      await sql`create table ${partition} (like ${this.parent} including defaults including constraints)`.execute(trx);
      await sql`insert into ${partition} select * from ${fallback} where occurred_at >= ${lower} and occurred_at < ${upper}`.execute(trx);
      await sql`delete from ${fallback} where occurred_at >= ${lower} and occurred_at < ${upper}`.execute(trx);
      await sql`alter table ${this.parent} attach partition ${partition} for values from (${sql.lit(lower)}) to (${sql.lit(upper)})`.execute(trx);
    });
  }

  private id(name: string): Fragment {
    return this.schema ? this.k.sql.id(this.schema, name) : this.k.sql.id(name);
  }
}

/** The start of the UTC month of `ms`. */
function monthStart(ms: number): number {
  return addMonths(ms, 0);
}

function addMonths(ms: number, months: number): number {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1);
}
