import type { ActivityLogError } from '../errors.js';

/** Counters since the logger was created. `calls = written + invalid + failed + dropped + spooled + queued`. */
export interface ActivityStats {
  /** Events accepted into the queue. */
  enqueued: number;
  /** Events the store committed (a re-sent id the store skipped counts once here). */
  written: number;
  /** Events rejected by validation, or refused by the store for their content, each reported with its reason. */
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
  /** Records deleted by retention passes and by `purge()` calls on this logger. */
  purged: number;
  /** Events waiting or being written now. */
  queued: number;
  /** The most recent error reported through `onError`. */
  lastError?: ActivityLogError;
}

/** The counters every part of the pipeline adds to; `queued` and `lastError` are read, not counted. */
export type Counters = Omit<ActivityStats, 'queued' | 'lastError'>;

export function newCounters(): Counters {
  return { enqueued: 0, written: 0, invalid: 0, dropped: 0, failed: 0, retries: 0, spooled: 0, replayed: 0, purged: 0 };
}
