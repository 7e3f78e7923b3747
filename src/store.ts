import type { IntegrityCheckpoint } from './integrity/options.js';
import type { StoreQuery } from './query.js';
import type {
  ActivityPage,
  ActivityRecord,
  NormalizedActivityFilter,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  SummaryBucket,
} from './schema.js';

/**
 * The contract every storage adapter implements. Four methods are required; the others are
 * optional, and a store that has one supports it: the logger calls `count`, `summarize` and
 * `insertInTransaction` when they are there and answers `UNSUPPORTED` when they are not.
 *
 * Stores receive validated input: the logger and the query helpers of `activity-log/store`
 * (`parseActivityQuery`, `toPage`, `encodeCursor`) do validation and paging for them. The
 * conformance suite in `activity-log/testing` checks a store against this contract.
 */
export interface ActivityStore {
  /** A short name for messages, such as `memory` or `sqlite`. */
  readonly name: string;
  /**
   * Where its records are, without credentials: `127.0.0.1:5432/audit` for a server, a file's
   * absolute path. Optional; with it, a spool file tells this store's log apart from a table of
   * the same name in another database.
   */
  readonly location?: string | undefined;
  /** What this store can do that no method's presence tells. Absent: none of it. */
  readonly capabilities?: StoreCapabilities;

  /**
   * Writes a batch, all or nothing. A record whose id is already stored is skipped, so a
   * retried batch never duplicates a record. Rejects on failure; the logger retries. A batch
   * refused for the content of its records (not for a connection or a lock) rejects with an
   * `ActivityLogError` of code `RECORD_REJECTED`: the logger then writes the rest of the batch
   * without the offenders, and never retries or spools them.
   */
  insert(records: readonly ActivityRecord[]): Promise<void>;

  /**
   * One page, newest first (`occurredAt` desc, then `id` desc). Fetch `limit + 1` and return
   * `toPage(records, limit)` so the last page has no `nextCursor`.
   */
  query(query: StoreQuery): Promise<ActivityPage>;

  /** One record by id. */
  get(id: string): Promise<ActivityRecord | undefined>;

  /**
   * Deletes records older than `before` (optionally of one tenant or action) in short
   * statements, and returns how many. A store with the `purgeExcept` capability leaves alone
   * every record matching one of `except`; one without it is never given `except`. With
   * `limit`, deletes at most that many (the rest at a next call): the logger's retention
   * purges this way, a slice at a time.
   */
  purge(options: NormalizedPurgeOptions): Promise<number>;

  /**
   * Drops whole partitions of the table whose records are all older than `before` (a table
   * partitioned by time, such as `postgresStore({ partitioning: 'monthly' })`), far cheaper
   * than deleting their rows; returns how many records they held, 0 when the table is not
   * partitioned. Retention calls it before its deletes.
   */
  dropPartitions?(before: Date): Promise<number>;

  /**
   * Takes the lease called `name` for `holder` until `ttlMs` from now, when it is free,
   * expired, or already `holder`'s (then it is renewed); returns whether `holder` has it.
   * Shared by every process on the same database, it keeps background work (retention) to
   * one process at a time. A `ttlMs` of 0 gives up a lease `holder` has.
   */
  lease?(name: string, holder: string, ttlMs: number): Promise<boolean>;

  /** How many records match. */
  count?(filter: NormalizedActivityFilter): Promise<number>;

  /** Counts grouped for dashboards (see `SummaryCounter` in `activity-log/store`). */
  summarize?(query: NormalizedSummaryQuery): Promise<SummaryBucket[]>;

  /**
   * Writes records inside the caller's own open transaction (for a Kysely store, a Kysely
   * `Transaction`), so they commit or roll back with the caller's business change. Used by
   * `logger.logInTransaction()`.
   */
  insertInTransaction?(transaction: unknown, records: readonly ActivityRecord[]): Promise<void>;

  /**
   * Sealed records (those with `integrity`), in chain order: by chain id, then sequence
   * number, then id (a tampered chain can hold several records at one place), after
   * `query.after`. What `verify()` reads; it pages through every chain this way.
   */
  chainPage?(query: ChainPageQuery): Promise<ActivityRecord[]>;

  /** Keeps checkpoints (see `integrity.onCheckpoint`); a checkpoint already kept is skipped. */
  insertCheckpoints?(checkpoints: readonly IntegrityCheckpoint[]): Promise<void>;

  /** Kept checkpoints, by chain id then sequence number, after `query.after`. */
  checkpointPage?(query: CheckpointPageQuery): Promise<IntegrityCheckpoint[]>;

  /**
   * Rewrites the records `filter` matches with `rewrite` (the logger's erasure rule), keeping
   * each record whose rewrite returns a record and leaving the others as they are; returns how
   * many were rewritten. Only `actor.name`, `target.name`, `context`, `metadata`, `changes`
   * and `integrity` change: each of them is written back as the rewrite returns it.
   */
  erase?(filter: NormalizedActivityFilter, rewrite: (record: ActivityRecord) => ActivityRecord | undefined): Promise<number>;

  /** Creates or upgrades the schema; idempotent, safe from two processes at once. */
  migrate?(): Promise<void>;

  /** Releases what the store opened itself (never a client the user passed in). */
  close?(): Promise<void>;
}

/** A position in chain order. */
export interface ChainPosition {
  chain: string;
  seq: number;
  /**
   * The id of the record at that place, when paging: records at the same place with a greater
   * id come after it (a chain whose places were renumbered holds several records at one place,
   * and a page may end among them). Without it, every record at `seq` is before the position.
   */
  id?: string;
  /**
   * The time of that record, when paging. A store whose ids are not unique (a table keyed by
   * id and time) returns the records at the same place and id from this millisecond on, in
   * time order, the position's own record included (verify() passes over those it has read):
   * copies of one record with other times are then all read. Any other store ignores it.
   */
  occurredAt?: Date;
}

/** What {@link ActivityStore.chainPage} reads. */
export interface ChainPageQuery {
  /** Only this chain. */
  chain?: string;
  /** Only records at or after this time... */
  from?: Date;
  /** ...and before this one. */
  to?: Date;
  /** Records after this position. */
  after?: ChainPosition;
  limit: number;
}

/** What {@link ActivityStore.checkpointPage} reads. */
export interface CheckpointPageQuery {
  chain?: string;
  after?: ChainPosition;
  limit: number;
}

/** What a store supports that no method's presence tells; the logger reads these. */
export interface StoreCapabilities {
  /**
   * `query`, `count` and `summarize` honour `metadata` equality filters. Without it the
   * logger refuses such a filter with `UNSUPPORTED` rather than let the store ignore it and
   * return records the filter excludes.
   * @default false
   */
  readonly metadataFilter?: boolean;
  /**
   * `purge` honours `except`. Without it the logger refuses a purge with exceptions, and a
   * retention with rules, with `UNSUPPORTED` (or `INVALID_OPTIONS` at start-up) rather than
   * let the store delete records a rule keeps.
   * @default false
   */
  readonly purgeExcept?: boolean;
  /**
   * `query`, `count` and `summarize` honour `excludeAction` (with `excludeActionStatus`),
   * `requestId`, `traceId` and `search`. Without it the logger refuses those filters with `UNSUPPORTED`.
   * @default false
   */
  readonly searchFilters?: boolean;
  /**
   * `summarize` honours `tz`: `hour` and `day` buckets in that time zone. Without it the
   * logger refuses a summary with a `tz` other than UTC with `UNSUPPORTED`.
   * @default false
   */
  readonly zonedSummary?: boolean;
  /**
   * `insert` may be called again before the previous call has settled. The logger then hands
   * the store the next batch while it writes the current one (two batches in flight), so a
   * store that writes on another thread or connection never waits for the next batch to be
   * built and sent. Without it, batches go one at a time. A retried or replayed batch may then
   * be written after a later one: every record keeps its id and time either way.
   * @default false
   */
  readonly concurrentInserts?: boolean;
}

/** True when `value` has the shape of an {@link ActivityStore}. */
export function isActivityStore(value: unknown): value is ActivityStore {
  if (value === null || typeof value !== 'object') return false;
  const store = value as Record<string, unknown>;
  return (
    typeof store.insert === 'function' &&
    typeof store.query === 'function' &&
    typeof store.get === 'function' &&
    typeof store.purge === 'function'
  );
}
