import { describe, expect, it } from 'vitest';
import { timeBucketing } from '../../src/summary.js';
import { zoneChanges, zoneOffsetMs, zoneUnits } from '../../src/time-zone.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const ms = (iso: string) => Date.parse(iso);
const year2026 = [ms('2026-01-01T00:00:00Z'), ms('2026-12-31T23:59:59Z')] as const;

describe('time zones', () => {
  it('reads offsets in the years 1–99 as those years, not as 1900–1999', () => {
    // Kolkata's local mean time, +5:53:28 (1900 would be +5:21:10, Madras time).
    expect(zoneOffsetMs('Asia/Kolkata', ms('0050-06-15T18:00:00Z'))).toBe((5 * 3600 + 53 * 60 + 28) * 1000);
    expect(zoneOffsetMs('UTC', ms('0001-01-01T00:00:00Z'))).toBe(0);
  });

  it('finds the instants a zone changes at, to the second', () => {
    expect(zoneChanges('Australia/Lord_Howe', ...year2026).map((at) => new Date(at).toISOString())).toEqual(['2026-04-04T15:00:00.000Z', '2026-10-03T15:30:00.000Z']);
    expect(zoneChanges('America/St_Johns', ms('1989-01-01T00:00:00Z'), ms('1990-01-01T00:00:00Z')).map((at) => new Date(at).toISOString())).toEqual([
      '1989-04-02T03:31:00.000Z',
      '1989-10-29T02:31:00.000Z',
    ]);
  });

  it('groups today by the coarsest unit the range needs, whatever the zone did in the 1970s', () => {
    // Kiritimati was -10:40 and Monrovia -0:44:30 in the 1970s: no reason for minutes in 2026.
    expect(zoneUnits('Pacific/Kiritimati', ...year2026)).toEqual([{ unitMs: HOUR }]);
    expect(zoneUnits('Africa/Monrovia', ...year2026)).toEqual([{ unitMs: HOUR }]);
    expect(zoneUnits('Asia/Kolkata', ...year2026)).toEqual([{ unitMs: 30 * MINUTE }]);
    expect(zoneUnits('Asia/Kathmandu', ...year2026)).toEqual([{ unitMs: 15 * MINUTE }]);
    expect(zoneUnits('Australia/Lord_Howe', ms('2026-03-01T00:00:00Z'), ms('2026-04-30T00:00:00Z'))).toEqual([
      { untilMs: ms('2026-04-04T15:00:00Z'), unitMs: HOUR },
      { unitMs: 30 * MINUTE },
    ]);
  });

  it('takes finer units only where the range needs them: around a change at 00:01, in local mean time', () => {
    expect(zoneUnits('America/St_Johns', ms('1989-10-01T00:00:00Z'), ms('1989-11-30T00:00:00Z'))).toEqual([
      { untilMs: ms('1989-10-29T02:30:00Z'), unitMs: 30 * MINUTE },
      { untilMs: ms('1989-10-29T03:00:00Z'), unitMs: MINUTE },
      { unitMs: 30 * MINUTE },
    ]);
    expect(zoneUnits('Africa/Monrovia', ms('1971-01-01T00:00:00Z'), ms('1973-01-01T00:00:00Z'))).toEqual([
      // -0:44:30 until 1972-01-07T00:44:30Z: 30 s would do, seconds are the next unit we have.
      { untilMs: ms('1972-01-07T01:00:00Z'), unitMs: 1000 },
      { unitMs: HOUR },
    ]);
  });

  it('keys the hours of a half-hour DST change by the instant each local hour starts', () => {
    const time = timeBucketing('hour', 'Australia/Lord_Howe', { fromMs: ms('2026-04-04T00:00:00Z'), toMs: ms('2026-04-05T00:00:00Z') });
    const key = (iso: string) => time.key(time.unitStart(ms(iso)));
    expect(key('2026-04-04T14:10:00Z')).toBe('2026-04-04T14:00:00.000Z'); // 01:10 (+11)
    expect(key('2026-04-04T15:10:00Z')).toBe('2026-04-04T14:30:00.000Z'); // 01:40 (+10:30)
    expect(key('2026-04-04T15:40:00Z')).toBe('2026-04-04T15:30:00.000Z'); // 02:10 (+10:30)
    const kolkata = timeBucketing('day', 'Asia/Kolkata', { fromMs: ms('2026-01-01T00:00:00Z'), toMs: ms('2026-01-03T00:00:00Z') });
    expect(kolkata.key(kolkata.unitStart(ms('2026-01-01T18:29:59.999Z')))).toBe('2026-01-01');
    expect(kolkata.key(kolkata.unitStart(ms('2026-01-01T18:30:00.000Z')))).toBe('2026-01-02');
  });
});
