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
 * The contract every storage adapter implements. Four methods are required; the rest are
 * optional and announced by {@link StoreCapabilities}, so the core and the HTTP layer branch on
 * data, not on `instanceof`.
 *
 * Stores receive validated input: the logger and the query helpers (`parseActivityQuery`,
 * `toPage`, `encodeCursor` from `activity-log`) do validation and paging for them.
 */
export interface ActivityStore {
  /** A short name for messages, such as `memory` or `sqlite`. */
  readonly name: string;
  /** What this store can do beyond the required methods. */
  readonly capabilities: StoreCapabilities;

  /**
   * Writes a batch, all or nothing. A record whose id is already stored is skipped, so a
   * retried batch never duplicates a record. Rejects on failure; the logger retries.
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

  /** How many records match. Present when `capabilities.count`. */
  count?(filter: NormalizedActivityFilter): Promise<number>;

  /** Counts grouped for dashboards. Present when `capabilities.summarize`. */
  summarize?(query: NormalizedSummaryQuery): Promise<SummaryBucket[]>;

  /**
   * Writes records inside the caller's own open transaction (for a Kysely store, a Kysely
   * `Transaction`), so they commit or roll back with the caller's business change. Present
   * when `capabilities.transactions`; used by `logger.logInTransaction()`.
   */
  insertInTransaction?(transaction: unknown, records: readonly ActivityRecord[]): Promise<void>;

  /** Creates or upgrades the schema; idempotent, safe from two processes at once. */
  migrate?(): Promise<void>;

  /** Releases what the store opened itself (never a client the user passed in). */
  close?(): Promise<void>;
}

/** What a store supports beyond the required methods. */
export interface StoreCapabilities {
  /** `count()` is implemented. */
  readonly count: boolean;
  /** `summarize()` is implemented. */
  readonly summarize: boolean;
  /** `metadata` equality filters are supported in queries. */
  readonly metadataFilter: boolean;
  /** `insertInTransaction()` is implemented. */
  readonly transactions?: boolean;
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
