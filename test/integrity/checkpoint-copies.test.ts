import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityLogError } from '../../src/index.js';

const KEY = 'an application secret of 32 bytes';
const dir = mkdtempSync(join(tmpdir(), 'activity-log-checkpoint-copies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a checkpoint's two copies (the store's, onCheckpoint's)", () => {
  it('are separate objects: what onCheckpoint does with its copy (here, makes `at` a Date for its own database) never changes the store\'s', async () => {
    const filename = join(dir, 'copies.db');
    const errors: ActivityLogError[] = [];
    const sunk: unknown[] = [];
    const activity = createActivityLogger({
      store: sqliteStore({ filename }),
      integrity: {
        key: KEY,
        checkpointRecords: 5,
        onCheckpoint: (checkpoint) => {
          (checkpoint as { at: unknown }).at = new Date(checkpoint.at);
          sunk.push(checkpoint);
        },
      },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 12; i++) activity.log({ action: 'copies.event' });
    await activity.close();
    expect(sunk.length).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    const verifier = createActivityLogger({ store: sqliteStore({ filename }), integrity: { key: KEY } });
    const kept = await verifier.store.checkpointPage!({ limit: 10 });
    expect(kept).toHaveLength(sunk.length);
    expect(kept.at(-1)?.seq).toBe(12);
    for (const checkpoint of kept) expect(typeof checkpoint.at, String(checkpoint.seq)).toBe('string');
    expect(await verifier.verify()).toMatchObject({ ok: true, checked: 12 });
    await verifier.close();
  });
});
