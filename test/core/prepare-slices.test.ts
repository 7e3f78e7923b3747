import { describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogError, type ActivityStore } from '../../src/index.js';

const KEY = 'an application secret of 32 bytes';

/** A store that keeps nothing, and calls `onInsert` as each batch arrives. */
function storeCalling(onInsert: (count: number) => Promise<void> | void): ActivityStore {
  return {
    name: 'calling',
    insert: async (records) => onInsert(records.length),
    query: async () => ({ items: [] }),
    get: async () => undefined,
    purge: async () => 0,
  };
}

const event = (i: number) => ({
  action: 'recipe.update',
  actor: { type: 'user', id: `u_${i % 50}`, name: 'Ada Lovelace' },
  target: { type: 'recipe', id: `r_${i}` },
  metadata: { email: 'ada@example.com', servings: 4 },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0' },
});

/**
 * Preparing a batch (validation, redaction, with `integrity` the seal) costs microseconds per
 * event; done in one go, a large batch would hold every request that arrives meanwhile. The
 * flusher lets the event loop turn between slices of about a millisecond.
 */
describe('a batch is prepared in slices', () => {
  it('lets the event loop turn while it prepares a large sealed batch, before the store gets it', async () => {
    let turnedBeforeInsert: boolean | undefined;
    let turned = false;
    const logger = createActivityLogger({
      store: storeCalling(() => {
        turnedBeforeInsert ??= turned;
      }),
      batchSize: 5000,
      maxQueue: 5000,
      integrity: { key: KEY, personal: ['email'] },
    });
    for (let i = 0; i < 5000; i++) logger.log(event(i));
    const flushed = logger.flush();
    // Prepared in one go, the batch would reach the store before this callback runs.
    setImmediate(() => (turned = true));
    await flushed;
    expect(logger.stats()).toMatchObject({ written: 5000, dropped: 0 });
    expect(turnedBeforeInsert).toBe(true);
    await logger.close();
  });

  it('keeps records in queue order across slices and batches, each sealed in that order', async () => {
    const records: { action: string; seq: number | undefined }[] = [];
    const store: ActivityStore = {
      name: 'keeping',
      insert: async (batch) => {
        for (const record of batch) records.push({ action: record.action, seq: record.integrity?.seq });
      },
      query: async () => ({ items: [] }),
      get: async () => undefined,
      purge: async () => 0,
    };
    const logger = createActivityLogger({ store, batchSize: 3000, maxQueue: 20_000, integrity: { key: KEY } });
    for (let i = 0; i < 10_000; i++) logger.log({ action: `step.n${i}` });
    await logger.close();
    expect(records.map((record) => record.action)).toEqual(Array.from({ length: 10_000 }, (_, i) => `step.n${i}`));
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
  });

  it('loses nothing silently when close() gives up on a stalled store while a batch is half prepared', async () => {
    const errors: ActivityLogError[] = [];
    let inserts = 0;
    const logger = createActivityLogger({
      store: storeCalling(() => {
        inserts += 1;
        return new Promise<void>(() => undefined);
      }),
      batchSize: 20_000,
      maxQueue: 20_000,
      // No batch settles for 20 ms: close() stops waiting while the batch, which takes far
      // longer than that to seal, is still being prepared.
      closeTimeoutMs: 20,
      integrity: { key: KEY, personal: ['email'] },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 20_000; i++) logger.log(event(i));
    await logger.close();
    // Every event counted once, as dropped, and reported: none was half taken.
    expect(logger.stats()).toMatchObject({ written: 0, dropped: 20_000 });
    const dropped = errors.map((error) => Number((error.details as { dropped?: number } | undefined)?.dropped ?? 0));
    expect(dropped.reduce((sum, count) => sum + count, 0)).toBe(20_000);
    // Given up on before it reached the store.
    expect(inserts).toBe(0);
  });
});
