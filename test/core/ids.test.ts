import { describe, expect, it } from 'vitest';
import { formatUuidv7, stampUuidv7, uuidv7, uuidv7Time, type UuidV7Stamp } from '../../src/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const blank = (): UuidV7Stamp => ({ ms: 0, counter: 0, rand0: 0, rand1: 0, rand2: 0 });

describe('UUIDv7 ids', () => {
  it('formats every part in its place', () => {
    // 0x0123456789ab ms, counter 0xcde, random bits chosen to show each nibble.
    const id = formatUuidv7({ ms: 0x0123456789ab, counter: 0xcde, rand0: 0x3fa1b2, rand1: 0xc3d4e5, rand2: 0xf607 });
    expect(id).toBe('01234567-89ab-7cde-bfa1-b2c3d4e5f607');
    expect(formatUuidv7({ ms: 0, counter: 0, rand0: 0, rand1: 0, rand2: 0 })).toBe('00000000-0000-7000-8000-000000000000');
    expect(formatUuidv7({ ms: 2 ** 48 - 1, counter: 0xfff, rand0: 0xffffff, rand1: 0xffffff, rand2: 0xffff })).toBe('ffffffff-ffff-7fff-bfff-ffffffffffff');
  });

  it('returns a new string each time, unchanged by the next id', () => {
    const first = uuidv7(1_700_000_000_000);
    const copy = `${first}`;
    uuidv7(1_800_000_000_000);
    expect(first).toBe(copy);
    expect(first).toMatch(UUID_V7);
  });

  it('sorts by time, and by creation within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => formatUuidv7(stampUuidv7(1_900_000_000_000 + Math.floor(i / 2500), blank())));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(uuidv7Time(ids[0]!)).toBeGreaterThanOrEqual(1_900_000_000_000);
  });

  it('reads the time back out of an id, and never goes back in time', () => {
    const later = uuidv7(2_100_000_123_456);
    expect(uuidv7Time(later)).toBe(2_100_000_123_456);
    // A clock that steps back: the id keeps the last time seen, so ids stay in order.
    const after = uuidv7(2_000_000_000_000);
    expect(uuidv7Time(after)).toBe(2_100_000_123_456);
    expect(after > later).toBe(true);
    expect(uuidv7Time('not-a-uuid')).toBeUndefined();
  });
});
