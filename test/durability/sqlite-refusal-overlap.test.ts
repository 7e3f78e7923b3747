import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';

/**
 * The SQLite store works out which column a refused row broke with a transaction it rolls back
 * on its writer thread (begin, insert, rollback: several messages). Since the store gets the
 * next batch while it writes the current one, another batch can reach the thread inside that
 * transaction: run there, it was rolled back with it, yet answered as written (its records
 * counted written, lost, and covered by checkpoints). Real SQLite file and writer thread.
 */
const dir = mkdtempSync(join(tmpdir(), 'activity-log-refusal-overlap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a refused row diagnosed while other batches arrive (SQLite writer thread)', () => {
  it('never writes a batch inside the diagnosis: one that could only succeed there fails instead of being counted and lost', async () => {
    const filename = join(dir, 'inside.db');
    const prepared = sqliteStore({ filename });
    await prepared.migrate();
    await prepared.close();
    const raw = new Database(filename);
    raw.exec(`create trigger refuse_poison before insert on activity_logs when new.actor_name = 'poison' begin select raise(abort, 'refused'); end`);
    // "x.flaky" rows fail (a transient error, retried) unless an "a.poisoned" row is there:
    // and one is only inside the diagnosis's transaction, which is rolled back.
    raw.exec(
      `create trigger flaky before insert on activity_logs when new.action = 'x.flaky' and not exists (select 1 from activity_logs where action = 'a.poisoned') begin select json('{not json'); end`,
    );
    raw.close();
    const checkpoints: number[] = [];
    const logger = createActivityLogger({
      store: sqliteStore({ filename }),
      batchSize: 10,
      onError: () => {},
      retry: { maxAttempts: 400, baseDelayMs: 1, maxDelayMs: 2 },
      integrity: { key: 'a test key of at least thirty-two bytes', checkpointRecords: 10, onCheckpoint: (checkpoint) => void checkpoints.push(checkpoint.seq) },
    });
    for (let i = 0; i < 10; i++) logger.log({ action: 'x.flaky', metadata: { i } });
    for (let i = 0; i < 40; i++) logger.log({ action: 'a.poisoned', actor: { type: 'user', id: `u${i}`, name: 'poison' }, metadata: { i } });
    await logger.flush();
    const stats = logger.stats();
    const check = new Database(filename, { readonly: true });
    const { n } = check.prepare('select count(*) as n from activity_logs').get() as { n: number };
    check.close();
    // Every poisoned event refused, every flaky one failed: nothing counted written, nothing stored.
    expect(stats).toMatchObject({ written: 0, invalid: 40, failed: 10 });
    expect(n).toBe(0);
    await logger.close();
    // No signed checkpoint vouches for records the store does not hold.
    expect(checkpoints).toEqual([]);
  });
});
