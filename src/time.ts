/**
 * How a time given as input (an event's `occurredAt`, a query's `from`/`to`, a purge's `before`,
 * a query-string parameter) is read, and which times a store can hold.
 *
 * - a `Date`, or a number: epoch milliseconds;
 * - a string of exactly 4 digits: that year, from its first millisecond in UTC (`2026`);
 * - a string of 9 or more digits (an optional `-` first): epoch milliseconds (`1767225600000`);
 * - any other string of digits only is refused as ambiguous (`20260315` is neither a year nor
 *   a useful epoch time: it would be 5 hours into 1970);
 * - an ISO 8601 date or date-time: `2026-03`, `2026-03-15`, `2026-03-15T10:00`,
 *   `2026-03-15T10:00:00.000+02:00`; without a `Z` or an offset, a date-time is UTC (not the
 *   server's zone, which would make the same URL mean different times on different servers);
 * - anything else JavaScript's `Date` reads, as it reads it.
 *
 * A date that is not on the calendar (`2026-02-30`, `2026-04-31`, `2025-02-29`) is refused:
 * JavaScript's `Date` reads it as a day of the next month, which would make a purge's
 * `before: '2026-02-31'` delete up to March 3.
 *
 * Every store holds the years 1 to 9999 (MySQL's DATETIME ends at 9999-12-31, and PostgreSQL's
 * timestamptz has no year 0); a time outside them is refused before any store sees it.
 */

/** The first millisecond every store can hold: 0001-01-01T00:00:00.000Z. */
export const EARLIEST_TIME_MS = -62_135_596_800_000;
/** The last millisecond every store can hold: 9999-12-31T23:59:59.999Z. */
export const LATEST_TIME_MS = 253_402_300_799_999;

/** The rule, as error messages state it. */
export const TIME_INPUT_RULE =
  'a Date, epoch milliseconds, a year (2026), or an ISO 8601 date or date-time (2026-03-15, 2026-03-15T10:00Z; UTC without an offset)';
export const TIME_RANGE_RULE = 'between 0001-01-01 and 9999-12-31 (UTC)';

// Any number of fraction digits (PostgreSQL's timestamp and Python's isoformat() write six):
// past three, `Date` reads the text in the server's zone instead of this rule's UTC.
const ISO_LOCAL_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(?:(?<=\.\d{3})\d+)?$/;
/** The date at the start of an ISO 8601 date or date-time: year, month, day. */
const ISO_DATE_START = /^[+-]?(\d{4,6})-(\d{2})-(\d{2})(?!\d)/;

/** False for a day the month does not have (`2026-02-30`), which `Date` would move into the next month. */
function isCalendarDay(text: string): boolean {
  const date = ISO_DATE_START.exec(text);
  if (!date) return true;
  const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  // Day 0 of the next month is this month's last day; setUTCFullYear takes years below 100 as they are.
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  return month >= 1 && month <= 12 && day >= 1 && day <= lastDay.getUTCDate();
}

/** The epoch milliseconds `value` stands for, or `NaN` when it is not a time by the rules above. */
export function timeInputToMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  if (/^-?\d+$/.test(text)) {
    const digits = text.startsWith('-') ? text.length - 1 : text.length;
    if (digits === 4 && !text.startsWith('-')) return Date.parse(`${text}-01-01T00:00:00.000Z`);
    return digits >= 9 ? Number(text) : Number.NaN;
  }
  if (!isCalendarDay(text)) return Number.NaN;
  const local = ISO_LOCAL_DATE_TIME.exec(text);
  // Digits past the millisecond are dropped, as a Date holds none.
  if (local) return Date.parse(`${local[1]}T${local[2]}Z`);
  return new Date(text).getTime();
}

/** True when `ms` is a time every store can hold. */
export function isStorableTime(ms: number): boolean {
  return ms >= EARLIEST_TIME_MS && ms <= LATEST_TIME_MS;
}
