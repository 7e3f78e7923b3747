import type { ActivityRecord } from './schema.js';

/**
 * A spool: a local, durable overflow for batches the store cannot take right now (it is down,
 * or slower than the event rate). The logger moves batches into it instead of dropping them,
 * and a replayer forwards them to the store, oldest first, once it answers again. Batches are
 * removed only after the store has committed them; ids make a replay idempotent.
 *
 * `activity-log` ships a SQLite spool (`spool: { filename }` or `spool: true`); anything that
 * implements this contract can stand in.
 */
export interface ActivitySpool {
  /** A short name for messages. */
  readonly name: string;
  /**
   * Appends one batch durably (it survives a crash of this process once this resolves).
   * Rejects with an `ActivityLogError` of code `SPOOL_FULL` when `maxBytes` would be passed.
   */
  append(records: readonly ActivityRecord[]): Promise<void>;
  /** The oldest batch, or undefined when the spool is empty. */
  peek(): Promise<SpooledBatch | undefined>;
  /**
   * Deletes a batch, after the store has committed it. Resolves to `false` when the batch was
   * gone already: another process sharing the spool forwarded it too, and counts it (a spool
   * that cannot tell may resolve to nothing; the batch then counts as this logger's).
   */
  remove(batchId: number): Promise<boolean | void>;
  /** Releases the file. */
  close(): Promise<void>;
}

/** One spooled batch. */
export interface SpooledBatch {
  id: number;
  records: ActivityRecord[];
  /**
   * Set when the batch could not be read back (a damaged file, a payload from an unknown
   * release): `records` is empty, and the spool has moved the payload aside, so the replay goes
   * on past it. The logger reports it (`SPOOL_FAILED`) and removes the batch.
   */
  unreadable?: string;
}

/** Options of the built-in SQLite spool. */
export interface SpoolOptions {
  /**
   * The spool file. Keep it stable across restarts: a logger replays what an earlier process
   * left in it.
   * @default '.activity-log-spool.db' in the working directory
   */
  filename?: string;
  /**
   * Largest size of spooled data; past it, events are dropped and counted (`SPOOL_FULL`).
   * @default 268435456 (256 MiB)
   */
  maxBytes?: number;
  /**
   * Queue fill (a fraction of `maxQueue`) above which batches go straight to the spool instead
   * of waiting for a slow store.
   * @default 0.8
   */
  highWaterMark?: number;
}

/** The spool file used by `spool: true`. */
export const DEFAULT_SPOOL_FILENAME = '.activity-log-spool.db';
/** 256 MiB. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;

/** True when `value` implements {@link ActivitySpool}. */
export function isActivitySpool(value: unknown): value is ActivitySpool {
  if (value === null || typeof value !== 'object') return false;
  const spool = value as Record<string, unknown>;
  return ['append', 'peek', 'remove', 'close'].every((method) => typeof spool[method] === 'function');
}

/** Records to the spool's text form and back (dates as ISO strings). */
export function serializeBatch(records: readonly ActivityRecord[]): string {
  return JSON.stringify(records);
}

/**
 * The records of a spooled payload. Throws when it is not a batch of records (a damaged file):
 * a record without its id, action, status or a valid time could never be written, and would
 * hold the replay up.
 */
export function deserializeBatch(payload: string): ActivityRecord[] {
  const records = JSON.parse(payload) as unknown;
  if (!Array.isArray(records)) throw new Error('the payload is not a list of records');
  return records.map((record: unknown, i) => {
    const { id, action, status, occurredAt } = (record ?? {}) as Record<string, unknown>;
    const time = typeof occurredAt === 'string' ? new Date(occurredAt) : undefined;
    if (typeof id !== 'string' || typeof action !== 'string' || typeof status !== 'string' || !time || Number.isNaN(time.getTime())) {
      throw new Error(`record ${i} of the payload has no id, action, status or valid occurredAt`);
    }
    return { ...(record as ActivityRecord), occurredAt: time };
  });
}
