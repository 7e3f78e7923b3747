import { describe, expect, it } from 'vitest';
import { timeFlag } from '../../adapters/cli/filters.js';

const now = Date.UTC(2026, 11, 7, 12, 0, 0);
const back = (value: string) => now - timeFlag('--since', value, now).getTime();

describe('a time flag of the CLI (--since, --until, --before)', () => {
  it('reads a duration of one unit or several, largest first', () => {
    expect(back('15m')).toBe(15 * 60_000);
    expect(back('2h')).toBe(2 * 3_600_000);
    expect(back('1h30m')).toBe(90 * 60_000);
    expect(back('2d12h')).toBe(60 * 3_600_000);
    expect(back('1w2d3h4m5s')).toBe(((((7 + 2) * 24 + 3) * 60 + 4) * 60 + 5) * 1000);
    expect(back(' 90m ')).toBe(90 * 60_000);
  });

  it('refuses a duration out of order, with a unit twice, without a number or a unit, naming the flag and the rule', () => {
    for (const value of ['30m1h', '1h1h', 'h', '1', '1.5h', '1H', '-1d', '', '1h 30m']) {
      expect(() => timeFlag('--since', value, now), value).toThrow(/--since: must be a duration back from now \(15m, 2h, 1h30m, 7d, 4w; units w d h m s, largest first\) or a date/);
    }
  });

  it('still reads a date, UTC without an offset', () => {
    expect(timeFlag('--until', '2026-01-31', now).toISOString()).toBe('2026-01-31T00:00:00.000Z');
  });
});
