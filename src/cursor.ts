import { ActivityLogError } from './errors.js';
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
}

const VERSION = 1;

/** Encodes a position as a URL-safe opaque string. */
export function encodeCursor(position: { occurredAt: Date; id: string }): string {
  const json = JSON.stringify([VERSION, position.occurredAt.getTime(), position.id]);
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
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid();
  const [version, occurredAtMs, id] = parsed as unknown[];
  if (version !== VERSION || typeof occurredAtMs !== 'number' || !Number.isSafeInteger(occurredAtMs) || !isStorableTime(occurredAtMs)) throw invalid();
  if (typeof id !== 'string' || !EVENT_ID_PATTERN.test(id)) throw invalid();
  return { occurredAtMs, id };
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
