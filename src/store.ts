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

  /** Deletes records older than `before` (optionally of one tenant or action); returns how many. */
  purge(options: NormalizedPurgeOptions): Promise<number>;

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

  /** Creates or upgrades the schema; idempotent, safe from two processes at once. */
  migrate?(): Promise<void>;

  /** Releases what the store opened itself (never a client the user passed in). */
  close?(): Promise<void>;
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
