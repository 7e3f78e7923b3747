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
   * Set when the batch, or some of its records, could not be read back (a damaged file, a
   * payload from an unknown release, a record edited on disk): the spool has moved what it could
   * not read aside, so the replay goes on past it, and `records` holds the records it could
   * read (none when the payload as a whole is unreadable). The logger reports it
   * (`SPOOL_FAILED`), replays those records, and removes the batch.
   */
  unreadable?: string;
  /** How many records `unreadable` set aside, when the spool could count them. */
  unreadableRecords?: number;
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

/** A record of a spooled payload that cannot be read back, with the rule it breaks. */
export interface UnreadableRecord {
  /** Its place in the payload, from 0. */
  index: number;
  /** What is wrong, naming the field: `record 3 (id "e-3") has no action (a string)`. */
  reason: string;
  /** The record as the payload holds it, for a person to look at. */
  raw: unknown;
}

/**
 * The records of a spooled payload, each checked on its own: a record without its id, action,
 * status or a valid time could never be written, and would hold the replay up, so it is
 * returned apart (`unreadable`) while the others are replayed. Throws only when the payload
 * is not a list at all (not JSON, overwritten): then no record of it can be told apart.
 */
export function deserializeBatch(payload: string): { records: ActivityRecord[]; unreadable: UnreadableRecord[] } {
  const parsed = JSON.parse(payload) as unknown;
  if (!Array.isArray(parsed)) throw new Error('the payload is not a list of records');
  const records: ActivityRecord[] = [];
  const unreadable: UnreadableRecord[] = [];
  parsed.forEach((raw: unknown, index) => {
    const problem = recordProblem(raw);
    if (problem === undefined) records.push({ ...(raw as ActivityRecord), occurredAt: new Date((raw as { occurredAt: string }).occurredAt) });
    else {
      const id = (raw as { id?: unknown } | null)?.id;
      unreadable.push({ index, raw, reason: `record ${index}${typeof id === 'string' ? ` (id ${JSON.stringify(id)})` : ''} ${problem}` });
    }
  });
  return { records, unreadable };
}

/** What makes a spooled record unwritable, naming the field, or undefined. */
function recordProblem(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'is not an object';
  const record = raw as Record<string, unknown>;
  for (const field of ['id', 'action', 'status'] as const) {
    if (typeof record[field] !== 'string') return `has no ${field} (a string)`;
  }
  const time = typeof record.occurredAt === 'string' ? new Date(record.occurredAt) : undefined;
  if (!time || Number.isNaN(time.getTime())) return 'has no occurredAt (an ISO date string)';
  return undefined;
}
