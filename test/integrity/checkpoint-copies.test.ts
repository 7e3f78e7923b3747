import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityLogError, type ActivityStore } from '../../src/index.js';

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

describe('the last checkpoint at close()', () => {
  it('is reported when onCheckpoint has not taken it within closeTimeoutMs, not left to vanish with the process', async () => {
    const errors: ActivityLogError[] = [];
    const sunk: number[] = [];
    const activity = createActivityLogger({
      store: memoryStore(),
      closeTimeoutMs: 300,
      integrity: {
        key: KEY,
        checkpointRecords: 1000,
        // A sink that takes its time (a request to object storage across the world).
        onCheckpoint: async (checkpoint) => {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          sunk.push(checkpoint.seq);
        },
      },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 3; i++) activity.log({ action: 'slow.sink' });
    await activity.close();
    expect(sunk).toEqual([]);
    const report = errors.find((error) => error.code === 'CALLBACK_FAILED');
    expect(report?.message).toMatch(/onCheckpoint did not take checkpoint 3 of chain .* within closeTimeoutMs \(300 ms\)/);
  });

  it('is reported when the store has not kept it in the time close() gives it', async () => {
    const errors: ActivityLogError[] = [];
    const inner = memoryStore();
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'slow-checkpoints',
      insertCheckpoints: () => new Promise<void>((resolve) => setTimeout(resolve, 1000)),
    });
    const activity = createActivityLogger({ store, closeTimeoutMs: 300, integrity: { key: KEY }, onError: (error) => errors.push(error) });
    for (let i = 0; i < 3; i++) activity.log({ action: 'slow.store' });
    await activity.close();
    const report = errors.find((error) => error.code === 'STORE_FAILED');
    expect(report?.message).toMatch(/store "slow-checkpoints" did not keep checkpoint 3 of chain .* within 300 ms/);
  });
});

describe('onCheckpoint throwing', () => {
  it('is not reported as "kept in the store only" when the store did not keep that checkpoint either', async () => {
    const errors: ActivityLogError[] = [];
    const inner = memoryStore();
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'refuses-checkpoints',
      insertCheckpoints: () => Promise.reject(new Error('disk full')),
    });
    const activity = createActivityLogger({
      store,
      integrity: {
        key: KEY,
        onCheckpoint: async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error('bucket unreachable');
        },
      },
      onError: (error) => errors.push(error),
    });
    activity.log({ action: 'nowhere.kept' });
    await activity.close();
    expect(errors.map((error) => error.code).sort()).toEqual(['CALLBACK_FAILED', 'STORE_FAILED']);
    const sink = errors.find((error) => error.code === 'CALLBACK_FAILED')!;
    expect(sink.message).not.toMatch(/kept in the store only/);
    expect(sink.message).toMatch(/integrity\.onCheckpoint threw; the store could not keep checkpoint 1 either: it is lost/);
  });
});

describe('after close()', () => {
  it('makes no more checkpoints: an insert close() gave up on that commits later hands onCheckpoint nothing once close() has returned', async () => {
    const inner = memoryStore();
    let inserts = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const store = Object.assign(Object.create(inner) as ActivityStore, {
      name: 'late-commit',
      // The second batch commits only once let go: after close() gave up on it and spooled it.
      insert: (records: Parameters<ActivityStore['insert']>[0]) => (++inserts === 2 ? released.then(() => inner.insert(records)) : inner.insert(records)),
    });
    const sunk: number[] = [];
    const errors: ActivityLogError[] = [];
    const activity = createActivityLogger({
      store,
      batchSize: 5,
      closeTimeoutMs: 300,
      spool: { filename: join(dir, 'late-commit.db') },
      retry: { attemptTimeoutMs: 60_000 },
      integrity: { key: KEY, checkpointRecords: 5, onCheckpoint: (checkpoint) => void sunk.push(checkpoint.seq) },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 5; i++) activity.log({ action: 'late.first' });
    await expect.poll(() => sunk).toEqual([5]);
    for (let i = 0; i < 5; i++) activity.log({ action: 'late.second' });
    await expect.poll(() => inserts).toBe(2);
    await activity.close();
    expect(activity.stats()).toMatchObject({ written: 5, spooled: 5 });
    const afterClose = sunk.length;
    release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sunk.slice(afterClose), 'checkpoints handed on after close() returned').toEqual([]);
  });
});

describe('checkpoints waiting for a destination that hangs', () => {
  it('are bounded: past 10,000 waiting, each new one replaces the newest waiting (reported once), and the newest still arrives when it answers', async () => {
    const errors: ActivityLogError[] = [];
    const sunk: number[] = [];
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const activity = createActivityLogger({
      store: memoryStore(),
      integrity: {
        key: KEY,
        checkpointRecords: 1,
        // A sink that hangs on its first checkpoint (a file on a dead network share), then recovers.
        onCheckpoint: async (checkpoint) => {
          if (sunk.length === 0) await hung;
          sunk.push(checkpoint.seq);
        },
      },
      onError: (error) => errors.push(error),
    });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4000; i++) activity.log({ action: 'bounded.event' });
      await activity.flush();
    }
    // Before, all 11,999 waited in a chain of promises, one more for every record for as long as the sink hung.
    expect(sunk).toEqual([]);
    expect(errors.map((error) => [error.code, error.message])).toEqual([
      ['CALLBACK_FAILED', expect.stringContaining('integrity.onCheckpoint has not taken the last 10000 checkpoints of chain')],
    ]);
    expect(errors[0]!.details).toMatchObject({ seq: 10_002 });
    release();
    await activity.close();
    // The first (being handed over when the sink hung), the 9,999 after it, and the newest in place of the rest.
    expect(sunk).toHaveLength(10_001);
    expect(sunk.slice(0, 10_000)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    expect(sunk.at(-1)).toBe(12_000);
    expect(errors).toHaveLength(1);
  });
});
