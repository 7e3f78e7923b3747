import { afterEach, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { IntegrityCheckpoint } from '../../src/integrity/options.js';
import { skipReason, tamperTarget, type TamperTarget } from '../integrity/databases.js';

/**
 * Retention with tamper evidence on, on each database: what retention deletes on purpose must
 * not read as tampering, and what someone deletes through the database's own client still must.
 */
const KEY = 'retention-integrity-test-key-32b';
const DAY = 86_400_000;

const loggers: ActivityLogger[] = [];
const track = (logger: ActivityLogger) => (loggers.push(logger), logger);

describe.each(['sqlite', 'postgres', 'mysql'] as const)('retention and verify() on %s', (kind) => {
  const skip = skipReason(kind);
  if (skip) console.warn(`[retention-integrity] skipping ${kind}: ${skip}`);
  let target: TamperTarget | undefined;
  const table = () => `h1_retint_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  afterEach(async () => {
    for (const logger of loggers.splice(0)) await logger.close();
    await target?.cleanup();
    target = undefined;
  });

  it.skipIf(Boolean(skip))('keeps the activity.erase records a short rule for the log\'s own records matches: erased records still verify as erased', async () => {
    target = await tamperTarget(kind, table());
    // The README's rule for the log's own records, shortened to a second so that the test need
    // not wait a month: it must not take the erasure while the records it erased are kept.
    const logger = track(
      createActivityLogger({ store: target.store(), integrity: { key: KEY, personal: ['email'] }, retention: { days: 90, rules: [{ action: 'activity.*', days: 1 / 86_400 }] } }),
    );
    // The read first: deleted from the chain's head, it is a purge verify({ from }) accepts (a
    // rule's delete inside a chain is a gap; see the README's "Retention and verification").
    logger.log({ action: 'activity.query', actor: { type: 'admin', id: 'a_1' } });
    await logger.flush();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const from = new Date();
    for (let i = 0; i < 3; i++) logger.log({ action: 'profile.update', actor: { type: 'user', id: 'u_42', name: 'Ada' }, metadata: { email: 'ada@example.com' } });
    await logger.flush();
    expect(await logger.erase({ actorId: 'u_42' })).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 1_200));

    // The rule still deletes the log's reads; the erasure stays as long as the records it erased.
    const removed = await logger.runRetention();
    const report = await logger.verify({ from });
    // Before: the erasure went with the reads, and each erased record was reported `edited`.
    expect(report.counts).toMatchObject({ edited: 0, missing: 0, erased: 3 });
    expect(report.ok).toBe(true);
    expect(removed).toBe(1);
    const actions = await target.all<{ action: string }>(`select action from ${target.table} order by action`);
    expect(actions.map((row) => row.action)).toEqual(['activity.erase', 'profile.update', 'profile.update', 'profile.update']);
  });

  it.skipIf(Boolean(skip))('after a pass by days, verifies from the cutoff, and still finds a deletion in the middle and the newest records deleted', async () => {
    target = await tamperTarget(kind, table());
    const outside: IntegrityCheckpoint[] = [];
    const now = Date.now();
    const logger = track(
      createActivityLogger({
        store: target.store(),
        integrity: { key: KEY, checkpointRecords: 5, onCheckpoint: (checkpoint) => void outside.push(checkpoint) },
        retention: { days: 30 },
      }),
    );
    // One record every two days from 81 days ago to 3, in order: the oldest 26 are past 30 days.
    for (let i = 0; i < 40; i++) logger.log({ action: 'recipe.update', occurredAt: new Date(now - (81 - 2 * i) * DAY) });
    await logger.flush();
    expect(await logger.runRetention()).toBe(26);
    const cutoff = new Date(now - 30 * DAY);
    // Checkpoints of purged places, in the store and given, are no problem from the cutoff on.
    expect((await logger.verify({ from: cutoff, checkpoints: outside })).ok).toBe(true);

    const rows = await target.all<{ id: string; seq: number | string }>(`select id, integrity_seq as seq from ${target.table} order by integrity_seq`);
    expect(rows).toHaveLength(14);
    await target.run(`delete from ${target.table} where id = ?`, [rows[7]!.id]);
    const middle = await logger.verify({ from: cutoff, checkpoints: outside });
    expect(middle.ok).toBe(false);
    expect(middle.problems).toEqual([expect.objectContaining({ kind: 'missing', seq: Number(rows[7]!.seq) })]);

    await logger.close();
    // The newest records and the store's checkpoints: only the checkpoints kept outside show it.
    await target.run(`delete from ${target.table} where integrity_seq >= ?`, [Number(rows[12]!.seq)]);
    await target.run(`delete from ${target.checkpoints}`);
    const reader = track(createActivityLogger({ store: target.store(), integrity: { key: KEY } }));
    const newest = await reader.verify({ from: cutoff, checkpoints: outside });
    expect(newest.counts).toMatchObject({ missing: 1, truncated: 1 });
  });
});

describe('retention and verify() on PostgreSQL with monthly partitions', () => {
  const skip = skipReason('postgres');
  if (skip) console.warn(`[retention-integrity] skipping partitions: ${skip}`);
  let target: TamperTarget | undefined;
  afterEach(async () => {
    for (const logger of loggers.splice(0)) await logger.close();
    await target?.cleanup();
    target = undefined;
  });

  /** The first instant of the UTC month `months` from this one, and its partition's suffix. */
  const month = (months: number) => {
    const now = new Date();
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1));
    return { start, name: start.toISOString().slice(0, 7).replace('-', '') };
  };

  it.skipIf(Boolean(skip))('verifies from the cutoff after whole months were dropped, as after rows deleted', async () => {
    const tableName = `h1_retpart_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
    target = await tamperTarget('postgres', tableName);
    const store = target.store({ partitioning: 'monthly' });
    await store.migrate!();
    // Months that were ahead once: the past year's partitions exist, as they would.
    for (let m = -13; m < 0; m++) {
      await target.run(`create table "${tableName}_p${month(m).name}" partition of ${target.table} for values from ('${month(m).start.toISOString()}') to ('${month(m + 1).start.toISOString()}')`);
    }
    const outside: IntegrityCheckpoint[] = [];
    const now = Date.now();
    const logger = track(createActivityLogger({ store, integrity: { key: KEY, checkpointRecords: 10, onCheckpoint: (checkpoint) => void outside.push(checkpoint) }, retention: { days: 45 } }));
    // One record a week over a year, in order.
    const ages = Array.from({ length: 52 }, (_, i) => 365 - 7 * i);
    for (const age of ages) logger.log({ action: 'recipe.update', occurredAt: new Date(now - age * DAY) });
    await logger.flush();
    const partitions = async () => (await target!.all<{ relname: string }>(`select relname from pg_class where relname like ?`, [`${tableName}_p%`])).map((row) => row.relname);
    expect(await partitions()).toContain(`${tableName}_p${month(-6).name}`);
    await logger.runRetention();
    const cutoff = new Date(now - 45 * DAY);
    const kept = ages.filter((age) => age < 45).length;
    expect(Number((await target.all<{ n: unknown }>(`select count(*) as n from ${target.table}`))[0]!.n)).toBe(kept);
    // Months that ended before the cutoff went as tables, not row by row.
    expect(await partitions()).not.toContain(`${tableName}_p${month(-6).name}`);
    const report = await logger.verify({ from: cutoff, checkpoints: outside });
    expect([report.ok, report.checked]).toEqual([true, kept]);
  });
});
