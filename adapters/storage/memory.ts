import { comparePageOrder, type CursorPosition } from '../../src/cursor.js';
import { describeValue } from '../../src/describe.js';
import { ActivityLogError } from '../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import { actionPrefix, asciiLowerCase, toPage, type StoreQuery } from '../../src/query.js';
import type {
  ActivityPage,
  ActivityRecord,
  NormalizedActivityFilter,
  NormalizedPurgeOptions,
  PurgeException,
  NormalizedSummaryQuery,
  SummaryBucket,
} from '../../src/schema.js';
import type { IntegrityCheckpoint } from '../../src/integrity/options.js';
import type { ActivityStore, ChainPosition } from '../../src/store.js';
import { bucketKey, SummaryCounter, timeBucketing, type TimeBucketing, type TimeRange } from '../../src/summary.js';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Fail every `insert` while this returns true: for tests of retries and outages.
   * @default undefined
   */
  failInsert?: (records: readonly ActivityRecord[]) => boolean;
  /**
   * Refuse a record for its content, as a database refuses a value it cannot hold: when this
   * returns a reason for any record of a batch, `insert` rejects the whole batch with
   * `RECORD_REJECTED` (naming `field` when the batch is that one record). For tests of batch
   * isolation; the SQL stores classify their databases' own errors the same way.
   * @default undefined
   */
  refuseRecord?: (record: ActivityRecord) => { field?: string; reason: string } | undefined;
}

/** The options of {@link MemoryStoreOptions}, for the check that refuses others. */
const MEMORY_STORE_OPTIONS = optionNames<MemoryStoreOptions>()(['failInsert', 'refuseRecord']);

/** The in-memory store, with a way to inspect what it holds in tests. */
export interface MemoryStore extends ActivityStore {
  /** Every record, newest first (copies). */
  all(): ActivityRecord[];
  /** How many records are stored. */
  readonly size: number;
}

interface Entry {
  occurredAtMs: number;
  id: string;
  /** Replaced (never changed in place) by erase(). */
  record: ActivityRecord;
}

/**
 * A complete store in process memory, for tests and development: idempotent inserts, every
 * filter, keyset pagination, count, summarize and purge, with the same semantics as the SQL
 * stores. Records are copied in and out, so no caller can change what is stored.
 *
 * @example
 * const activity = createActivityLogger({ store: memoryStore() });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  refuseUnknownOptions('memoryStore', options, MEMORY_STORE_OPTIONS);
  // Called per insert: a value that is no function would fail every batch as an outage.
  for (const name of ['failInsert', 'refuseRecord'] as const) {
    const hook: unknown = options[name];
    if (hook !== undefined && typeof hook !== 'function') {
      throw new ActivityLogError('INVALID_OPTIONS', `memoryStore: ${name} must be a function of the ${name === 'failInsert' ? 'batch' : 'record'}, got ${describeValue(hook)}`);
    }
  }
  /**
   * Sorted oldest first (the reverse of page order), so that records logged in time order are
   * appended: newest first, each insert moved every stored entry (100,000 events took seconds).
   */
  const entries: Entry[] = [];
  const byId = new Map<string, Entry>();
  /** Kept checkpoints, by chain and sequence number. */
  const checkpoints = new Map<string, IntegrityCheckpoint>();
  /** Leases by name (one process holds them all, but the contract is the same). */
  const leases = new Map<string, { holder: string; expiresAt: number }>();

  /** How many entries come strictly after `position` in page order (older): they are the first ones. */
  const olderThan = (position: CursorPosition): number => {
    let low = 0;
    let high = entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (comparePageOrder(entries[mid]!, position) > 0) low = mid + 1;
      else high = mid;
    }
    return low;
  };

  const store: MemoryStore = {
    name: 'memory',
    capabilities: { metadataFilter: true, purgeExcept: true, searchFilters: true, zonedSummary: true, concurrentInserts: true },

    get size() {
      return entries.length;
    },

    async insert(records) {
      if (options.failInsert?.(records)) throw new Error('memory store: insert failed (failInsert)');
      if (options.refuseRecord) {
        for (const record of records) {
          const refusal = options.refuseRecord(record);
          if (!refusal) continue;
          const field = records.length === 1 ? refusal.field : undefined;
          throw new ActivityLogError('RECORD_REJECTED', `store "memory" refused ${records.length === 1 ? 'a record' : `a batch of ${records.length} records`} for its content: ${refusal.reason}`, {
            details: { reason: refusal.reason, field, count: records.length },
          });
        }
      }
      const fresh: Entry[] = [];
      const seen = new Set<string>();
      for (const record of records) {
        if (byId.has(record.id) || seen.has(record.id)) continue;
        seen.add(record.id);
        fresh.push({ occurredAtMs: record.occurredAt.getTime(), id: record.id, record: structuredClone(record) });
      }
      // All or nothing: the batch is copied before any of it is applied.
      for (const entry of fresh) {
        const at = olderThan(entry);
        if (at === entries.length) entries.push(entry);
        else entries.splice(at, 0, entry);
        byId.set(entry.id, entry);
      }
    },

    async query(query: StoreQuery): Promise<ActivityPage> {
      const start = query.after ? olderThan(query.after) - 1 : entries.length - 1;
      const found: ActivityRecord[] = [];
      for (let i = start; i >= 0 && found.length <= query.limit; i--) {
        const entry = entries[i]!;
        if (matches(entry, query)) found.push(structuredClone(entry.record));
      }
      return toPage(found, query.limit);
    },

    async get(id) {
      const entry = byId.get(id);
      return entry ? structuredClone(entry.record) : undefined;
    },

    async count(filter) {
      return entries.filter((entry) => matches(entry, filter)).length;
    },

    async summarize(query) {
      return summarize(entries.filter((entry) => matches(entry, query)), query);
    },

    async purge(options: NormalizedPurgeOptions) {
      const before = options.before.getTime();
      const limit = options.limit ?? Infinity;
      let removed = 0;
      // Oldest first, as the SQL stores delete, so a purge cut short by `limit` keeps the newest.
      const doomed = new Set<Entry>();
      for (let i = 0; i < entries.length && removed < limit; i++) {
        const entry = entries[i]!;
        if (entry.occurredAtMs >= before) break;
        const { record } = entry;
        // The purge's own tenant and action select records by the same rule as its exceptions.
        if (!matchesException(record, options) || options.except?.some((exception) => matchesException(record, exception))) continue;
        doomed.add(entry);
        byId.delete(entry.id);
        removed++;
      }
      if (removed > 0) {
        let kept = 0;
        for (const entry of entries) if (!doomed.has(entry)) entries[kept++] = entry;
        entries.length = kept;
      }
      return removed;
    },

    async lease(name, holder, ttlMs) {
      const now = Date.now();
      const held = leases.get(name);
      if (held && held.holder !== holder && held.expiresAt > now) return false;
      leases.set(name, { holder, expiresAt: now + ttlMs });
      return true;
    },

    async chainPage({ chain, from, to, after, limit }) {
      const found: ActivityRecord[] = [];
      for (const { record, occurredAtMs } of entries) {
        const sealed = record.integrity;
        if (!sealed || (chain !== undefined && sealed.chain !== chain)) continue;
        if ((from !== undefined && occurredAtMs < from.getTime()) || (to !== undefined && occurredAtMs >= to.getTime())) continue;
        if (after !== undefined && !isAfter(record, after)) continue;
        found.push(record);
      }
      return found
        .sort(compareRecordOrder)
        .slice(0, limit)
        .map((record) => structuredClone(record));
    },

    async insertCheckpoints(kept) {
      for (const checkpoint of kept) {
        const key = `${checkpoint.chain}\u0000${checkpoint.seq}`;
        if (!checkpoints.has(key)) checkpoints.set(key, structuredClone(checkpoint));
      }
    },

    async checkpointPage({ chain, after, limit }) {
      return [...checkpoints.values()]
        .filter((checkpoint) => (chain === undefined || checkpoint.chain === chain) && (after === undefined || compareChainOrder(checkpoint, after) > 0))
        .sort(compareChainOrder)
        .slice(0, limit)
        .map((checkpoint) => structuredClone(checkpoint));
    },

    async erase(filter, rewrite) {
      let rewritten = 0;
      for (const entry of entries) {
        if (!matches(entry, filter)) continue;
        const changed = rewrite(structuredClone(entry.record));
        if (!changed) continue;
        entry.record = structuredClone(changed);
        rewritten++;
      }
      return rewritten;
    },

    all() {
      return entries.map((entry) => structuredClone(entry.record)).reverse();
    },
  };
  return store;
}

/** Chain order: by chain id (as bytes compare), then sequence number. */
function compareChainOrder(a: { chain: string; seq: number }, b: { chain: string; seq: number }): number {
  return a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : a.seq - b.seq;
}

/** Chain order of sealed records: by place, then id (a tampered chain can hold several records at one place). */
function compareRecordOrder(a: ActivityRecord, b: ActivityRecord): number {
  return compareChainOrder(a.integrity!, b.integrity!) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Whether a sealed record comes after a position: past its place, or at it with a greater id. */
function isAfter(record: ActivityRecord, after: ChainPosition): boolean {
  const order = compareChainOrder(record.integrity!, after);
  return order > 0 || (order === 0 && after.id !== undefined && record.id > after.id);
}

/** Whether an action matches a filter: exact, or under a `prefix.*`. */
function actionMatches(action: string, filter: string): boolean {
  const prefix = actionPrefix(filter);
  return prefix === undefined ? action === filter : action.startsWith(prefix);
}

function matches(entry: Entry, filter: NormalizedActivityFilter): boolean {
  const record = entry.record;
  if (filter.actorType !== undefined && record.actor?.type !== filter.actorType) return false;
  if (filter.actorId !== undefined && record.actor?.id !== filter.actorId) return false;
  if (filter.action !== undefined && !actionMatches(record.action, filter.action)) return false;
  if (filter.status !== undefined && record.status !== filter.status) return false;
  if (filter.targetType !== undefined && record.target?.type !== filter.targetType) return false;
  if (filter.targetId !== undefined && record.target?.id !== filter.targetId) return false;
  if (filter.tenantId !== undefined && record.tenantId !== filter.tenantId) return false;
  if (filter.from !== undefined && entry.occurredAtMs < filter.from.getTime()) return false;
  if (filter.to !== undefined && entry.occurredAtMs >= filter.to.getTime()) return false;
  if (filter.excludeAction !== undefined && actionMatches(record.action, filter.excludeAction) && (filter.excludeActionStatus === undefined || record.status === filter.excludeActionStatus)) return false;
  if (filter.requestId !== undefined && record.context?.requestId !== filter.requestId) return false;
  if (filter.traceId !== undefined && record.context?.traceId !== filter.traceId) return false;
  if (filter.search !== undefined && !matchesSearch(record, filter.search)) return false;
  if (filter.metadata !== undefined) {
    const metadata = record.metadata;
    if (!metadata) return false;
    for (const [key, value] of Object.entries(filter.metadata)) {
      if (!Object.hasOwn(metadata, key) || metadata[key] !== value) return false;
    }
  }
  return true;
}

/** The `search` filter: in the action, the actor's name or the target's name, ASCII case folded. */
function matchesSearch(record: ActivityRecord, search: string): boolean {
  const needle = asciiLowerCase(search);
  return [record.action, record.actor?.name, record.target?.name].some((text) => text !== undefined && asciiLowerCase(text).includes(needle));
}

function summarize(entries: Entry[], query: NormalizedSummaryQuery): SummaryBucket[] {
  const counter = new SummaryCounter(query.by);
  let time: TimeBucketing | undefined;
  if (query.by === 'hour' || query.by === 'day') {
    // The zone's units are chosen over the times actually summarized (see timeBucketing).
    let range: TimeRange | undefined;
    for (const { occurredAtMs } of entries) range = range ? { fromMs: Math.min(range.fromMs, occurredAtMs), toMs: Math.max(range.toMs, occurredAtMs) } : { fromMs: occurredAtMs, toMs: occurredAtMs };
    time = timeBucketing(query.by, query.tz, range);
  }
  for (const { record, occurredAtMs } of entries) counter.add(bucketKey(record, occurredAtMs, query.by, time), record.status);
  return counter.result();
}

/** Whether a record is of a tenant and action (either may be absent): a purge's own selection, or one of its exceptions. */
function matchesException(record: ActivityRecord, exception: Pick<PurgeException, 'tenantId' | 'action'>): boolean {
  return (
    (exception.tenantId === undefined || record.tenantId === exception.tenantId) &&
    (exception.action === undefined || actionMatches(record.action, exception.action))
  );
}
