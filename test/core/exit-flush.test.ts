import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';

/**
 * The logger's exit flush (src/pipeline/exit-flush.ts): a script that simply ends has what it
 * logged written (test/stores/script-exit.test.ts runs such scripts on every store). Here: what
 * it adds to the process. One `beforeExit` listener for any number of open loggers, none once
 * they are closed, so that an app or a test file creating many loggers is never warned of a
 * listener leak and leaves nothing behind.
 */
describe('the exit flush', () => {
  it('adds one beforeExit listener for any number of open loggers, and removes it when the last one closes', async () => {
    const before = process.listenerCount('beforeExit');
    const loggers = Array.from({ length: 25 }, () => createActivityLogger({ store: memoryStore() }));
    expect(process.listenerCount('beforeExit')).toBe(before + 1);
    await Promise.all(loggers.slice(0, 24).map((logger) => logger.close()));
    expect(process.listenerCount('beforeExit')).toBe(before + 1);
    await loggers[24]!.close();
    expect(process.listenerCount('beforeExit')).toBe(before);
  });

  it('flushes an open logger that holds events when beforeExit comes', async () => {
    const open = createActivityLogger({ store: memoryStore(), flushIntervalMs: 3_600_000, batchSize: 1000 });
    open.log({ action: 'script.ended' });
    expect(open.stats().queued).toBe(1);
    // What Node calls when the event loop empties (emitting beforeExit here would also reach
    // the test runner's own listeners).
    (globalThis as unknown as Record<symbol, { listener: () => void }>)[Symbol.for('activity-log.open-loggers')]!.listener();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(open.stats()).toMatchObject({ queued: 0, written: 1 });
    expect((await open.query()).items.map((record) => record.action)).toEqual(['script.ended']);
    await open.close();
  });
});
