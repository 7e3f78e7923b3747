import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityRecord } from '../../src/schema.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { FRAMEWORKS, startApp } from './apps.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const COUNT = 100_000;
const MB = 1024 * 1024;

/**
 * The export streams one store page at a time: the heap grows by a bounded amount however
 * many records match. Exporting 100,000 records (about 39 MB of NDJSON) by collecting them
 * first would hold every record and the whole body at once, well past the bound.
 */
describe('streaming export of 100,000 records', () => {
  let store: MemoryStore;
  let logger: ActivityLogger<any>;

  beforeAll(async () => {
    store = memoryStore();
    logger = createActivityLogger({ store, onError: () => {} });
    const base = Date.UTC(2026, 0, 1);
    for (let start = 0; start < COUNT; start += 10_000) {
      const batch: ActivityRecord[] = [];
      for (let i = start; i < start + 10_000; i++) {
        batch.push({
          id: `r${String(i).padStart(7, '0')}`,
          occurredAt: new Date(base + i * 1000),
          action: 'recipe.update',
          status: 'success',
          actor: { type: 'user', id: `u_${i % 97}` },
          target: { type: 'recipe', id: `recipe_${i}` },
          metadata: { note: `record number ${i} `.padEnd(200, 'x') },
        });
      }
      await store.insert(batch);
    }
  }, 120_000);

  afterAll(async () => {
    await logger.close();
  });

  for (const framework of FRAMEWORKS) {
    it(`keeps memory flat through ${framework} (NDJSON)`, async () => {
      const app = await startApp(framework, { logger, admin: true });
      try {
        gc();
        const baseline = process.memoryUsage();
        // Memory is measured live (after a collection: at the first chunk, every 64 chunks and
        // at the end), the heap and Buffers both: how much garbage V8 lets pile up between
        // collections differs between Node versions (Node 24 let 60-80 MB of it build up here),
        // what the export holds on to does not.
        const live = () => {
          gc();
          const { heapUsed, external } = process.memoryUsage();
          return heapUsed + external;
        };
        const baselineLive = live();
        let peakLive = baselineLive;
        let peakRss = baseline.rss;
        const sampler = setInterval(() => {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
        }, 10);
        const response = await fetch(`${app.url}/admin/logs/export?format=ndjson&action=recipe.*`, { headers: { 'x-role': 'admin' } });
        expect(response.status).toBe(200);
        const reader = response.body!.getReader();
        let bytes = 0;
        let lines = 0;
        for (let chunks = 1; ; chunks++) {
          const { done, value } = await reader.read();
          if (done) break;
          if (chunks === 1 || chunks % 64 === 0) peakLive = Math.max(peakLive, live());
          bytes += value.byteLength;
          for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++;
        }
        clearInterval(sampler);
        peakLive = Math.max(peakLive, live());
        const liveGrowth = (peakLive - baselineLive) / MB;
        const rssGrowth = (peakRss - baseline.rss) / MB;
        console.log(`${framework}: exported ${lines} records, ${(bytes / MB).toFixed(1)} MB; peak live heap and buffers +${liveGrowth.toFixed(1)} MB, rss +${rssGrowth.toFixed(1)} MB`);
        // Filtered to the seeded action: the API records its own activity.export events too.
        expect(lines).toBe(COUNT);
        expect(bytes).toBeGreaterThan(35 * MB);
        expect(liveGrowth).toBeLessThan(32);
        expect(rssGrowth).toBeLessThan(96);
      } finally {
        await app.close();
      }
    }, 60_000);
  }
});
