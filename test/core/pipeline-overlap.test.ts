import { describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityStore } from '../../src/index.js';

/**
 * The flusher prepares the next batch (validation, redaction, sealing) while the store writes
 * the current one. A store's write usually starts a few awaits into the call (the SQLite store
 * posts to its writer thread after its connection is checked): the next batch must not be
 * prepared before that, or preparation and write take turns instead of running side by side.
 */
describe('the flusher and the store overlap', () => {
  it('starts the store on a batch before it prepares the next one', async () => {
    const order: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let batches = 0;
    const store: ActivityStore = {
      name: 'starts-late',
      async insert(records) {
        // Like a real store: some awaits before the write begins.
        await Promise.resolve();
        await Promise.resolve();
        batches += 1;
        order.push(`write ${batches} started (${records.length})`);
        if (batches === 1) await released;
      },
      query: async () => ({ items: [] }),
      get: async () => undefined,
      purge: async () => 0,
    };
    const logger = createActivityLogger({
      store,
      batchSize: 10,
      // The invalid event of the second batch is reported while that batch is prepared.
      onError: (error) => order.push(`prepared batch 2 (${error.code})`),
    });
    for (let i = 0; i < 10; i++) logger.log({ action: 'doc.view' });
    for (let i = 0; i < 9; i++) logger.log({ action: 'doc.view' });
    logger.log({ action: 'Not An Action!' });
    const flushed = logger.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual(['write 1 started (10)', 'prepared batch 2 (INVALID_EVENT)']);
    release();
    await flushed;
    expect(order).toEqual(['write 1 started (10)', 'prepared batch 2 (INVALID_EVENT)', 'write 2 started (9)']);
    await logger.close();
  });

  it('hands a store with concurrentInserts the next batch while it writes the current one, never more than two', async () => {
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const store: ActivityStore = {
      name: 'two-at-once',
      capabilities: { concurrentInserts: true },
      async insert(records) {
        await Promise.resolve();
        started.push(records.length);
        await new Promise<void>((resolve) => releases.push(resolve));
      },
      query: async () => ({ items: [] }),
      get: async () => undefined,
      purge: async () => 0,
    };
    const logger = createActivityLogger({ store, batchSize: 10, onError: () => {} });
    for (let i = 0; i < 40; i++) logger.log({ action: 'doc.view' });
    const flushed = logger.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Two batches at the store, the other two waiting for room.
    expect(started).toEqual([10, 10]);
    expect(logger.stats()).toMatchObject({ written: 0, queued: 40 });
    releases.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(started).toEqual([10, 10, 10]);
    while (started.length < 4 || releases.length > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await flushed;
    expect(logger.stats()).toMatchObject({ written: 40, queued: 0 });
    await logger.close();
  });
});
