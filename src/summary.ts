import type { ActivityRecord, ActivityStatus, NormalizedSummaryQuery, SummaryBucket } from './schema.js';
import { isUtc, zoneOffsetMs, zoneUnits, type UnitSegment } from './time-zone.js';

/** Summary semantics shared by every store: bucket keys, counting and bucket order. */

type Dimension = NormalizedSummaryQuery['by'];

const UNIT_MS = { hour: 3_600_000, day: 86_400_000 } as const;

/** The length of a time bucket, for `hour` and `day`; `undefined` for the other dimensions. */
export function timeBucketMs(by: Dimension): number | undefined {
  return by === 'hour' || by === 'day' ? UNIT_MS[by] : undefined;
}

/** The key of the time bucket holding `ms`: an ISO hour (`2026-01-02T03:00:00.000Z`) or day (`2026-01-02`). */
export function timeBucketKey(ms: number, by: 'hour' | 'day'): string {
  const start = Math.floor(ms / UNIT_MS[by]) * UNIT_MS[by];
  return by === 'day' ? dayOf(start) : new Date(start).toISOString();
}

/**
 * How a store groups records into the time buckets of a summary: by whole UTC units since the
 * epoch, then each unit's start is given its bucket's key with `key`. In UTC the unit is the
 * bucket itself; in another zone the units are chosen per stretch of the summarized range so
 * that each falls in one of the zone's hours (an hour, 30 or 15 minutes, a minute or a second:
 * see `zoneUnits` in time-zone.ts), and `key` places it in the zone's hour or day:
 * - `day`: the zone's calendar date, `2026-01-02`;
 * - `hour`: the instant the zone's hour starts, in ISO (`2026-01-02T03:30:00.000Z` for 09:00
 *   in Asia/Kolkata), so the two 01:00 hours of a DST change stay two buckets.
 */
export interface TimeBucketing {
  /**
   * The units, in time order: a record at `ms` is in the first segment whose `untilMs` is
   * above `ms` (the last segment has none). Its unit starts at `floor(ms / unitMs) * unitMs`,
   * floored also before 1970. Usually one segment.
   */
  segments: readonly UnitSegment[];
  /** The start of the unit holding `ms` (epoch milliseconds). */
  unitStart(ms: number): number;
  /** The bucket key of the unit starting at `unitStartMs`. */
  key(unitStartMs: number): string;
}

/** The times a summary covers, epoch milliseconds, both included: where a zone's units are chosen. */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/**
 * The {@link TimeBucketing} of `by` in `tz` (UTC when absent). In a zone other than UTC, give
 * the range of the records summarized (the query's `from` and `to`, or the oldest and newest
 * stored time where it has none): units are exact within it. Without one (no records), any
 * unit will do and it is an hour.
 */
export function timeBucketing(by: 'hour' | 'day', tz?: string, range?: TimeRange): TimeBucketing {
  if (isUtc(tz)) {
    const unitMs = UNIT_MS[by];
    return { segments: [{ unitMs }], unitStart: (ms) => Math.floor(ms / unitMs) * unitMs, key: (start) => timeBucketKey(start, by) };
  }
  const zone = tz!;
  const segments = range ? zoneUnits(zone, range.fromMs, range.toMs) : [{ unitMs: UNIT_MS.hour }];
  const keys = new Map<number, string>();
  return {
    segments,
    unitStart(ms) {
      const { unitMs } = segments.find((segment) => segment.untilMs === undefined || ms < segment.untilMs)!;
      return Math.floor(ms / unitMs) * unitMs;
    },
    key(start) {
      let key = keys.get(start);
      if (key === undefined) {
        const offset = zoneOffsetMs(zone, start);
        const wall = start + offset;
        key = by === 'day' ? dayOf(wall) : new Date(Math.floor(wall / UNIT_MS.hour) * UNIT_MS.hour - offset).toISOString();
        keys.set(start, key);
      }
      return key;
    },
  };
}

/** `2026-01-02` of a UTC time. */
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The bucket key of a record. A record without an actor counts under `(none)` by actor type.
 * Time buckets are UTC; pass a {@link timeBucketing} for those of a zone.
 */
export function bucketKey(record: Pick<ActivityRecord, 'action' | 'status' | 'actor'>, occurredAtMs: number, by: Dimension, time?: TimeBucketing): string {
  switch (by) {
    case 'action':
      return record.action;
    case 'status':
      return record.status;
    case 'actorType':
      return record.actor?.type ?? NO_KEY;
    case 'hour':
    case 'day':
      return time ? time.key(time.unitStart(occurredAtMs)) : timeBucketKey(occurredAtMs, by);
    default:
      return assertNever(by);
  }
}

/** The key of a group without a value (no actor, by actor type). */
export const NO_KEY = '(none)';

/**
 * Counts into buckets, then lists them in the one order every store returns: time buckets in
 * time order, each split by status for a stacked chart; others by count, descending, then key.
 * Stores add one record at a time (memory) or one grouped row at a time (SQL).
 */
export class SummaryCounter {
  private readonly buckets = new Map<string, SummaryBucket>();
  private readonly timed: boolean;

  constructor(private readonly by: Dimension) {
    this.timed = timeBucketMs(by) !== undefined;
  }

  /** Adds `count` records of `status` to the bucket `key`. */
  add(key: string, status: ActivityStatus, count = 1): void {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { key, count: 0 };
      if (this.timed) bucket.byStatus = {};
      this.buckets.set(key, bucket);
    }
    bucket.count += count;
    if (bucket.byStatus) bucket.byStatus[status] = (bucket.byStatus[status] ?? 0) + count;
  }

  /** The buckets, in order. */
  result(): SummaryBucket[] {
    const buckets = [...this.buckets.values()];
    if (this.timed) return buckets.sort((a, b) => compareKeys(a.key, b.key));
    return buckets.sort((a, b) => b.count - a.count || compareKeys(a.key, b.key));
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function assertNever(value: never): never {
  throw new Error(`unknown summary dimension ${String(value)}`);
}
