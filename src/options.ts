import { optionNames, refuseUnknownOptions } from './option-keys.js';
import { ActivityLogError } from './errors.js';
import { resolveIntegrity, type IntegrityOptions, type ResolvedIntegrity } from './integrity/options.js';
import { resolveRetention, type ResolvedRetention, type RetentionOptions } from './retention/options.js';
import type { ActivityCatalog, MaterializeConfig } from './materialize.js';
import { createRedactor, type RedactOptions } from './redact.js';
import { describeValue } from './describe.js';
import { rateLimitedWarn, type ErrorHandler } from './report.js';
import { isActivitySpool, type ActivitySpool, type SpoolOptions } from './spool.js';
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
  /**
   * How long one `store.insert` may take before the attempt counts as failed. A database that
   * stopped answering (a lock never released, a connection lost without a reset) would
   * otherwise hold `flush()` forever. The late insert is not sent again while it is still
   * running, and if it commits after all, ids make the batch's next write a no-op.
   * @default 30000
   */
  attemptTimeoutMs?: number;
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
   * How long `close()` waits for a store that makes no progress (no batch written or spooled
   * for that long; a batch failing after its retries is none) before moving what is left to
   * the spool (or counting it as dropped, without one). A store that keeps writing is waited
   * for, however long its backlog takes. A store that gave up then has one more second in all
   * (its last checkpoint, its own `close()`).
   * @default 10000
   */
  closeTimeoutMs?: number;
  /**
   * Tamper evidence: every record is linked into a hash chain under your key, with signed
   * checkpoints, so that `verify()` finds an edited, deleted, reordered or truncated record;
   * personal fields can still be erased (`erase()`). See the README's "Tamper evidence".
   * @default undefined (off)
   */
  integrity?: IntegrityOptions;
  /**
   * Purges old records in the background, on a schedule, one instance at a time: records
   * no rule matches after `days`, and each rule's records after its own `days` (the longest
   * rule a record matches wins). See the README's "Retention".
   * @default undefined (nothing is purged unless you call purge())
   */
  retention?: RetentionOptions;
}

/** Logger options after validation, with every default applied. */
export interface ResolvedOptions {
  store: ActivityStore;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
  overflow: 'drop-newest' | 'drop-oldest';
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  attemptTimeoutMs: number;
  closeTimeoutMs: number;
  onError: ErrorHandler;
  includeStack: boolean;
  materialize: MaterializeConfig;
  /** Present when a spool is configured. */
  spool: { spool: ActivitySpool; highWaterMark: number } | undefined;
  /** Present when tamper evidence is on. */
  integrity: ResolvedIntegrity | undefined;
  /** Present when retention is on. */
  retention: ResolvedRetention | undefined;
}

/** The options of {@link ActivityLoggerOptions}, for the check that refuses others. @internal */
export const LOGGER_OPTIONS = optionNames<ActivityLoggerOptions>()([
  'store',
  'catalog',
  'batchSize',
  'flushIntervalMs',
  'maxQueue',
  'overflow',
  'retry',
  'onError',
  'redact',
  'maxMetadataBytes',
  'includeStack',
  'spool',
  'closeTimeoutMs',
  'integrity',
  'retention',
]);
const RETRY_OPTIONS = optionNames<RetryOptions>()(['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'attemptTimeoutMs']);
const SPOOL_OPTIONS = optionNames<SpoolOptions>()(['filename', 'maxBytes', 'highWaterMark']);

/** Validates logger options at the boundary; throws `INVALID_OPTIONS` naming the option. */
export function resolveOptions(options: ActivityLoggerOptions<ActivityCatalog>): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ActivityLogError('INVALID_OPTIONS', 'createActivityLogger: options must be an object with a "store"');
  }
  if (!isActivityStore(options.store)) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      'store: must be an activity store (an object with insert, query, get and purge), such as memoryStore() from "activity-log/memory"',
    );
  }
  refuseUnknownOptions('createActivityLogger', options, LOGGER_OPTIONS);
  if (options.retry !== undefined && (options.retry === null || typeof options.retry !== 'object' || Array.isArray(options.retry))) {
    throw new ActivityLogError('INVALID_OPTIONS', `retry: must be an object { maxAttempts, baseDelayMs, maxDelayMs }, got ${describeValue(options.retry)}`);
  }
  if (options.retry !== undefined) refuseUnknownOptions('retry', options.retry, RETRY_OPTIONS);
  if (options.includeStack !== undefined && typeof options.includeStack !== 'boolean') {
    throw new ActivityLogError('INVALID_OPTIONS', `includeStack: must be true or false, got ${describeValue(options.includeStack)}`);
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
    attemptTimeoutMs: wholeNumber('retry.attemptTimeoutMs', retry.attemptTimeoutMs, 30_000, 1, 3_600_000),
    closeTimeoutMs: wholeNumber('closeTimeoutMs', options.closeTimeoutMs, 10_000, 0, 3_600_000),
    onError: options.onError ?? rateLimitedWarn(),
    includeStack: options.includeStack === true,
    materialize: {
      redactor: createRedactor(options.redact),
      maxMetadataBytes: wholeNumber('maxMetadataBytes', options.maxMetadataBytes, 8192, 64, 16 * 1024 * 1024),
      catalog,
    },
    spool: resolveSpool(options.spool, spoolDestination(options.store)),
    integrity: resolveIntegrity(options.integrity),
    retention: resolveRetention(options.retention, options.store),
  };
}

/**
 * What the built-in spool's file is bound to: the store's name, its schema and table where it
 * has them, and its database's location where it says it (`postgres:audit.activity_logs@
 * 127.0.0.1:5432/app`). Two logs may not share one spool file.
 */
function spoolDestination(store: ActivityStore): string {
  const { tableName, schema } = store as { tableName?: unknown; schema?: unknown };
  const table = typeof tableName === 'string' ? `${typeof schema === 'string' ? `${schema}.` : ''}${tableName}` : undefined;
  const log = table === undefined ? store.name : `${store.name}:${table}`;
  return typeof store.location === 'string' && store.location !== '' ? `${log}@${store.location}` : log;
}

function resolveSpool(option: ActivitySpool | SpoolOptions | boolean | undefined, destination: string): ResolvedOptions['spool'] {
  if (option === undefined || option === false) return undefined;
  if (isActivitySpool(option)) return { spool: option, highWaterMark: 0.8 };
  if (option !== true && (option === null || typeof option !== 'object')) {
    throw new ActivityLogError('INVALID_OPTIONS', 'spool: must be true, { filename, maxBytes, highWaterMark }, or a spool object');
  }
  const settings: SpoolOptions = option === true ? {} : option;
  refuseUnknownOptions('spool', settings, SPOOL_OPTIONS);
  if (settings.filename !== undefined && (typeof settings.filename !== 'string' || settings.filename.length === 0)) {
    throw new ActivityLogError('INVALID_OPTIONS', 'spool.filename: must be a non-empty string');
  }
  if (settings.maxBytes !== undefined) wholeNumber('spool.maxBytes', settings.maxBytes, 0, 1024, Number.MAX_SAFE_INTEGER);
  const highWaterMark = settings.highWaterMark ?? 0.8;
  if (typeof highWaterMark !== 'number' || !(highWaterMark > 0 && highWaterMark <= 1)) {
    throw new ActivityLogError('INVALID_OPTIONS', `spool.highWaterMark: must be a fraction of maxQueue above 0 and at most 1, got ${String(highWaterMark)}`);
  }
  return { spool: lazySqliteSpool(settings, destination), highWaterMark };
}

/**
 * The built-in SQLite spool, loaded on first use. This is the one place the core reaches for
 * an adapter: `spool: { filename }` is a logger option, but the file needs better-sqlite3,
 * which only the adapter may import, and only when a spool is asked for.
 */
function lazySqliteSpool(settings: SpoolOptions, destination: string): ActivitySpool {
  let loaded: Promise<ActivitySpool> | undefined;
  const spool = () => (loaded ??= import('../adapters/spool/sqlite.js').then((module) => module.sqliteSpool(settings, destination)));
  return {
    name: `sqlite spool (${settings.filename ?? 'default'})`,
    append: async (records) => (await spool()).append(records),
    peek: async () => (await spool()).peek(),
    remove: async (batchId) => (await spool()).remove(batchId),
    close: async () => {
      if (loaded) await (await loaded).close();
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
