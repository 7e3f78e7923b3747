import { ActivityLogError } from './errors.js';
import { storedTimeOf, wholeMillisecondsOf, type StoredTimeValue } from './stored-time.js';
import { isStorableTime } from './time.js';

/** Every stored id has this form (a caller's id is validated against it; UUIDv7s have it). */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The keyset cursor: the `(occurredAt, id)` of the last record of a page, as an opaque string.
 * Pages are ordered by `occurredAt` descending, then `id` descending, so the next page is
 * everything strictly "before" that pair. A page therefore costs the same at any depth, and a
 * record inserted while a reader pages never shifts the records it has not seen yet.
 */
export interface CursorPosition {
  occurredAtMs: number;
  id: string;
  /**
   * The last record's time as its store holds it, when that is no time the library writes (a
   * fraction of a millisecond, text in SQLite's column, PostgreSQL's `infinity`): a store that
   * can compare it continues from it, so a page ending at such a record is not the last one.
   * `occurredAtMs` then holds whole milliseconds that stand for it (see stored-time.ts).
   */
  storedTime?: StoredTimeValue | undefined;
}

/** The longest stored text a cursor carries; past it, the page continues from `occurredAtMs`. */
const MAX_STORED_TEXT = 200;

/** Where a page that ends at `record` continues from. */
export function pagePosition(record: { occurredAt: Date; id: string }): CursorPosition {
  const storedTime = storedTimeOf(record.occurredAt);
  if (storedTime === undefined) return { occurredAtMs: record.occurredAt.getTime(), id: record.id };
  const position: CursorPosition = { occurredAtMs: wholeMillisecondsOf(storedTime), id: record.id };
  if (typeof storedTime === 'number' || storedTime.length <= MAX_STORED_TEXT) position.storedTime = storedTime;
  return position;
}

const VERSION = 1;

/** Encodes a position as a URL-safe opaque string. */
export function encodeCursor(position: { occurredAt: Date; id: string }): string {
  const { occurredAtMs, id, storedTime } = pagePosition(position);
  // JSON has no Infinity: an infinite stored time goes as { inf: 1 } or { inf: -1 }.
  const stored = typeof storedTime === 'number' && !Number.isFinite(storedTime) ? { inf: Math.sign(storedTime) } : storedTime;
  const json = JSON.stringify(stored === undefined ? [VERSION, occurredAtMs, id] : [VERSION, occurredAtMs, id, stored]);
  return btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes a cursor made by {@link encodeCursor}; anything else is an `INVALID_QUERY` error. */
export function decodeCursor(cursor: string): CursorPosition {
  const problem = 'is not a cursor this library issued (pass the nextCursor of a page)';
  const invalid = () => new ActivityLogError('INVALID_QUERY', `cursor: ${problem}`, { details: { issues: [{ path: ['cursor'], message: problem }] } });
  let parsed: unknown;
  try {
    const base64 = cursor.replace(/-/g, '+').replace(/_/g, '/');
    parsed = JSON.parse(atob(base64));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || (parsed.length !== 3 && parsed.length !== 4)) throw invalid();
  const [version, occurredAtMs, id, stored] = parsed as unknown[];
  if (version !== VERSION || typeof occurredAtMs !== 'number' || !Number.isSafeInteger(occurredAtMs) || !isStorableTime(occurredAtMs)) throw invalid();
  if (typeof id !== 'string' || !EVENT_ID_PATTERN.test(id)) throw invalid();
  if (parsed.length === 3) return { occurredAtMs, id };
  const storedTime = storedTimeIn(stored);
  if (storedTime === undefined) throw invalid();
  return { occurredAtMs, id, storedTime };
}

/** The stored time of a cursor's fourth element: a finite number, text, or `{ inf: ±1 }`. */
function storedTimeIn(stored: unknown): StoredTimeValue | undefined {
  if (typeof stored === 'number') return Number.isFinite(stored) ? stored : undefined;
  if (typeof stored === 'string') return stored.length <= MAX_STORED_TEXT ? stored : undefined;
  const inf = (stored as { inf?: unknown } | null)?.inf;
  return inf === 1 || inf === -1 ? inf * Infinity : undefined;
}

/**
 * Compares two records in page order: negative when `a` comes first (is newer).
 * Ids break ties between equal timestamps, so the order is total.
 */
export function comparePageOrder(
  a: { occurredAtMs: number; id: string },
  b: { occurredAtMs: number; id: string },
): number {
  if (a.occurredAtMs !== b.occurredAtMs) return b.occurredAtMs - a.occurredAtMs;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
