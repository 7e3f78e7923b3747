import type { CompiledQuery } from 'kysely';
import type { CursorPosition } from '../../../src/cursor.js';
import type { IntegrityCheckpoint } from '../../../src/integrity/options.js';
import { ActivityLogError } from '../../../src/errors.js';
import { actionPrefix, asciiLowerCase, type StoreQuery } from '../../../src/query.js';
import { METADATA_KEY_PATTERN } from '../../../src/schema.js';
import type {
  ActivityRecord,
  ActivityStatus,
  NormalizedActivityFilter,
  NormalizedPurgeOptions,
  PurgeException,
  NormalizedSummaryQuery,
  SummaryBucket,
} from '../../../src/schema.js';
import type { ChainPageQuery, CheckpointPageQuery } from '../../../src/store.js';
import { NO_KEY, SummaryCounter, timeBucketing, type TimeBucketing } from '../../../src/summary.js';
import { isUtc } from '../../../src/time-zone.js';
import { COLUMN_KINDS, COLUMNS, rowValues, type SelectedRow } from './columns.js';
import type { AnyKysely, Fragment, KyselyModule, SqlDialect } from './dialect.js';
import { oversizedRow, rowBudget, rowBytesAtMost } from './statement-size.js';

/** The columns of the checkpoints table, in insert order. */
const CHECKPOINT_COLUMNS = ['chain', 'seq', 'hash', 'key_id', 'at', 'signature'] as const;

/** A year, in milliseconds: the margin of a zoned summary's range around the stored times. */
const YEAR_MS = 366 * 24 * 60 * 60 * 1000;

/** Rows per insert statement at most, whatever the parameter limit allows. */
const MAX_ROWS_PER_INSERT = 1000;

/** The column a summary groups by, for the dimensions that are not times. */
const GROUPED_COLUMN = { action: 'action', status: 'status', actorType: 'actor_type' } as const;

/** A summary's grouped row: the bucket, a status and how many records. */
export interface SummaryRow {
  k: unknown;
  status: ActivityStatus;
  n: unknown;
}

const ID_KEY = ['id'] as const;
const PARTITIONED_KEY = ['id', 'occurred_at'] as const;

/**
 * The statements of one activity table on one database: activity-log's semantics (filters,
 * keyset pages, counts, summaries, bounded purges, inserts that skip known ids) in SQL, with
 * every value bound. What differs between databases comes from the dialect. @internal
 */
export class SqlStatements {
  /** The table, quoted, for statements built from text. */
  readonly quotedTable: string;
  /** The table, for statements built with Kysely's `sql` tag. */
  readonly table: Fragment;
  /** The checkpoints of the hash chains: `<table>_checkpoints`. */
  readonly checkpointTable: Fragment;
  /** Leases of background work (retention): `<table>_leases`. */
  readonly leaseTable: Fragment;
  private readonly quotedCheckpointTable: string;
  private readonly insertTexts = new Map<number, string>();
  /**
   * The largest statement the server takes, where it has such a limit (MySQL's
   * `max_allowed_packet`, read at connect): inserts are split to stay under it, and a row that
   * cannot fit alone is refused for its content before it is sent.
   */
  maxStatementBytes: number | undefined;
  /** The insert that binds one array per column, where the dialect has it: one text for any row count. */
  private columnInsertText: string | undefined;

  constructor(
    private readonly k: KyselyModule,
    readonly dialect: SqlDialect,
    readonly tableName: string,
    readonly schema: string | undefined,
    /** The table is partitioned by time: its key is (id, occurred_at), as PostgreSQL requires of a partitioned table. */
    readonly partitioned = false,
  ) {
    this.quotedTable = schema ? dialect.quote(schema, tableName) : dialect.quote(tableName);
    this.table = schema ? k.sql.id(schema, tableName) : k.sql.id(tableName);
    const checkpoints = `${tableName}_checkpoints`;
    this.checkpointTable = schema ? k.sql.id(schema, checkpoints) : k.sql.id(checkpoints);
    this.quotedCheckpointTable = schema ? dialect.quote(schema, checkpoints) : dialect.quote(checkpoints);
    const leases = `${tableName}_leases`;
    this.leaseTable = schema ? k.sql.id(schema, leases) : k.sql.id(leases);
  }

  // ---- writes ---------------------------------------------------------------------------

  /** What names a row: its id, or its id and time in a partitioned table (whose key must hold the time). */
  get rowKey(): readonly string[] {
    return this.partitioned ? PARTITIONED_KEY : ID_KEY;
  }

  /**
   * The records of a batch whose id is not stored yet, each id once. A partitioned table's key
   * is (id, occurred_at), so its insert alone would store an id again under another time; this
   * read keeps ids unique there as everywhere (two writers racing on one id at two times
   * could still both store it).
   */
  async withoutStoredIds<R extends { id: string }>(db: AnyKysely, records: readonly R[]): Promise<R[]> {
    const { sql } = this.k;
    const ids = [...new Set(records.map((record) => record.id))];
    const { rows } = await sql<{ id: string }>`select id from ${this.table} where id = any(${ids})`.execute(db);
    const taken = new Set(rows.map((row) => row.id));
    return records.filter((record) => !taken.has(record.id) && (taken.add(record.id), true));
  }

  /** The values of one record as this database binds them. */
  values(record: ActivityRecord): unknown[] {
    return rowValues(record, this.dialect.encodeTime);
  }

  /** The insert statements of a batch, each under the bound-parameter limit. */
  insertChunks(records: readonly ActivityRecord[]): CompiledQuery[] {
    if (this.dialect.insertColumnsIgnoringDuplicates) return this.columnChunks(records);
    const rowsPerStatement = Math.min(MAX_ROWS_PER_INSERT, Math.floor(this.dialect.maxBindParameters / COLUMNS.length));
    const rows = records.map((record) => this.values(record));
    const { maxStatementBytes } = this;
    if (maxStatementBytes !== undefined) {
      const refusal = oversizedRow(records, rows, maxStatementBytes, this.dialect.name);
      if (refusal) throw refusal;
    }
    const budget = maxStatementBytes === undefined ? Infinity : rowBudget(maxStatementBytes);
    const chunks: CompiledQuery[] = [];
    let parameters: unknown[] = [];
    let rowCount = 0;
    let bytes = 0;
    const endStatement = () => {
      if (rowCount > 0) chunks.push(this.k.CompiledQuery.raw(this.insertText(rowCount), parameters));
      [parameters, rowCount, bytes] = [[], 0, 0];
    };
    for (const values of rows) {
      // Counted only under a statement size, by the cheap bound. A row whose bound is over the
      // budget fits alone (oversizedRow counted it exactly), so it gets a statement of its own.
      const rowBytes = budget === Infinity ? 0 : Math.min(rowBytesAtMost(values), budget);
      if (rowCount === rowsPerStatement || (rowCount > 0 && bytes + rowBytes > budget)) endStatement();
      for (const value of values) parameters.push(value);
      rowCount++;
      bytes += rowBytes;
    }
    endStatement();
    return chunks;
  }

  /** {@link insertChunks} with each statement's rows bound as one array per column. */
  private columnChunks(records: readonly ActivityRecord[]): CompiledQuery[] {
    this.columnInsertText ??= this.dialect.insertColumnsIgnoringDuplicates!(this.quotedTable, COLUMNS, COLUMNS.map((column) => COLUMN_KINDS[column]), this.rowKey);
    const chunks: CompiledQuery[] = [];
    for (let start = 0; start < records.length; start += MAX_ROWS_PER_INSERT) {
      const end = Math.min(records.length, start + MAX_ROWS_PER_INSERT);
      const columns: unknown[][] = COLUMNS.map(() => new Array<unknown>(end - start));
      for (let i = start; i < end; i++) {
        const values = this.values(records[i]!);
        for (let c = 0; c < values.length; c++) columns[c]![i - start] = values[c];
      }
      chunks.push(this.k.CompiledQuery.raw(this.columnInsertText, columns));
    }
    return chunks;
  }

  /** The text of an n-row insert that skips known ids, built once per row count. */
  insertText(rows: number): string {
    let text = this.insertTexts.get(rows);
    if (text === undefined) {
      text = this.dialect.insertIgnoringDuplicates(this.quotedTable, COLUMNS, rows, this.rowKey);
      if (this.insertTexts.size > 32) this.insertTexts.clear();
      this.insertTexts.set(rows, text);
    }
    return text;
  }

  /** One bounded purge statement, the oldest rows first; run it until it deletes fewer than `batch` rows. */
  purgeBatch(options: NormalizedPurgeOptions, batch: number): Fragment {
    const { sql } = this.k;
    const where = this.where({ to: options.before, tenantId: options.tenantId, action: options.action });
    const kept = (options.except ?? []).map((exception) => sql`not (${this.exceptionMatch(exception)})`);
    return this.dialect.boundedDelete(sql, this.table, sql.join([where, ...kept], sql` and `), batch, this.rowKey);
  }

  /**
   * The records an exception keeps. Never NULL, so that `not (...)` is true for every other
   * record: a row without a tenant is not "of tenant t1", where `tenant_id = 't1'` alone
   * would be NULL and `not NULL` would spare it.
   */
  private exceptionMatch(exception: PurgeException): Fragment {
    const { sql } = this.k;
    const conditions: Fragment[] = [];
    if (exception.tenantId !== undefined) conditions.push(sql`(tenant_id is not null and tenant_id = ${exception.tenantId})`);
    if (exception.action !== undefined) conditions.push(this.actionMatch(exception.action));
    return sql.join(conditions, sql` and `);
  }

  /** `action` equal to a name, or starting with a prefix (`recipe.*`). */
  private actionMatch(action: string): Fragment {
    const { sql } = this.k;
    const prefix = actionPrefix(action);
    return prefix === undefined ? sql`action = ${action}` : sql`action like ${`${escapeLike(prefix)}%`} escape '!'`;
  }

  /**
   * The `search` filter: a LIKE scan of the action, actor name and target name, A-Z folded on
   * both sides and nothing else (the dialect's `asciiLower`), as the memory store does.
   */
  private searchMatch(search: string): Fragment {
    const { sql } = this.k;
    const pattern = `%${escapeLike(asciiLowerCase(search))}%`;
    const like = (column: string) => sql`${this.dialect.asciiLower(sql, column)} like ${pattern} escape '!'`;
    return sql`(${like('action')} or ${like('actor_name')} or ${like('target_name')})`;
  }

  /** Creates the leases table, `<table>_leases`, when missing. */
  async createLeases(db: AnyKysely): Promise<void> {
    const { sql } = this.k;
    const text = (max: number) => sql.raw(`${this.dialect.textType(max)} not null`);
    const options = await this.dialect.tableOptions(this.k, db);
    await sql`create table if not exists ${this.leaseTable} (name ${text(64)} primary key, holder ${text(64)}, expires_at ${sql.raw(this.dialect.bigIntType)} not null)${sql.raw(options)}`.execute(db);
  }

  /** Takes or renews a lease (see `ActivityStore.lease`); whether `holder` has it now. */
  async takeLease(db: AnyKysely, name: string, holder: string, ttlMs: number): Promise<boolean> {
    const { sql } = this.k;
    const now = Date.now();
    await this.dialect.takeLease(sql, this.leaseTable, { name, holder, now, expiresAt: now + ttlMs }).execute(db);
    // Read back rather than count affected rows: MySQL counts an unchanged row as 0, a changed one as 2.
    const { rows } = await sql<{ holder: string }>`select holder from ${this.leaseTable} where name = ${name}`.execute(db);
    return rows[0]?.holder === holder;
  }

  /** An erasure's rewrite of one record: the columns personal values live in. */
  eraseUpdate(record: ActivityRecord): Fragment {
    const { sql } = this.k;
    const values = this.values(record);
    const at = (column: (typeof COLUMNS)[number]) => values[COLUMNS.indexOf(column)];
    return sql`update ${this.table} set actor_name = ${at('actor_name')}, target_name = ${at('target_name')}, context = ${at('context')}, metadata = ${at('metadata')}, changes = ${at('changes')}, integrity_proof = ${at('integrity_proof')} where id = ${record.id}`;
  }

  /** The insert of checkpoints, one already kept skipped. */
  insertCheckpoints(checkpoints: readonly IntegrityCheckpoint[]): CompiledQuery {
    const text = this.dialect.insertIgnoringDuplicates(this.quotedCheckpointTable, CHECKPOINT_COLUMNS, checkpoints.length, ['chain', 'seq']);
    const parameters = checkpoints.flatMap((c) => [c.chain, c.seq, c.hash, c.keyId, c.at, c.signature]);
    return this.k.CompiledQuery.raw(text, parameters);
  }

  selectCheckpoints({ chain, after, limit }: CheckpointPageQuery) {
    const { sql } = this.k;
    const conditions: Fragment[] = [];
    if (chain !== undefined) conditions.push(sql`chain = ${chain}`);
    if (after !== undefined) conditions.push(sql`(chain > ${after.chain} or (chain = ${after.chain} and seq > ${after.seq}))`);
    const where = conditions.length === 0 ? sql`1 = 1` : sql.join(conditions, sql` and `);
    // One chain's ordered by place alone, as its records are (see selectChainPage).
    const order = chain !== undefined ? sql`seq` : sql`chain, seq`;
    return sql<{ chain: string; seq: unknown; hash: string; key_id: string; at: string; signature: string }>`select chain, seq, hash, key_id, at, signature from ${this.checkpointTable} where ${where} order by ${order} limit ${limit}`;
  }

  // ---- reads ----------------------------------------------------------------------------

  /**
   * Sealed records in chain order (see ActivityStore.chainPage). The position after which to read is either within one chain
   * (`rest: 'same-chain'`: that chain, after a sequence number) or past it (`'next-chains'`:
   * chains after it): each is one range of the chain index on every database, where an `or`
   * of both would scan the index from its start on some.
   */
  selectChainPage({ chain, from, to, after, limit }: ChainPageQuery, rest: 'same-chain' | 'next-chains' = 'same-chain') {
    const { sql } = this.k;
    const time = this.dialect.encodeTime;
    const conditions: Fragment[] = [sql`integrity_chain is not null`];
    if (chain !== undefined) conditions.push(sql`integrity_chain = ${chain}`);
    if (from !== undefined) conditions.push(sql`occurred_at >= ${time(from.getTime())}`);
    if (to !== undefined) conditions.push(sql`occurred_at < ${time(to.getTime())}`);
    if (after !== undefined && rest === 'next-chains') conditions.push(sql`integrity_chain > ${after.chain}`);
    else if (after !== undefined && after.id === undefined) conditions.push(sql`integrity_chain = ${after.chain} and integrity_seq > ${after.seq}`);
    else if (after !== undefined && this.partitioned && after.occurredAt !== undefined) {
      // A partitioned table's key is the id and the time: copies of one id may sit at one place.
      // From the position's millisecond on (verify() passes over what it has read), so none is
      // skipped whatever the precision of its time.
      conditions.push(
        sql`integrity_chain = ${after.chain} and integrity_seq >= ${after.seq} and (integrity_seq > ${after.seq} or id > ${after.id} or (id = ${after.id} and occurred_at >= ${time(after.occurredAt.getTime())}))`,
      );
    } else if (after !== undefined) {
      // Records at the same place come in id order: one range of the chain index (whose entries
      // end with the primary key on InnoDB; SQLite and PostgreSQL sort only the ties).
      conditions.push(sql`integrity_chain = ${after.chain} and integrity_seq >= ${after.seq} and (integrity_seq > ${after.seq} or id > ${after.id})`);
    }
    // Within one chain, ordered without it: MariaDB sorts every row of the chain for each page
    // (a filesort) when the order names the column its equality already fixes. Copies of one id
    // (partitioned tables only) in time order.
    const oneChain = chain !== undefined || (after !== undefined && rest === 'same-chain');
    const ties = this.partitioned ? sql`id, occurred_at` : sql`id`;
    const order = oneChain ? sql`integrity_seq, ${ties}` : sql`integrity_chain, integrity_seq, ${ties}`;
    return sql<SelectedRow>`select ${this.selectList()} from ${this.table} where ${sql.join(conditions, sql` and `)} order by ${order} limit ${limit}`;
  }

  /** One page in page order; `forUpdate` locks its rows for the rest of the caller's transaction. */
  selectPage(query: StoreQuery, forUpdate = false) {
    const { sql } = this.k;
    const lock = forUpdate ? this.dialect.lockForUpdate(sql) : sql``;
    return sql<SelectedRow>`select ${this.selectList()} from ${this.table} where ${this.where(query, query.after)} order by occurred_at desc, id desc limit ${query.limit + 1}${lock}`;
  }

  selectById(id: string) {
    const { sql } = this.k;
    return sql<SelectedRow>`select ${this.selectList()} from ${this.table} where id = ${id}`;
  }

  count(filter: NormalizedActivityFilter) {
    const { sql } = this.k;
    return sql<{ n: unknown }>`select count(*) as n from ${this.table} where ${this.where(filter)}`;
  }

  /**
   * How {@link summarize} groups time buckets; `undefined` for the other dimensions. In a zone
   * other than UTC, its units are chosen over the summary's range: the query's `from` and
   * `to`, narrowed to the stored times (two reads of the time index, whatever the filter).
   * Narrowed because working out a zone's units costs time for every year of the range: a
   * caller's `from=0001&to=9999`, with a handful of records, held the event loop for 40 s.
   * A year of margin at each end keeps the units exact for records written meanwhile.
   */
  async timeBucketing(db: AnyKysely, query: NormalizedSummaryQuery): Promise<TimeBucketing | undefined> {
    if (query.by !== 'hour' && query.by !== 'day') return undefined;
    if (isUtc(query.tz)) return timeBucketing(query.by, query.tz);
    const oldest = await this.storedEnd(db, 'asc');
    const newest = await this.storedEnd(db, 'desc');
    if (oldest === undefined || newest === undefined) return timeBucketing(query.by, query.tz);
    const fromMs = Math.max(query.from?.getTime() ?? -Infinity, oldest - YEAR_MS);
    const toMs = Math.min(query.to === undefined ? Infinity : query.to.getTime() - 1, Math.max(newest, Date.now()) + YEAR_MS);
    // No stored time in the range: nothing to group, any unit will do.
    return timeBucketing(query.by, query.tz, fromMs <= toMs ? { fromMs, toMs } : undefined);
  }

  /** The oldest (`asc`) or newest (`desc`) stored time, in epoch milliseconds. */
  private async storedEnd(db: AnyKysely, order: 'asc' | 'desc'): Promise<number | undefined> {
    const { sql } = this.k;
    const { rows } = await sql<{ ms: unknown }>`select ${this.dialect.epochMs(sql)} as ms from ${this.table} order by occurred_at ${sql.raw(order)} limit 1`.execute(db);
    return rows[0] === undefined ? undefined : Number(rows[0].ms);
  }

  summarize(query: NormalizedSummaryQuery, time?: TimeBucketing) {
    const { sql } = this.k;
    // Time buckets group by UTC units (the bucket itself in UTC; in another zone, units that
    // each fall in one of its hours), which toBuckets() then places in the zone's hours or
    // days: no database has to know the zone (SQLite cannot, MySQL only with its zone tables
    // loaded). Several segments are one CASE, in time order.
    const key = time !== undefined ? this.unitStart(time) : sql.id(GROUPED_COLUMN[query.by as keyof typeof GROUPED_COLUMN]);
    // Positional GROUP BY: the key expression appears once, so PostgreSQL accepts it as is.
    return sql<SummaryRow>`select ${key} as k, status, count(*) as n from ${this.table} where ${this.where(query)} group by 1, 2`;
  }

  private unitStart({ segments }: TimeBucketing): Fragment {
    const { sql } = this.k;
    const last = segments[segments.length - 1]!;
    if (segments.length === 1) return this.dialect.unitStart(sql, last.unitMs);
    const branches = segments.slice(0, -1).map(({ untilMs, unitMs }) => sql`when occurred_at < ${this.dialect.encodeTime(untilMs!)} then ${this.dialect.unitStart(sql, unitMs)}`);
    return sql`(case ${sql.join(branches, sql` `)} else ${this.dialect.unitStart(sql, last.unitMs)} end)`;
  }

  /** The grouped rows of {@link summarize} as buckets. */
  toBuckets(rows: readonly SummaryRow[], by: NormalizedSummaryQuery['by'], time?: TimeBucketing): SummaryBucket[] {
    const counter = new SummaryCounter(by);
    for (const row of rows) {
      const key = time !== undefined ? time.key(Number(row.k)) : row.k === null || row.k === undefined ? NO_KEY : String(row.k);
      counter.add(key, row.status, Number(row.n));
    }
    return counter.result();
  }

  private selectList(): Fragment {
    const { sql } = this.k;
    const columns = COLUMNS.map((column) =>
      // Aliased apart from the column, so ORDER BY occurred_at still means the indexed column.
      column === 'occurred_at' ? sql`${this.dialect.epochMs(sql)} as occurred_at_ms` : sql.id(column),
    );
    return sql.join(columns);
  }

  /** The WHERE condition of a filter, and of the cursor when paging. */
  private where(filter: NormalizedActivityFilter, after?: CursorPosition): Fragment {
    const { sql } = this.k;
    const time = this.dialect.encodeTime;
    const conditions: Fragment[] = [];
    if (filter.actorType !== undefined) conditions.push(sql`actor_type = ${filter.actorType}`);
    if (filter.actorId !== undefined) conditions.push(sql`actor_id = ${filter.actorId}`);
    if (filter.action !== undefined) conditions.push(this.actionMatch(filter.action));
    if (filter.status !== undefined) conditions.push(sql`status = ${filter.status}`);
    if (filter.targetType !== undefined) conditions.push(sql`target_type = ${filter.targetType}`);
    if (filter.targetId !== undefined) conditions.push(sql`target_id = ${filter.targetId}`);
    if (filter.tenantId !== undefined) conditions.push(sql`tenant_id = ${filter.tenantId}`);
    if (filter.from !== undefined) conditions.push(sql`occurred_at >= ${time(filter.from.getTime())}`);
    if (filter.to !== undefined) conditions.push(sql`occurred_at < ${time(filter.to.getTime())}`);
    if (filter.excludeAction !== undefined) {
      const status = filter.excludeActionStatus === undefined ? sql`` : sql` and status = ${filter.excludeActionStatus}`;
      conditions.push(sql`not (${this.actionMatch(filter.excludeAction)}${status})`);
    }
    // Read from the JSON context column: no index, so they scan what the other filters leave.
    if (filter.requestId !== undefined) conditions.push(this.dialect.contextEquals(sql, 'requestId', filter.requestId));
    if (filter.traceId !== undefined) conditions.push(this.dialect.contextEquals(sql, 'traceId', filter.traceId));
    if (filter.search !== undefined) conditions.push(this.searchMatch(filter.search));
    if (after !== undefined) {
      // Expanded rather than a row comparison, so every database uses the (..., occurred_at, id) indexes.
      const stored = after.storedTime === undefined ? undefined : this.dialect.storedTimeParameter(after.storedTime);
      const at = stored ?? time(after.occurredAtMs);
      conditions.push(sql`occurred_at <= ${at} and (occurred_at < ${at} or id < ${after.id})`);
    }
    for (const [key, value] of Object.entries(filter.metadata ?? {})) {
      // The query parser checks keys already; a store called directly must not build SQL from one either.
      if (!METADATA_KEY_PATTERN.test(key)) {
        throw new ActivityLogError('INVALID_QUERY', `metadata: keys must be identifiers (letters, digits, "_"), got ${JSON.stringify(key)}`);
      }
      conditions.push(this.dialect.metadataEquals(sql, key, value));
    }
    return conditions.length === 0 ? sql`1 = 1` : sql.join(conditions, sql` and `);
  }
}

/** `!` is the LIKE escape character: it needs no escaping itself in any SQL string literal. */
function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (char) => `!${char}`);
}
