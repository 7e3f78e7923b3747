import { describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityRecord, type ActivitySpool, type ActivityStore } from '../../src/index.js';

const KEY = 'an application secret of 32 bytes';

/** A store whose inserts never answer. */
const stalled: ActivityStore = {
  name: 'stalled',
  insert: () => new Promise<void>(() => undefined),
  query: async () => ({ items: [] }),
  get: async () => undefined,
  purge: async () => 0,
};

/**
 * A spool (the documented contract; anything may stand in) whose appends take a few
 * milliseconds, like one writing to a file or over the network. It never replays.
 */
function slowSpool() {
  const ids: string[] = [];
  let appends = 0;
  let closed = false;
  let appendedAfterClose = 0;
  const spool: ActivitySpool = {
    name: 'slow',
    async append(records: readonly ActivityRecord[]) {
      appends += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (closed) appendedAfterClose += records.length;
      for (const record of records) ids.push(record.id);
    },
    peek: async () => undefined,
    remove: async () => undefined,
    close: async () => {
      closed = true;
    },
  };
  return { spool, ids, get appends() { return appends; }, get appendedAfterClose() { return appendedAfterClose; } };
}

const event = (i: number) => ({
  action: 'recipe.update',
  actor: { type: 'user', id: `u_${i % 50}`, name: 'Ada Lovelace' },
  target: { type: 'recipe', id: `r_${i}` },
  metadata: { email: 'ada@example.com', servings: 4, i },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0' },
});

/**
 * A sealing logger over the stalled store and `spool`, with room for two batches, that gives
 * up on the store after 20 ms without progress.
 */
const spillingLogger = (spool: ActivitySpool, batchSize: number) =>
  createActivityLogger({
    store: stalled,
    spool,
    batchSize,
    maxQueue: batchSize * 2,
    closeTimeoutMs: 20,
    integrity: { key: KEY, personal: ['email'] },
    onError: () => undefined,
  });

const settledOf = (stats: ReturnType<ReturnType<typeof createActivityLogger>['stats']>) =>
  stats.written + stats.invalid + stats.dropped + stats.failed + stats.spooled;

/**
 * close() gives up on a stalled store while the flusher prepares a batch and the spool's spill
 * waits for its turn to take the next one. Whatever close() abandons goes to the spool once,
 * and close() resolves with every event settled: none is spooled after the spool closed.
 */
describe('close() while the spill waits for its turn to prepare a batch', () => {
  for (const batchSize of [2000, 5000]) {
    it(`settles every event once before close() resolves, each spooled once (batchSize ${batchSize})`, async () => {
      const spool = slowSpool();
      const logger = spillingLogger(spool.spool, batchSize);
      const total = batchSize * 2;
      for (let i = 0; i < total; i++) logger.log(event(i));
      await logger.close();
      const atClose = logger.stats();
      // Let anything still running after close() finish, to see what it does.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect({ settled: settledOf(atClose), queued: atClose.queued }).toEqual({ settled: total, queued: 0 });
      expect(settledOf(logger.stats())).toBe(total);
      expect(spool.appendedAfterClose).toBe(0);
      // Each event spooled at most once, and the spooled count says how many.
      expect(new Set(spool.ids).size).toBe(spool.ids.length);
      expect(spool.ids.length).toBe(logger.stats().spooled);
    });
  }
});

/**
 * close() gives up on a stalled store while the spool's spill prepares a batch: close()
 * finishes that batch and moves it to the spool; the spill, once its preparation returns,
 * must not append it a second time.
 */
describe('close() while the spill prepares a batch', () => {
  it('spools the batch once', async () => {
    const spool = slowSpool();
    const batchSize = 5000;
    const logger = spillingLogger(spool.spool, batchSize);
    // The flusher hands the store one event and waits on it for good: from then on only the
    // spill takes batches.
    logger.log(event(-1));
    void logger.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < batchSize * 2 - 1; i++) logger.log(event(i));
    // The spill starts on the next turn and prepares a batch of 5,000 sealed events (far
    // longer than closeTimeoutMs): close() gives up on the store while it does.
    await logger.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stats = logger.stats();
    expect(settledOf(stats)).toBe(batchSize * 2);
    expect(spool.ids.length - new Set(spool.ids).size).toBe(0);
    expect(spool.ids.length).toBe(stats.spooled);
    expect(spool.appendedAfterClose).toBe(0);
  });
});

