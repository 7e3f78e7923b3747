import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/logger.js';

// -0 is no JSON value: every SQL store reads a metadata -0 back as 0, and the memory store kept
// -0, so the same event read back differently (toEqual tells -0 from 0) from the store tests use.

const dir = mkdtempSync(join(tmpdir(), 'activity-log-negative-zero-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('stores a metadata or changes -0 as 0 in the memory store, as the SQL stores read it back', async () => {
  const event = {
    id: 'neg-zero',
    action: 'number.zero',
    metadata: { zero: -0, list: [-0, 1], nested: { zero: -0 } },
    changes: { before: { delta: 1 }, after: { delta: -0 } },
  };
  const read = [];
  for (const store of [memoryStore(), sqliteStore({ filename: join(dir, 'activity.db') })]) {
    const activity = createActivityLogger({ store });
    activity.log(event);
    await activity.flush();
    const record = await activity.get('neg-zero');
    await activity.close();
    expect(Object.is(record?.metadata?.zero, 0)).toBe(true);
    read.push({ metadata: record?.metadata, changes: record?.changes });
  }
  expect(read[0]).toEqual({ metadata: { zero: 0, list: [0, 1], nested: { zero: 0 } }, changes: { delta: { before: 1, after: 0 } } });
  expect(read[0]).toEqual(read[1]);
});
