import type { z } from 'zod';
import { EVENT_ID_PATTERN } from './cursor.js';
import { ActivityLogError } from './errors.js';
import { LoggerEngine } from './engine.js';
import { capture, type ActivityBindings, type ActivityCatalog } from './materialize.js';
import { resolveOptions } from './options.js';
import { parseActivityFilter, parseActivityQuery, parsePurgeOptions, parseSummaryQuery } from './query.js';
import type { RedactOptions } from './redact.js';
import type { ErrorHandler } from './report.js';
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
import type { ActivitySpool, SpoolOptions } from './spool.js';
import type { ActivityStore } from './store.js';

export { backoffDelay } from './engine.js';

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
  /**
   * A local spool for outages: when the store fails, or the queue passes a high-water mark,
   * batches go to a SQLite file instead of being dropped, and are replayed to the store once
   * it answers (also by the next process, after a crash). `true` uses
   * `.activity-log-spool.db` in the working directory. Needs better-sqlite3.
   * @default undefined (no spool)
   */
  spool?: boolean | SpoolOptions | ActivitySpool;
  /**
   * How long `close()` waits for the store before moving what is left to the spool (or
   * counting it as dropped, without one).
   * @default 10000
   */
  closeTimeoutMs?: number;
}

/** Counters since the logger was created. `calls = written + invalid + failed + dropped + spooled + queued`. */
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
  /** Events moved to the spool (they count as settled: the spool is durable). */
  spooled: number;
  /** Events forwarded from the spool to the store, including spools left by earlier processes. */
  replayed: number;
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
  const core = new LoggerEngine(resolveOptions(options));
  return new Logger<C>(core, undefined);
}

class Logger<C extends ActivityCatalog> implements ActivityLogger<C> {
  constructor(
    private readonly core: LoggerEngine,
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

  /** See {@link bindTrusted}. @internal */
  bindOwned(bindings: ActivityBindings): Logger<C> {
    return new Logger<C>(this.core, mergeBindings(this.bound, bindings));
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
    // No record has an id of another form, and a store must never see one it cannot hold
    // (PostgreSQL refuses a NUL in a parameter): such an id is simply not found.
    if (!EVENT_ID_PATTERN.test(id)) return undefined;
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

/**
 * A child of `parent` bound to `bindings` that this library built itself (the request
 * middleware's fresh context object, an actor it already copied): unlike `with()`, nothing is
 * copied again, because this runs on every request. Other loggers go through their `with()`.
 * @internal
 */
export function bindTrusted(parent: ActivityLogger<any>, bindings: ActivityBindings): ActivityLogger<any> {
  if (!(parent instanceof Logger)) return parent.with(bindings);
  return parent.bindOwned(bindings);
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
