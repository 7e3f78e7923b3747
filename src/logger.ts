import type { z } from 'zod';
import { ActivityLogError } from './errors.js';
import { capture, materialize, type ActivityBindings, type ActivityCatalog, type MaterializeConfig, type PendingEvent } from './materialize.js';
import { parseActivityFilter, parseActivityQuery, parsePurgeOptions, parseSummaryQuery } from './query.js';
import { RingBuffer } from './queue.js';
import { createRedactor, type RedactOptions } from './redact.js';
import { rateLimitedWarn, safeReport, type ErrorHandler } from './report.js';
import type {
  ActivityEvent,
  ActivityFilter,
  ActivityPage,
  ActivityQuery,
  ActivityRecord,
  PurgeOptions,
  SummaryBucket,
  SummaryQuery,
} from './schema.js';
import { snapshotPlain } from './snapshot.js';
import { isActivityStore, type ActivityStore } from './store.js';

/** How failed `store.insert` calls are retried. */
export interface RetryOptions {
  /**
   * Attempts per batch, the first included; after the last the batch is reported
   * (`STORE_FAILED`) and counted as failed.
   * @default 6
   */
  maxAttempts?: number;
  /**
   * Delay before the first retry; it doubles each attempt, with jitter.
   * @default 200
   */
  baseDelayMs?: number;
  /**
   * Upper bound of one delay.
   * @default 10000
   */
  maxDelayMs?: number;
}

/** Options of {@link createActivityLogger}. */
export interface ActivityLoggerOptions<C extends ActivityCatalog = {}> {
  /** Where records go: `memoryStore()`, `sqliteStore()`, `postgresStore()`, `mysqlStore()`... */
  store: ActivityStore;
  /**
   * A zod schema of metadata per action. `log()` then type-checks each action's metadata at
   * compile time and validates it at run time; actions outside the catalog are not checked.
   */
  catalog?: C;
  /**
   * Events written per `store.insert` call; a full batch is flushed at once.
   * @default 500
   */
  batchSize?: number;
  /**
   * Longest time an event waits in the queue before a flush. The timer does not keep the
   * process alive.
   * @default 100
   */
  flushIntervalMs?: number;
  /**
   * Events held in memory (queued and being written) at most.
   * @default 10000
   */
  maxQueue?: number;
  /**
   * What goes when the queue is full: the event being logged, or the oldest waiting one.
   * Every drop is counted in `stats().dropped` and reported once per burst (`QUEUE_FULL`).
   * @default 'drop-newest'
   */
  overflow?: 'drop-newest' | 'drop-oldest';
  /** Retries of a failed batch, with exponential backoff and jitter. */
  retry?: RetryOptions;
  /**
   * Receives every failure `log()` does not throw: invalid events, drops, store failures.
   * @default a rate-limited console.warn
   */
  onError?: ErrorHandler;
  /**
   * Sensitive keys and paths to redact in metadata, changes and context, on top of the
   * defaults (password, secret, token, authorization, cookie, apiKey, card numbers...).
   * `false` turns redaction off.
   */
  redact?: RedactOptions | string[] | false;
  /**
   * Largest serialised size of metadata (and of changes); larger values are replaced, largest
   * first, by a marker giving their size.
   * @default 8192
   */
  maxMetadataBytes?: number;
  /**
   * Keep the stack of errors passed as `error`.
   * @default false
   */
  includeStack?: boolean;
}

/** Counters since the logger was created. `calls = written + invalid + failed + dropped + queued`. */
export interface ActivityStats {
  /** Events accepted into the queue. */
  enqueued: number;
  /** Events the store committed (a re-sent id the store skipped counts once here). */
  written: number;
  /** Events rejected by validation, each reported with its reason. */
  invalid: number;
  /** Events dropped: queue full, or logged after `close()`. */
  dropped: number;
  /** Events in batches the store rejected on every attempt. */
  failed: number;
  /** Retried `store.insert` calls. */
  retries: number;
  /** Events waiting or being written now. */
  queued: number;
  /** The most recent error reported through `onError`. */
  lastError?: ActivityLogError;
}

/** The event `log()` accepts: with a catalog, each action's metadata is typed by its schema. */
export type CatalogEvent<C extends ActivityCatalog> = [keyof C] extends [never]
  ? ActivityEvent
  : {
      [K in keyof C & string]: Omit<ActivityEvent, 'action' | 'metadata'> & { action: K } & (undefined extends z.input<C[K]>
          ? { metadata?: z.input<C[K]> }
          : { metadata: z.input<C[K]> });
    }[keyof C & string];

/** The logger. Child loggers from `with()` share the parent's queue, store and counters. */
export interface ActivityLogger<C extends ActivityCatalog = {}> {
  /**
   * Records an event. Returns at once: no I/O, no await, and it never throws, whatever it is
   * given. The event is copied, so later changes to the object do not change what is stored.
   * Validation happens in the flusher; an invalid event is reported through `onError`.
   */
  log(event: CatalogEvent<C>): void;
  /**
   * A child logger with `actor`, `tenantId`, `context` and `metadata` bound; an event's own
   * fields win, and context and metadata merge key by key.
   */
  with(bindings: ActivityBindings): ActivityLogger<C>;
  /** Resolves when every event logged before the call is stored or has definitively failed. Never rejects. */
  flush(): Promise<void>;
  /** Stops accepting events, drains the queue and closes the store. Never rejects; idempotent. */
  close(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): ActivityStats;
  /** One page of records, newest first. Rejects with `INVALID_QUERY` naming each bad filter. */
  query(query?: ActivityQuery): Promise<ActivityPage>;
  /** One record by id. */
  get(id: string): Promise<ActivityRecord | undefined>;
  /** How many records match; `UNSUPPORTED` when the store cannot count. */
  count(filter?: ActivityFilter): Promise<number>;
  /** Counts grouped by action, status, actor type, hour or day. */
  summarize(query: SummaryQuery): Promise<SummaryBucket[]>;
  /** Deletes records older than `before`; returns how many. */
  purge(options: PurgeOptions): Promise<number>;
  /**
   * Writes one event inside the caller's own database transaction (a Kysely `Transaction` for
   * the SQL stores), so the activity exists if and only if the business change commits. Unlike
   * `log()`, this validates at once and rejects (`INVALID_EVENT`, or the database's error),
   * because the caller asked for atomicity. Resolves to the stored record.
   */
  logInTransaction(transaction: unknown, event: CatalogEvent<C>): Promise<ActivityRecord>;
  /** The store this logger writes to. */
  readonly store: ActivityStore;
  /** The context bound by `with()`. */
  readonly bindings: Readonly<ActivityBindings>;
  /**
   * Hands an error to this logger's `onError` (and `stats().lastError`) without throwing.
   * For integrations that contain a failure of their own, such as a framework middleware
   * whose `actor()` callback threw (`CALLBACK_FAILED`): the request goes on, and the failure
   * is reported where every other failure of the logger is.
   */
  report(error: ActivityLogError): void;
}

/**
 * Creates a logger over a store.
 *
 * @example
 * const activity = createActivityLogger({ store: memoryStore() });
 * activity.log({ action: 'recipe.create', actor: { type: 'user', id: 'u_1' }, target: { type: 'recipe', id: 'r_1' } });
 * await activity.close();
 */
export function createActivityLogger<C extends ActivityCatalog = {}>(options: ActivityLoggerOptions<C>): ActivityLogger<C> {
  const core = new LoggerCore(resolveOptions(options));
  return new Logger<C>(core, undefined);
}

interface ResolvedOptions {
  store: ActivityStore;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
  overflow: 'drop-newest' | 'drop-oldest';
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  onError: ErrorHandler;
  includeStack: boolean;
  materialize: MaterializeConfig;
}

function resolveOptions(options: ActivityLoggerOptions<ActivityCatalog>): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ActivityLogError('INVALID_OPTIONS', 'createActivityLogger: options must be an object with a "store"');
  }
  if (!isActivityStore(options.store)) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      'store: must be an activity store (an object with insert, query, get and purge), such as memoryStore() from "activity-log/memory"',
    );
  }
  const maxQueue = wholeNumber('maxQueue', options.maxQueue, 10_000, 1, 10_000_000);
  const batchSize = wholeNumber('batchSize', options.batchSize, Math.min(500, maxQueue), 1, maxQueue);
  const overflow = options.overflow ?? 'drop-newest';
  if (overflow !== 'drop-newest' && overflow !== 'drop-oldest') {
    throw new ActivityLogError('INVALID_OPTIONS', `overflow: must be "drop-newest" or "drop-oldest", got ${JSON.stringify(overflow)}`);
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'onError: must be a function');
  }
  const catalog = options.catalog;
  if (catalog !== undefined) {
    if (catalog === null || typeof catalog !== 'object') throw new ActivityLogError('INVALID_OPTIONS', 'catalog: must be an object of zod schemas');
    for (const [action, schema] of Object.entries(catalog)) {
      if (!schema || typeof (schema as { safeParse?: unknown }).safeParse !== 'function') {
        throw new ActivityLogError('INVALID_OPTIONS', `catalog.${action}: must be a zod schema`);
      }
    }
  }
  const retry = options.retry ?? {};
  const baseDelayMs = wholeNumber('retry.baseDelayMs', retry.baseDelayMs, 200, 0, 3_600_000);
  return {
    store: options.store,
    batchSize,
    maxQueue,
    overflow,
    flushIntervalMs: wholeNumber('flushIntervalMs', options.flushIntervalMs, 100, 1, 3_600_000),
    maxAttempts: wholeNumber('retry.maxAttempts', retry.maxAttempts, 6, 1, 1000),
    baseDelayMs,
    maxDelayMs: wholeNumber('retry.maxDelayMs', retry.maxDelayMs, Math.max(10_000, baseDelayMs), baseDelayMs, 3_600_000),
    onError: options.onError ?? rateLimitedWarn(),
    includeStack: options.includeStack === true,
    materialize: {
      redactor: createRedactor(options.redact),
      maxMetadataBytes: wholeNumber('maxMetadataBytes', options.maxMetadataBytes, 8192, 64, 16 * 1024 * 1024),
      catalog,
    },
  };
}

function wholeNumber(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ActivityLogError('INVALID_OPTIONS', `${name}: must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** The shared engine behind a logger and its children: queue, flusher, counters. */
class LoggerCore {
  readonly store: ActivityStore;
  readonly includeStack: boolean;
  private readonly options: ResolvedOptions;
  private readonly queue: RingBuffer<PendingEvent>;
  private readonly counters = { enqueued: 0, written: 0, invalid: 0, dropped: 0, failed: 0, retries: 0 };
  private lastError: ActivityLogError | undefined;
  /** Events taken from the queue whose batch has not settled yet. */
  private inFlight = 0;
  /** Enqueued events that reached a final state, in queue order. */
  private settled = 0;
  private flushWaiters: { target: number; resolve: () => void }[] = [];
  private draining: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private drainSoon = false;
  private overflowBurst: { droppedBefore: number } | undefined;
  private closedDropsUnreported = 0;
  closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.store = options.store;
    this.includeStack = options.includeStack;
    this.queue = new RingBuffer(options.maxQueue);
  }

  /** True when a newly logged event would be dropped without being looked at. */
  rejectsNewEvents(): boolean {
    return this.closed || (this.options.overflow === 'drop-newest' && this.queue.size + this.inFlight >= this.options.maxQueue);
  }

  /** Counts and reports an event that was not accepted. */
  dropNew(): void {
    this.counters.dropped++;
    if (this.closed) this.noteClosedDrop();
    else this.noteOverflow();
  }

  enqueue(pending: PendingEvent): void {
    if (this.queue.size + this.inFlight >= this.options.maxQueue) {
      if (this.options.overflow === 'drop-oldest' && this.queue.size > 0) {
        this.queue.shift();
        this.counters.dropped++;
        this.noteOverflow();
        this.settle(1);
      } else {
        this.dropNew();
        return;
      }
    }
    this.queue.push(pending);
    this.counters.enqueued++;
    this.schedule();
  }

  stats(): ActivityStats {
    const stats: ActivityStats = { ...this.counters, queued: this.queue.size + this.inFlight };
    if (this.lastError) stats.lastError = this.lastError;
    return stats;
  }

  flush(): Promise<void> {
    const target = this.counters.enqueued;
    if (this.settled >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.flushWaiters.push({ target, resolve }));
    void this.startDrain();
    return done;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.clearTimer();
      await this.flush();
      try {
        await this.store.close?.();
      } catch (cause) {
        this.report(new ActivityLogError('STORE_FAILED', `store "${this.store.name}" failed to close`, { cause }));
      }
    })();
    return this.closing;
  }

  /** Turns one event into a record now, on the caller's path; throws `INVALID_EVENT`. */
  buildRecord(event: unknown, bindings: ActivityBindings | undefined): ActivityRecord {
    const result = materialize(capture(event, bindings, this.includeStack), this.options.materialize);
    if (result.error) throw result.error;
    return result.record;
  }

  report(error: ActivityLogError): void {
    this.lastError = error;
    safeReport(this.options.onError, error);
  }

  private schedule(): void {
    if (this.draining) return;
    if (this.queue.size >= this.options.batchSize) {
      if (!this.drainSoon) {
        this.drainSoon = true;
        this.clearTimer();
        // Never flush inside log(): the caller's turn of the event loop ends first.
        unref(
          setTimeout(() => {
            this.drainSoon = false;
            void this.startDrain();
          }, 0),
        );
      }
    } else if (!this.timer && !this.drainSoon) {
      this.timer = unref(
        setTimeout(() => {
          this.timer = undefined;
          void this.startDrain();
        }, this.options.flushIntervalMs),
      );
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private startDrain(): Promise<void> {
    this.draining ??= this.drainLoop().finally(() => {
      this.draining = undefined;
      if (this.queue.size > 0) this.schedule();
    });
    return this.draining;
  }

  private async drainLoop(): Promise<void> {
    this.clearTimer();
    while (this.queue.size > 0) {
      const batch = this.queue.take(this.options.batchSize);
      this.inFlight = batch.length;
      const records: ActivityRecord[] = [];
      for (const pending of batch) {
        const result = materialize(pending, this.options.materialize);
        if (result.error) {
          this.counters.invalid++;
          this.inFlight--;
          this.settle(1);
          this.report(result.error);
        } else {
          records.push(result.record);
        }
      }
      if (records.length > 0) await this.write(records);
      this.inFlight = 0;
      if (this.overflowBurst && this.queue.size < this.options.maxQueue) this.overflowBurst = undefined;
    }
  }

  /** Writes one batch, retrying with backoff; settles it as written or failed. Never rejects. */
  private async write(records: ActivityRecord[]): Promise<void> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.insert(records);
        this.counters.written += records.length;
        break;
      } catch (cause) {
        if (attempt >= maxAttempts) {
          this.counters.failed += records.length;
          this.report(
            new ActivityLogError(
              'STORE_FAILED',
              `store "${this.store.name}" rejected a batch of ${records.length} events ${attempt} times; they are counted as failed`,
              { cause, details: { count: records.length, attempts: attempt } },
            ),
          );
          break;
        }
        this.counters.retries++;
        // Someone awaiting flush() or close() must not see the process exit under them.
        const keepAlive = this.closed || this.flushWaiters.length > 0;
        await sleep(backoffDelay(attempt, baseDelayMs, maxDelayMs), keepAlive);
      }
    }
    this.inFlight -= records.length;
    this.settle(records.length);
  }

  private settle(count: number): void {
    this.settled += count;
    if (this.flushWaiters.length === 0) return;
    const waiting: typeof this.flushWaiters = [];
    for (const waiter of this.flushWaiters) {
      if (waiter.target <= this.settled) waiter.resolve();
      else waiting.push(waiter);
    }
    this.flushWaiters = waiting;
  }

  private noteOverflow(): void {
    if (this.overflowBurst) return;
    const burst = { droppedBefore: this.counters.dropped - 1 };
    this.overflowBurst = burst;
    // Reported after the caller's turn, once per burst, with the drops counted so far.
    setTimeout(() => {
      const dropped = this.counters.dropped - burst.droppedBefore;
      this.report(
        new ActivityLogError(
          'QUEUE_FULL',
          `queue full (maxQueue ${this.options.maxQueue}): ${dropped} events dropped so far in this burst (overflow: ${this.options.overflow}); the store is slower than the event rate or unavailable. Further drops in this burst are counted in stats().dropped`,
          { details: { dropped, maxQueue: this.options.maxQueue } },
        ),
      );
    }, 0);
  }

  private noteClosedDrop(): void {
    if (this.closedDropsUnreported++ > 0) return;
    setTimeout(() => {
      const dropped = this.closedDropsUnreported;
      this.closedDropsUnreported = 0;
      this.report(
        new ActivityLogError('LOGGER_CLOSED', `log() was called after close(): ${dropped} events dropped`, { details: { dropped } }),
      );
    }, 0);
  }
}

class Logger<C extends ActivityCatalog> implements ActivityLogger<C> {
  constructor(
    private readonly core: LoggerCore,
    private readonly bound: ActivityBindings | undefined,
  ) {}

  get store(): ActivityStore {
    return this.core.store;
  }

  get bindings(): Readonly<ActivityBindings> {
    return this.bound ?? {};
  }

  log(event: CatalogEvent<C>): void {
    const core = this.core;
    try {
      if (core.rejectsNewEvents()) {
        core.dropNew();
        return;
      }
      core.enqueue(capture(event, this.bound, core.includeStack));
    } catch (cause) {
      // Unreachable by design (every step above catches its own throws); log() still must not throw.
      try {
        core.dropNew();
        core.report(new ActivityLogError('INVALID_EVENT', 'event: could not be recorded', { cause }));
      } catch {
        // Nothing left to do without risking a throw into the caller.
      }
    }
  }

  with(bindings: ActivityBindings): ActivityLogger<C> {
    const copied = snapshotPlain(bindings);
    if (copied === null || typeof copied !== 'object' || Array.isArray(copied)) return this;
    return new Logger<C>(this.core, mergeBindings(this.bound, copied as ActivityBindings));
  }

  flush(): Promise<void> {
    return this.core.flush();
  }

  close(): Promise<void> {
    return this.core.close();
  }

  stats(): ActivityStats {
    return this.core.stats();
  }

  report(error: ActivityLogError): void {
    this.core.report(error);
  }

  async query(query?: ActivityQuery): Promise<ActivityPage> {
    return this.core.store.query(parseActivityQuery(query));
  }

  async get(id: string): Promise<ActivityRecord | undefined> {
    if (typeof id !== 'string' || id.length === 0) {
      throw new ActivityLogError('INVALID_QUERY', `id: must be a non-empty string, got ${typeof id}`);
    }
    return this.core.store.get(id);
  }

  async count(filter?: ActivityFilter): Promise<number> {
    const store = this.core.store;
    if (!store.count) throw unsupported(store, 'count');
    return store.count(parseActivityFilter(filter));
  }

  async summarize(query: SummaryQuery): Promise<SummaryBucket[]> {
    const store = this.core.store;
    if (!store.summarize) throw unsupported(store, 'summarize');
    return store.summarize(parseSummaryQuery(query));
  }

  async purge(options: PurgeOptions): Promise<number> {
    return this.core.store.purge(parsePurgeOptions(options));
  }

  async logInTransaction(transaction: unknown, event: CatalogEvent<C>): Promise<ActivityRecord> {
    const store = this.core.store;
    if (!store.insertInTransaction) throw unsupported(store, 'insertInTransaction');
    const record = this.core.buildRecord(event, this.bound);
    await store.insertInTransaction(transaction, [record]);
    return record;
  }
}

function unsupported(store: ActivityStore, method: string): ActivityLogError {
  return new ActivityLogError('UNSUPPORTED', `store "${store.name}" does not implement ${method}()`);
}

function mergeBindings(parent: ActivityBindings | undefined, child: ActivityBindings): ActivityBindings {
  if (!parent) return child;
  const merged: ActivityBindings = { ...parent };
  if (child.actor !== undefined) merged.actor = child.actor;
  if (child.tenantId !== undefined) merged.tenantId = child.tenantId;
  if (child.context !== undefined) merged.context = { ...parent.context, ...child.context };
  if (child.metadata !== undefined) merged.metadata = { ...parent.metadata, ...child.metadata };
  return merged;
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return delay / 2 + Math.random() * (delay / 2);
}

function sleep(ms: number, keepAlive: boolean): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (!keepAlive) unref(timer);
  });
}

function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
