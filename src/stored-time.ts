import { EARLIEST_TIME_MS, isStorableTime, LATEST_TIME_MS } from './time.js';

/**
 * A stored record's time as a store reads it back. The library writes whole milliseconds
 * between the years 1 and 9999; anything else in the column was written by someone else: an
 * UPDATE that added microseconds to a PostgreSQL `timestamptz` or set it to `'infinity'`,
 * a fraction, a huge number or text in SQLite's integer column. A `Date` cannot hold those
 * values (it keeps whole milliseconds, or becomes invalid), so the value as stored is kept
 * beside the `Date` read back:
 * - `verify()` reports such a record as edited (a whole-millisecond `Date` would still match
 *   its seal);
 * - a page that ends at it continues from the value as stored (`pagePosition`), so one such
 *   row never ends a listing, an export or an erasure at itself.
 */

/** A stored time no `Date` holds exactly: a number (a fraction, out of range, ±Infinity), or text. */
export type StoredTimeValue = number | string;

const storedValues = new WeakMap<Date, StoredTimeValue>();

/** A decimal number as drivers return exact numeric types (PostgreSQL's numeric, MySQL's decimal). */
const DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * The `Date` of a stored time, given as the store selected it in epoch milliseconds: a number,
 * a decimal as text, or other text (SQLite's column holding text, PostgreSQL's `Infinity`).
 * A time the library could have written is a plain `Date`; any other keeps its value as
 * stored for {@link storedTimeOf}.
 */
export function storedTime(stored: unknown): Date {
  const value = typeof stored === 'string' && DECIMAL.test(stored) ? Number(stored) : typeof stored === 'bigint' ? Number(stored) : stored;
  const ms = typeof value === 'number' ? value : NaN;
  const date = new Date(ms);
  if (Number.isSafeInteger(ms) && isStorableTime(ms)) return date;
  if (typeof value === 'number' || typeof value === 'string') storedValues.set(date, value);
  return date;
}

/** The time as stored, when it is one the library never writes (see {@link storedTime}). */
export function storedTimeOf(date: Date): StoredTimeValue | undefined {
  return storedValues.get(date);
}

/**
 * Whole epoch milliseconds in the storable range that stand for a stored time in page order,
 * for a store that compares whole milliseconds: the millisecond a fraction is in, the nearest
 * end of the range for a time beyond it; text (which SQLite orders after every number) the last.
 */
export function wholeMillisecondsOf(stored: StoredTimeValue): number {
  if (typeof stored === 'string' || Number.isNaN(stored)) return LATEST_TIME_MS;
  return Math.min(LATEST_TIME_MS, Math.max(EARLIEST_TIME_MS, Math.floor(stored)));
}
