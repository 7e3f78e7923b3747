import { ActivityLogError } from './errors.js';
import type { ActivityLoggerOptions } from './logger.js';
import type { ActivityCatalog, MaterializeConfig } from './materialize.js';
import { createRedactor } from './redact.js';
import { rateLimitedWarn, type ErrorHandler } from './report.js';
import { isActivitySpool, type ActivitySpool, type SpoolOptions } from './spool.js';
import { isActivityStore, type ActivityStore } from './store.js';

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
  closeTimeoutMs: number;
  onError: ErrorHandler;
  includeStack: boolean;
  materialize: MaterializeConfig;
  /** Present when a spool is configured. */
  spool: { spool: ActivitySpool; highWaterMark: number } | undefined;
}

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
    closeTimeoutMs: wholeNumber('closeTimeoutMs', options.closeTimeoutMs, 10_000, 0, 3_600_000),
    onError: options.onError ?? rateLimitedWarn(),
    includeStack: options.includeStack === true,
    materialize: {
      redactor: createRedactor(options.redact),
      maxMetadataBytes: wholeNumber('maxMetadataBytes', options.maxMetadataBytes, 8192, 64, 16 * 1024 * 1024),
      catalog,
    },
    spool: resolveSpool(options.spool),
  };
}

function resolveSpool(option: ActivitySpool | SpoolOptions | boolean | undefined): ResolvedOptions['spool'] {
  if (option === undefined || option === false) return undefined;
  if (isActivitySpool(option)) return { spool: option, highWaterMark: 0.8 };
  if (option !== true && (option === null || typeof option !== 'object')) {
    throw new ActivityLogError('INVALID_OPTIONS', 'spool: must be true, { filename, maxBytes, highWaterMark }, or a spool object');
  }
  const settings: SpoolOptions = option === true ? {} : option;
  if (settings.filename !== undefined && (typeof settings.filename !== 'string' || settings.filename.length === 0)) {
    throw new ActivityLogError('INVALID_OPTIONS', 'spool.filename: must be a non-empty string');
  }
  if (settings.maxBytes !== undefined) wholeNumber('spool.maxBytes', settings.maxBytes, 0, 1024, Number.MAX_SAFE_INTEGER);
  const highWaterMark = settings.highWaterMark ?? 0.8;
  if (typeof highWaterMark !== 'number' || !(highWaterMark > 0 && highWaterMark <= 1)) {
    throw new ActivityLogError('INVALID_OPTIONS', `spool.highWaterMark: must be a fraction of maxQueue above 0 and at most 1, got ${String(highWaterMark)}`);
  }
  return { spool: lazySqliteSpool(settings), highWaterMark };
}

/**
 * The built-in SQLite spool, loaded on first use. This is the one place the core reaches for
 * an adapter: `spool: { filename }` is a logger option, but the file needs better-sqlite3,
 * which only the adapter may import, and only when a spool is asked for.
 */
function lazySqliteSpool(settings: SpoolOptions): ActivitySpool {
  let loaded: Promise<ActivitySpool> | undefined;
  const spool = () => (loaded ??= import('../adapters/spool/sqlite.js').then((module) => module.sqliteSpool(settings)));
  return {
    name: `sqlite spool (${settings.filename ?? 'default'})`,
    append: async (records) => (await spool()).append(records),
    peek: async () => (await spool()).peek(),
    remove: async (batchId) => (await spool()).remove(batchId),
    size: async () => (await spool()).size(),
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
