import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityStore } from '../../src/index.js';
import { runLoad, sqlitePresence } from './fixtures.js';

/** 60 s under `npm run test:faults`; 15 s in `npm test` (ACTIVITY_LOG_SOAK_SECONDS sets it). */
const SOAK_MS = Number(process.env.ACTIVITY_LOG_SOAK_SECONDS ?? 15) * 1000;
/** Stated bound: resident memory may grow by at most this much between the first and last sample. */
const RSS_BOUND_BYTES = 64 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'activity-log-soak-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real SQLite store that rejects 10% of batches at random before writing them. */
function flaky(store: ActivityStore, failureRate: number): ActivityStore & { injected: number } {
  const wrapped = Object.create(store) as ActivityStore & { injected: number };
  wrapped.injected = 0;
  wrapped.insert = async (records) => {
    if (Math.random() < failureRate) {
      wrapped.injected++;
      throw new Error('injected failure');
    }
    return store.insert(records);
  };
  return wrapped;
}

describe(`a ${SOAK_MS / 1000} s soak at 2,000 events/s with 10% of batches failing`, () => {
  it('keeps its counters adding up, duplicates nothing, and keeps memory flat', async () => {
    const filename = join(dir, 'soak.db');
    const store = flaky(sqliteStore({ filename }), 0.1);
    const activity = createActivityLogger({ store, flushIntervalMs: 50, retry: { maxAttempts: 20, baseDelayMs: 20, maxDelayMs: 200 }, onError: () => {} });
    await activity.store.migrate?.();
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(process.memoryUsage().rss), 1000);
    const { logged } = await runLoad(activity, { prefix: 'soak', ratePerSecond: 2000, durationMs: SOAK_MS });
    clearInterval(sampler);
    await activity.close();
    const stats = activity.stats();
    expect(store.injected, 'failures were injected').toBeGreaterThan(0);
    expect(stats.retries).toBeGreaterThanOrEqual(store.injected);
    expect(stats.written + stats.failed + stats.dropped + stats.invalid + stats.queued).toBe(logged);
    expect(stats).toMatchObject({ dropped: 0, failed: 0, invalid: 0, queued: 0 });
    expect(sqlitePresence(filename, 'activity_logs', 'soak')).toEqual({ rows: logged, distinct: logged });
    // Memory: from the sample after a 3 s warm-up to the last one.
    const warm = samples[Math.min(3, samples.length - 1)]!;
    const growth = samples.at(-1)! - warm;
    console.log(`[soak] ${logged} events, rss ${(warm / 2 ** 20).toFixed(1)} → ${(samples.at(-1)! / 2 ** 20).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(RSS_BOUND_BYTES);
  });
});
