/**
 * A stored record's time as a store reads it back. The library writes whole milliseconds; a
 * stored time with digits below the millisecond (an UPDATE that added microseconds to a
 * PostgreSQL `timestamptz`, a REAL written into SQLite's integer column) was written by
 * someone else. A `Date` cannot hold those digits, so the `Date` read back would match the
 * record's seal: the time as stored is kept beside it, for `verify()` to report the record as
 * edited. A store that reads times as epoch milliseconds makes them with {@link storedTime}.
 */

const finerTimes = new WeakMap<Date, number>();

/**
 * The `Date` of a stored time given in epoch milliseconds: the whole milliseconds, and, when
 * the stored time has digits below them, those digits remembered for {@link finerThanMilliseconds}.
 */
export function storedTime(epochMs: number): Date {
  const date = new Date(epochMs);
  if (Number.isFinite(epochMs) && !Number.isInteger(epochMs)) finerTimes.set(date, epochMs);
  return date;
}

/** The stored time in epoch milliseconds, when it had digits below the millisecond. */
export function finerThanMilliseconds(date: Date): number | undefined {
  return finerTimes.get(date);
}
