/**
 * Time-zone arithmetic for summaries, with nothing but `Intl`: a zone's offset at an instant,
 * the instants it changed at, and the UTC units a store can group by so that each unit falls
 * in one of the zone's hours (and so one of its days).
 *
 * Stores group by a UTC unit and the buckets are then regrouped into the zone's hours or days
 * (see `timeBucketing` in summary.ts). That is exact when no unit straddles a local hour
 * boundary: over a stretch of constant offset the unit must divide the offset (and an hour),
 * and the stretch must start and end on unit boundaries. So the units are chosen per stretch,
 * only over the time range being summarized: an hour for Europe/Paris since 1911, 30 minutes
 * for Asia/Kolkata, a minute for America/St_Johns in 1988–91 (its changes were at 00:01
 * local), a second for local mean time (Paris before 1911 was +0:09:21). A zone's far past
 * never makes today's summaries finer.
 *
 * What is exact: every offset and change that `Intl` (the ICU time-zone data of Node) reports
 * and that lasts at least a day: changes are found by sampling the offset once a day and then
 * narrowed to the second, so an offset held for less than a day between two equal ones would
 * be missed (the tz database has none that we know of).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The units a store may group by in a zone, coarsest first; each divides an hour. */
const UNITS = [HOUR, 30 * MINUTE, 15 * MINUTE, MINUTE, SECOND];

/** Names whose offset is always 0: no regrouping needed. */
const UTC_NAMES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'uct', 'etc/uct', 'zulu', 'etc/zulu', 'universal', 'etc/universal', 'greenwich', 'etc/greenwich', 'gmt0', 'etc/gmt0', 'gmt+0', 'gmt-0', 'etc/gmt+0', 'etc/gmt-0']);

/** Whether `tz` is UTC under one of its names (or absent). */
export function isUtc(tz: string | undefined): boolean {
  return tz === undefined || UTC_NAMES.has(tz.toLowerCase());
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(tz: string): Intl.DateTimeFormat {
  let formatter = formatters.get(tz);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    if (formatters.size > 64) formatters.clear();
    formatters.set(tz, formatter);
  }
  return formatter;
}

/** The zone's offset from UTC at the instant `ms`, in milliseconds (+05:30 is 19,800,000). */
export function zoneOffsetMs(tz: string, ms: number): number {
  const parts: Record<string, number> = {};
  let bc = false;
  for (const part of formatterOf(tz).formatToParts(new Date(ms))) {
    if (part.type === 'era') bc = part.value === 'BC';
    else if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  // Not Date.UTC: it reads the years 0–99 as 1900–1999. Year 0 is "1 BC".
  const wall = new Date(0);
  wall.setUTCFullYear(bc ? 1 - parts.year! : parts.year!, parts.month! - 1, parts.day!);
  wall.setUTCHours(parts.hour!, parts.minute!, parts.second!, 0);
  return wall.getTime() - (ms - (((ms % SECOND) + SECOND) % SECOND));
}

/** The instants in one UTC year at which the zone's offset changed, in order. */
const yearChanges = new Map<string, number[]>();
/** Zone-years kept at most (a zone over 60 years is 60); the first kept go first. Years before 1800 cost two samples and are not kept. */
const MAX_CACHED_YEARS = 2000;

function changesInYear(tz: string, year: number): number[] {
  const cacheKey = `${tz} ${year}`;
  const known = yearChanges.get(cacheKey);
  if (known) return known;
  const start = new Date(0);
  start.setUTCFullYear(year, 0, 1);
  const end = new Date(0);
  end.setUTCFullYear(year + 1, 0, 1);
  const changes: number[] = [];
  let at = start.getTime();
  let offset = zoneOffsetMs(tz, at);
  // Every zone of the tz database starts in local mean time, and the first change anywhere is
  // in 1844 (Asia/Manila): a year before 1800 is checked at its two ends only, so that a
  // record of the year 50 does not cost 1,750 years of daily samples.
  if (year < 1800 && zoneOffsetMs(tz, end.getTime()) === offset) at = end.getTime();
  while (at < end.getTime()) {
    const next = Math.min(at + DAY, end.getTime());
    const nextOffset = zoneOffsetMs(tz, next);
    // Each change in (at, next], narrowed to the second; more than one in a day is found too
    // as long as the offsets differ at the day's two ends.
    let lo = at;
    let loOffset = offset;
    while (loOffset !== nextOffset) {
      let a = lo;
      let b = next;
      while (b - a > SECOND) {
        const mid = a + Math.floor((b - a) / 2 / SECOND) * SECOND;
        if (zoneOffsetMs(tz, mid) === loOffset) a = mid;
        else b = mid;
      }
      if (b < end.getTime()) changes.push(b);
      lo = b;
      loOffset = zoneOffsetMs(tz, b);
    }
    at = next;
    offset = nextOffset;
  }
  if (year >= 1800) {
    if (yearChanges.size >= MAX_CACHED_YEARS) yearChanges.delete(yearChanges.keys().next().value!);
    yearChanges.set(cacheKey, changes);
  }
  return changes;
}

/** The instants in (fromMs, toMs) at which the zone's offset changed, in order. */
export function zoneChanges(tz: string, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const first = new Date(fromMs).getUTCFullYear();
  const last = new Date(toMs).getUTCFullYear();
  for (let year = first; year <= last; year++) for (const at of changesInYear(tz, year)) if (at > fromMs && at < toMs) out.push(at);
  return out;
}

/**
 * A stretch of time grouped by one UTC unit: records before `untilMs` (after the previous
 * segment's), or all the rest for the last segment, which has none.
 */
export interface UnitSegment {
  untilMs?: number;
  unitMs: number;
}

/**
 * The UTC units that group the times from `fromMs` to `toMs` (both included) exactly in the
 * zone's hours and days. Each stretch of constant offset takes the coarsest of an hour, 30
 * minutes, 15 minutes, a minute and a second that divides its offset; where the stretch does
 * not start or end on a boundary of that unit (America/St_Johns changed at 00:01 local), the
 * part up to the first boundary, or from the last, takes the coarsest unit that divides its
 * ends too. Neighbouring parts of the same unit are one segment. A time outside the range gets
 * the first or the last segment's unit, which is exact only as far as the zone did not change.
 */
export function zoneUnits(tz: string, fromMs: number, toMs: number): UnitSegment[] {
  // Widened to whole hours, which every unit divides, so the outer ends constrain nothing.
  const lo = Math.floor(fromMs / HOUR) * HOUR;
  const hi = Math.floor(toMs / HOUR) * HOUR + HOUR;
  const bounds = [lo, ...zoneChanges(tz, lo, hi), hi];
  const segments: UnitSegment[] = [];
  const add = (untilMs: number, unitMs: number) => {
    const previous = segments[segments.length - 1];
    if (previous && previous.unitMs === unitMs) previous.untilMs = untilMs;
    else segments.push({ untilMs, unitMs });
  };
  // The units nest (each divides the one before), so the coarsest that divides all of `values` is one find.
  const coarsest = (...values: number[]) => UNITS.find((unit) => values.every((value) => value % unit === 0)) ?? SECOND;
  for (let i = 0; i < bounds.length - 1; i++) {
    const start = bounds[i]!;
    const end = bounds[i + 1]!;
    const offset = zoneOffsetMs(tz, start);
    const unit = coarsest(offset);
    const first = Math.ceil(start / unit) * unit;
    const last = Math.floor(end / unit) * unit;
    if (first >= last) {
      add(end, coarsest(offset, start, end));
      continue;
    }
    if (first > start) add(first, coarsest(offset, start));
    add(last, unit);
    if (end > last) add(end, coarsest(offset, end));
  }
  delete segments[segments.length - 1]!.untilMs;
  return segments;
}
