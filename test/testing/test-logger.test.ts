import { describe, expect, it } from 'vitest';
import { createTestLogger } from '../../adapters/testing/index.js';
import { isActivityLogError } from '../../src/errors.js';

describe('createTestLogger', () => {
  it('has every event logged before flush() stored when flush() resolves, across batches and children', async () => {
    // A batch size smaller than the burst, so the flush spans several inserts and a full batch
    // starts writing before flush() is even called.
    const logger = createTestLogger({ batchSize: 7, flushIntervalMs: 60_000, onError: () => undefined });
    const child = logger.with({ actor: { type: 'user', id: '42' } });
    for (let i = 0; i < 50; i++) (i % 2 ? child : logger).log({ action: 'step.run', metadata: { i } });
    expect(logger.stats().queued).toBeGreaterThan(0);
    await child.flush();
    expect(logger.stats()).toMatchObject({ queued: 0, written: 50 });
    expect(logger.records().map((record) => record.metadata!.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await logger.close();
  });

  it('settles the events logged while a flush was already running', async () => {
    const logger = createTestLogger({ batchSize: 2, flushIntervalMs: 60_000 });
    logger.log({ action: 'first' });
    const first = logger.flush();
    logger.log({ action: 'second' });
    logger.log({ action: 'third' });
    await Promise.all([first, logger.flush()]);
    expect(logger.records().map((record) => record.action)).toEqual(['first', 'second', 'third']);
    await logger.close();
  });

  it('lists records oldest first, by occurredAt, whatever order they were logged in', async () => {
    const logger = createTestLogger();
    logger.log({ action: 'later', occurredAt: new Date('2026-03-02T00:00:00Z') });
    logger.log({ action: 'earlier', occurredAt: new Date('2026-03-01T00:00:00Z') });
    logger.log({ action: 'now' });
    await logger.flush();
    expect(logger.records().map((record) => record.action)).toEqual(['earlier', 'later', 'now']);
    expect(logger.store.all().map((record) => record.action)).toEqual(['now', 'later', 'earlier']);
    await logger.close();
  });

  it('collects what onError reports and still hands it to the given onError', async () => {
    const seen: string[] = [];
    const logger = createTestLogger({ onError: (error) => void seen.push(error.code) });
    logger.log({ action: '' });
    await logger.flush();
    expect(logger.errors().map((error) => error.code)).toEqual(['INVALID_EVENT']);
    expect(seen).toEqual(['INVALID_EVENT']);
    expect(logger.records()).toEqual([]);
    await logger.close();
  });

  it('refuses a store of its own, naming the field, and a non-function onError', () => {
    const withStore = () => createTestLogger({ store: {} } as never);
    expect(withStore).toThrow(/^store: createTestLogger makes its own memory store/);
    try {
      withStore();
    } catch (error) {
      expect(isActivityLogError(error, 'INVALID_OPTIONS')).toBe(true);
    }
    expect(() => createTestLogger({ onError: 'warn' } as never)).toThrow('onError: must be a function');
    // The logger's own validation still runs on the rest.
    expect(() => createTestLogger({ batchSize: 0 })).toThrow(/batchSize/);
  });
});
