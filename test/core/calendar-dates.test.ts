import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';
import { errorCollector } from '../helpers.js';

/**
 * A date the calendar does not have is refused wherever a time is taken. JavaScript's Date
 * reads `2026-02-31` as March 3, so a purge `before: '2026-02-31'` deleted three more days
 * than it said, and a query's `from` moved without a word.
 */
const NOT_ON_THE_CALENDAR = ['2026-02-29', '2026-02-30', '2026-02-31T10:00Z', '2026-04-31', '2026-06-31 12:00', '1900-02-29', '2026-01-00'];
const ON_THE_CALENDAR: [string, string][] = [
  ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ['2000-02-29T12:00', '2000-02-29T12:00:00.000Z'],
  ['2026-04-30T23:59:59.999Z', '2026-04-30T23:59:59.999Z'],
  ['2026-12-31', '2026-12-31T00:00:00.000Z'],
];

describe('a date that is not on the calendar', () => {
  it('is refused by query, count, summarize and purge, naming the field', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    try {
      for (const date of NOT_ON_THE_CALENDAR) {
        await expect(activity.query({ from: date }), date).rejects.toMatchObject({ code: 'INVALID_QUERY', message: expect.stringContaining('from: must be') });
        await expect(activity.count({ to: date }), date).rejects.toMatchObject({ message: expect.stringContaining('to: must be') });
        await expect(activity.summarize({ by: 'day', from: date }), date).rejects.toMatchObject({ message: expect.stringContaining('from: must be') });
        await expect(activity.purge({ before: date }), date).rejects.toMatchObject({ message: expect.stringContaining('before: must be') });
      }
    } finally {
      await activity.close();
    }
  });

  it('is an invalid occurredAt: reported through onError, never thrown by log(), nothing stored', async () => {
    const store = memoryStore();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError });
    for (const date of NOT_ON_THE_CALENDAR) expect(() => activity.log({ action: 'recipe.view', occurredAt: date })).not.toThrow();
    await activity.flush();
    expect(store.all()).toEqual([]);
    expect(errors.map((error) => error.code)).toEqual(NOT_ON_THE_CALENDAR.map(() => 'INVALID_EVENT'));
    expect(errors.every((error) => error.message.includes('occurredAt'))).toBe(true);
    await activity.close();
  });

  it('leaves every real day as it was, leap days included', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    for (const [date] of ON_THE_CALENDAR) activity.log({ action: 'recipe.view', occurredAt: date, metadata: { date } });
    await activity.flush();
    const stored = store.all().map((record) => [record.metadata?.date, record.occurredAt.toISOString()]);
    expect(stored.sort()).toEqual([...ON_THE_CALENDAR].sort());
    expect(await activity.count({ from: '2024-02-29', to: '2026-12-31' })).toBe(2);
    await activity.close();
  });
});
