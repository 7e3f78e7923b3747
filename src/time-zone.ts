/**
 * Time-zone arithmetic for summaries, with nothing but `Intl`: a zone's offset at an instant,
 * and how a UTC time bucket maps to the zone's hour or day.
 *
 * Stores group by a UTC unit and the buckets are then regrouped into the zone's hours or days
 * (see `timeBucketing` in summary.ts). That is exact when no UTC unit straddles a local hour or
 * day boundary: the unit must divide every offset the zone has had and every instant it changed
 * at. Whole-hour zones (Europe/Paris, America/New_York) take an hour; half- and quarter-hour
 * zones (Asia/Kolkata +5:30, Asia/Kathmandu +5:45, Australia/Lord_Howe's 30-minute DST) take
 * 15 minutes, which divides every offset in use since the 1970s.
 */

const MINUTE = 60_000;
const QUARTER_HOUR = 15 * MINUTE;
const HOUR = 60 * MINUTE;

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
    });
    if (formatters.size > 64) formatters.clear();
    formatters.set(tz, formatter);
  }
  return formatter;
}

/** The zone's offset from UTC at the instant `ms`, in milliseconds (+05:30 is 19,800,000). */
export function zoneOffsetMs(tz: string, ms: number): number {
  const parts: Record<string, number> = {};
  for (const part of formatterOf(tz).formatToParts(new Date(ms))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

const units = new Map<string, number>();

/**
 * The UTC unit a store groups by for this zone: an hour when every offset the zone had from
 * 1970 to 2040 is a whole hour, 15 minutes when each is a multiple of it, a minute otherwise.
 * Sampled twice a year (winter and summer), cached per zone.
 */
export function zoneUnitMs(tz: string): number {
  const known = units.get(tz);
  if (known !== undefined) return known;
  let unit = HOUR;
  for (let year = 1970; year <= 2040 && unit > MINUTE; year++) {
    for (const month of [0, 6]) {
      const offset = zoneOffsetMs(tz, Date.UTC(year, month, 1));
      if (offset % unit !== 0) unit = offset % QUARTER_HOUR === 0 ? QUARTER_HOUR : MINUTE;
    }
  }
  units.set(tz, unit);
  return unit;
}
