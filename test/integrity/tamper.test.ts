import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { derivedSalt } from '../../src/integrity/canonical.js';
import type { IntegrityCheckpoint } from '../../src/integrity/options.js';
import { createActivityLogger, type ActivityLogger, type ActivityLoggerOptions } from '../../src/index.js';
import { parseActivityQuery } from '../../src/query.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import type { ActivityStore } from '../../src/store.js';
import { POSTGRES_URL } from '../stores/databases.js';
import { skipReason, tamperTarget, type TamperTarget } from './databases.js';

/**
 * Tamper evidence on each database: a log is sealed through the logger, then rows are edited,
 * deleted, reordered and truncated through the database's own client, and `verify()` must name
 * each change by kind and record.
 */

const KEY = 'an application secret of 32 bytes';
const kinds = ['sqlite', 'postgres', 'mysql'] as const;

for (const kind of kinds) {
  const skip = skipReason(kind);
  if (skip) console.warn(`[integrity] ${kind}: skipped, ${skip}`);

  describe.skipIf(Boolean(skip))(`tamper evidence on ${kind}`, () => {
    let target: TamperTarget;
    let kept: IntegrityCheckpoint[];
    const loggers: ActivityLogger[] = [];

    const logger = (options: Partial<ActivityLoggerOptions> = {}) => {
      const created = createActivityLogger({
        store: target.store(),
        onError: (error) => {
          throw error;
        },
        ...options,
        integrity: { key: KEY, personal: ['email'], checkpointRecords: 50, onCheckpoint: (checkpoint) => void kept.push(checkpoint), ...options.integrity },
      });
      loggers.push(created);
      return created;
    };

    /** 120 events of three users, sealed and written; the logger closed (its last checkpoint kept). */
    const sealedLog = async (count = 120, prefix = 'evt') => {
      const writer = logger();
      for (let i = 0; i < count; i++) {
        writer.log({
          id: `${prefix}-${String(i).padStart(4, '0')}`,
          action: 'recipe.update',
          actor: { type: 'user', id: `u${i % 3}`, name: `User ${i % 3}` },
          target: { type: 'recipe', id: `r${i}`, name: `Recipe ${i}` },
          metadata: { email: `u${i % 3}@example.com`, servings: i },
          context: { ip: '10.0.0.1', userAgent: 'Mozilla/5.0', requestId: `req-${i}` },
        });
      }
      await writer.close();
    };

    const seqOf = async (id: string) => Number((await target.all<{ s: unknown }>(`select integrity_seq as s from ${target.table} where id = ?`, [id]))[0]!.s);

    beforeEach(async () => {
      kept = [];
      target = await tamperTarget(kind, `al_int_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`);
    });

    afterEach(async () => {
      for (const created of loggers.splice(0)) await created.close();
      await target.cleanup();
    });

    it('verifies a sealed log: every record checked, one chain, checkpoints in the store and outside', async () => {
      await sealedLog();
      const report = await logger().verify();
      expect(report).toMatchObject({ ok: true, checked: 120, chains: 1, problems: [] });
      const stored = await target.all<{ seq: unknown }>(`select seq from ${target.checkpoints} order by seq`);
      expect(stored.map((row) => Number(row.seq))).toEqual([50, 100, 120]);
      expect(kept.map((checkpoint) => checkpoint.seq)).toEqual([50, 100, 120]);
      // The personal values enter the chain as commitments; the seed of their salts is stored beside them.
      const [row] = await target.all<{ p: unknown; h: string }>(`select integrity_proof as p, integrity_hash as h from ${target.table} where id = ?`, ['evt-0007']);
      const proof = (typeof row!.p === 'string' ? JSON.parse(row!.p) : row!.p) as { seed: string; commitments: Record<string, string> };
      expect(Object.keys(proof.commitments).sort()).toEqual(['actor.name', 'context.ip', 'context.userAgent', 'metadata.email', 'target.name']);
      expect(proof.seed).toMatch(/^[A-Za-z0-9_-]{22}$/);
      for (const committed of Object.values(proof.commitments)) expect(committed).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(row!.h).toMatch(/^[0-9a-f]{64}$/);
    });

    it('finds a record whose column was edited', async () => {
      await sealedLog();
      await target.run(`update ${target.table} set action = ? where id = ?`, ['recipe.delete', 'evt-0042']);
      await target.run(`update ${target.table} set tenant_id = ? where id = ?`, ['t_evil', 'evt-0043']);
      const report = await logger().verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([
        expect.objectContaining({ kind: 'edited', id: 'evt-0042' }),
        expect.objectContaining({ kind: 'edited', id: 'evt-0043' }),
      ]);
    });

    it('finds a record whose time was moved by less than a millisecond, which a Date cannot show', async () => {
      await sealedLog();
      const before = await logger().get('evt-0042');
      // The seal covers whole milliseconds; each database's own client writes a finer time.
      if (kind === 'sqlite') await target.run(`update ${target.table} set occurred_at = occurred_at + 0.25 where id = ?`, ['evt-0042']);
      if (kind === 'postgres') await target.run(`update ${target.table} set occurred_at = occurred_at + interval '1 microsecond' where id = ?`, ['evt-0042']);
      if (kind === 'mysql') {
        // datetime(3) holds whole milliseconds: widened first, as someone with DDL rights could.
        await target.run(`alter table ${target.table} modify occurred_at datetime(6) not null`);
        await target.run(`update ${target.table} set occurred_at = occurred_at + interval 1 microsecond where id = ?`, ['evt-0042']);
      }
      const reader = logger();
      const report = await reader.verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'edited', id: 'evt-0042', detail: expect.stringMatching(/finer than the whole milliseconds/) })]);
      // Listed as before, at its whole millisecond.
      const after = await reader.get('evt-0042');
      expect(after!.occurredAt.getTime()).toBe(before!.occurredAt.getTime());
      expect((await reader.verify({ id: 'evt-0042' })).problems).toEqual([expect.objectContaining({ kind: 'edited', id: 'evt-0042' })]);
    });

    it('finds a personal value changed behind its commitment', async () => {
      await sealedLog();
      await target.run(`update ${target.table} set actor_name = ? where id = ?`, ['Someone Else', 'evt-0010']);
      const report = await logger().verify();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'edited', id: 'evt-0010', detail: expect.stringContaining('actor.name') })]);
    });

    it('finds a record deleted in the middle, renumbered or not', async () => {
      await sealedLog();
      await target.run(`delete from ${target.table} where id = ?`, ['evt-0060']);
      expect((await logger().verify()).problems).toEqual([expect.objectContaining({ kind: 'missing', id: 'evt-0061' })]);
      // Renumbered to hide the gap: the next record's link still shows it (and the checkpoints
      // now disagree with the places after it).
      await target.run(`update ${target.table} set integrity_seq = integrity_seq - 1 where integrity_seq > ?`, [60]);
      const report = await logger().verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'missing', id: 'evt-0061' })]));
      expect(report.counts.missing).toBe(1);
    });

    it('finds the newest records deleted, against the checkpoints in the store or kept outside it', async () => {
      await sealedLog();
      await target.run(`delete from ${target.table} where integrity_seq > ?`, [110]);
      expect((await logger().verify()).problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 120 })]);
      // Whoever deletes rows can delete checkpoints too: the ones kept outside still tell.
      await target.run(`delete from ${target.checkpoints} where seq > ?`, [50]);
      expect((await logger().verify()).ok).toBe(true);
      const report = await logger().verify({ checkpoints: kept });
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 120 })]);
      // A forged checkpoint is no checkpoint.
      const forged = { ...kept[2]!, seq: 500 };
      expect((await logger().verify({ checkpoints: [forged] })).problems).toEqual([expect.objectContaining({ kind: 'edited', seq: 500, detail: expect.stringContaining('signature') })]);
    });

    it('finds two records whose places were swapped', async () => {
      await sealedLog();
      const [a, b] = [await seqOf('evt-0030'), await seqOf('evt-0031')];
      await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [-1, 'evt-0030']);
      await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [a, 'evt-0031']);
      await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [b, 'evt-0030']);
      const report = await logger().verify();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'reordered' })]);
      expect(report.problems[0]!.detail).toContain('evt-0030');
      expect(report.problems[0]!.detail).toContain('evt-0031');
    });

    it('finds the newest records deleted in a verify of a time range too, and not when they are only later than it', async () => {
      // A second apart, so that a range can end between them.
      const base = Date.now() - 600_000;
      const writer = logger();
      for (let i = 0; i < 120; i++) writer.log({ id: `evt-${String(i).padStart(4, '0')}`, action: 'recipe.update', occurredAt: new Date(base + i * 1000) });
      await writer.close();
      const window = { from: new Date(base - 3_600_000), to: new Date(base + 3_600_000) };
      expect((await logger().verify(window)).ok).toBe(true);
      // A range that ends before the newest records: they are there, only outside it.
      const early = { to: new Date(base + 60_000) };
      const before = await logger().verify(early);
      expect(before.ok).toBe(true);
      expect(before.checked).toBe(60);
      await target.run(`delete from ${target.table} where integrity_seq > ?`, [110]);
      await target.run(`delete from ${target.checkpoints} where seq > ?`, [50]);
      for (const options of [{ ...window, checkpoints: kept }, { to: window.to, checkpoints: kept }]) {
        expect((await logger().verify(options)).problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 120 })]);
      }
      expect((await logger().verify({ ...early, checkpoints: kept })).problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 120 })]);
      // The whole chain gone, its checkpoints in the store too: the ones kept outside still tell.
      await target.run(`delete from ${target.table}`);
      await target.run(`delete from ${target.checkpoints}`);
      for (const options of [{ to: window.to, checkpoints: kept }, { ...early, checkpoints: kept }]) {
        expect((await logger().verify(options)).problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 120 })]);
      }
    });

    it('finds chains deleted whole before, between and after the chains still there', async () => {
      for (const prefix of ['c0', 'c1', 'c2', 'c3']) await sealedLog(20, prefix);
      const chains = (await target.all<{ c: string }>(`select distinct integrity_chain as c from ${target.table}`)).map((row) => row.c).sort();
      expect(chains).toHaveLength(4);
      for (const gone of [chains[0], chains[2], chains[3]]) await target.run(`delete from ${target.table} where integrity_chain = ?`, [gone]);
      const report = await logger().verify();
      expect(report.checked).toBe(20);
      expect(report.chains).toBe(4);
      expect(report.problems.map((found) => [found.kind, found.chain]).sort()).toEqual([chains[0], chains[2], chains[3]].map((gone) => ['truncated', gone]));
    });

    if (kind === 'postgres') it('finds truncations behind a chain id a collation sorts unlike JavaScript (PostgreSQL, en-US)', async () => {
      const [icu] = await target.all(`select 1 from pg_collation where collname = 'en-US-x-icu'`);
      if (!icu) return console.warn('[integrity] postgres: no en-US-x-icu collation, collation test skipped');
      for (const prefix of ['c0', 'c1']) await sealedLog(40, prefix);
      const chains = (await target.all<{ c: string }>(`select distinct integrity_chain as c from ${target.table}`)).map((row) => row.c).sort();
      // A database made with an en-US locale: it sorts "~" before digits, JavaScript after them.
      await target.run(`alter table ${target.table} alter column integrity_chain type varchar(96) collate "en-US-x-icu"`);
      await target.run(`alter table ${target.checkpoints} alter column chain type varchar(96) collate "en-US-x-icu"`);
      expect(await logger().verify()).toMatchObject({ ok: true, checked: 80 });
      // Through the database's client: chain c0's last record moved to a chain "~x", a checkpoint
      // of a chain "~" written, and chain c1's newest records deleted.
      await target.run(`update ${target.table} set integrity_chain = ? where id = ?`, ['~x', 'c0-0039']);
      await target.run(`insert into ${target.checkpoints} (chain, seq, hash, key_id, at, signature) values (?, ?, ?, ?, ?, ?)`, ['~', 1, 'a'.repeat(64), 'k1', new Date().toISOString(), 'f'.repeat(64)]);
      await target.run(`delete from ${target.table} where integrity_chain = ? and integrity_seq > ?`, [chains[1], 35]);
      const found = (report: { problems: { kind: string; chain?: string; seq?: number }[] }) => report.problems.map((problem) => [problem.kind, problem.chain, problem.seq]).sort();
      const forged = [
        ['edited', '~', 1],
        ['edited', '~x', 40],
      ];
      // (The chain "~x" begins at 40: its first 39 records are missing.)
      expect(found(await logger().verify())).toEqual([...forged, ['missing', '~x', 1], ['truncated', chains[0], 40], ['truncated', chains[1], 40]].sort());
      // Over a window, each chain's checkpoints still show its newest records gone.
      expect(found(await logger().verify({ from: new Date(Date.now() - 86_400_000) }))).toEqual([...forged, ['truncated', chains[0], 40], ['truncated', chains[1], 40]].sort());
    });

    it('finds records deleted at either edge of a verified range, while the chain goes on outside it', async () => {
      // A second apart: the range [from, to] holds places 41 to 80 of 120.
      const base = Date.now() - 600_000;
      const writer = logger();
      for (let i = 0; i < 120; i++) writer.log({ id: `evt-${String(i).padStart(4, '0')}`, action: 'recipe.update', occurredAt: new Date(base + i * 1000) });
      await writer.close();
      const range = { from: new Date(base + 40_000), to: new Date(base + 80_000), checkpoints: kept };
      const untouched = await logger().verify(range);
      expect([untouched.ok, untouched.checked]).toEqual([true, 40]);
      expect((await logger().verify({ to: range.to, checkpoints: kept })).ok).toBe(true);
      expect((await logger().verify({ from: range.from, checkpoints: kept })).ok).toBe(true);
      // The range's last ten records deleted: the chain goes on after it, unlinked.
      await target.run(`delete from ${target.table} where integrity_seq between ? and ?`, [71, 80]);
      for (const options of [range, { to: range.to, checkpoints: kept }]) {
        expect((await logger().verify(options)).problems).toEqual([expect.objectContaining({ kind: 'missing', seq: 71 })]);
      }
      // The range's first ten deleted too: its first record no longer links to the one before the range.
      await target.run(`delete from ${target.table} where integrity_seq between ? and ?`, [41, 50]);
      expect((await logger().verify({ from: range.from, checkpoints: kept })).problems).toEqual([
        expect.objectContaining({ kind: 'missing', seq: 41, detail: '10 records missing before 51' }),
        expect.objectContaining({ kind: 'missing', seq: 71 }),
      ]);
      // Every record from the chain's start to the range's end deleted: nothing is left in it, and the chain begins nowhere.
      await target.run(`delete from ${target.table} where integrity_seq <= ?`, [80]);
      expect((await logger().verify({ to: range.to, checkpoints: kept })).problems).toEqual([expect.objectContaining({ kind: 'missing', seq: 1 })]);
    });

    it('finds more than a thousand records deleted at the start of a verified range, while older records of the chain are left', async () => {
      // A second apart: the range from place 51 on; the chain's places 1 to 50 stay before it.
      const base = Date.now() - 2_000_000;
      const writer = logger();
      for (let i = 0; i < 1_100; i++) writer.log({ id: `evt-${String(i).padStart(4, '0')}`, action: 'recipe.update', occurredAt: new Date(base + i * 1000) });
      await writer.close();
      const range = { from: new Date(base + 50_000), checkpoints: kept };
      expect((await logger().verify(range)).ok).toBe(true);
      // Before, only the 1,000 places before the range's first were looked at for the one it
      // must link to: none there read as a lawful purge of everything older.
      await target.run(`delete from ${target.table} where integrity_seq between ? and ?`, [51, 1_060]);
      expect((await logger().verify(range)).problems).toEqual([expect.objectContaining({ kind: 'missing', seq: 51, detail: '1010 records missing before 1061' })]);
      // Everything older deleted too: what a purge by time leaves, and accepted from its cutoff (see the README).
      await target.run(`delete from ${target.table} where integrity_seq <= ?`, [50]);
      expect((await logger().verify(range)).ok).toBe(true);
    });

    /** Swaps the places (sequence numbers) of two records, as an UPDATE through the database's client would. */
    const swapPlaces = async (x: string, y: string) => {
      const [a, b] = [await seqOf(x), await seqOf(y)];
      await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [-1, x]);
      await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [a, y]);
      await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [b, x]);
    };

    it('reports a swap as reordered alone: at the chain\'s head, far apart, and at a checkpointed place', async () => {
      await sealedLog();
      const only = async () => {
        const report = await logger().verify();
        expect(report.ok).toBe(false);
        return report.problems.map((found) => [found.kind, found.id]);
      };
      for (const [x, y] of [
        // The first two records: the first place must link to nothing, and now the second does.
        ['evt-0000', 'evt-0001'],
        // Records far apart: the links around both places break too, as a swap breaks them.
        ['evt-0010', 'evt-0017'],
        // The last two, whose newest place close() checkpointed (as 50 and 100 were): the swap, not an edit too.
        ['evt-0118', 'evt-0119'],
        ['evt-0049', 'evt-0050'],
      ] as const) {
        await swapPlaces(x, y);
        expect(await only()).toEqual([['reordered', x]]);
        await swapPlaces(x, y);
      }
      expect((await logger().verify()).ok).toBe(true);
      // A swap around an edit, and a deletion: each found once, in chain order (a swap where it begins).
      await swapPlaces('evt-0020', 'evt-0030');
      await target.run(`update ${target.table} set action = ? where id = ?`, ['recipe.delete', 'evt-0025']);
      await target.run(`delete from ${target.table} where id = ?`, ['evt-0070']);
      expect(await only()).toEqual([
        ['reordered', 'evt-0020'],
        ['edited', 'evt-0025'],
        ['missing', 'evt-0071'],
      ]);
    });

    it('in a verify of a range, reports a swap alone also across a record outside the range (one queued late)', async () => {
      // Place 51 was sealed after records with later times (its request waited for its actor): before \`from\`.
      const base = Date.now() - 600_000;
      const writer = logger();
      for (let i = 0; i < 100; i++) writer.log({ id: `evt-${String(i).padStart(4, '0')}`, action: 'recipe.update', occurredAt: new Date(i === 50 ? base - 60_000 : base + i * 1000) });
      await writer.close();
      const range = { from: new Date(base) };
      expect((await logger().verify(range)).ok).toBe(true);
      await swapPlaces('evt-0039', 'evt-0059');
      expect((await logger().verify(range)).problems).toEqual([expect.objectContaining({ kind: 'reordered' })]);
    });

    it('checks every record of places renumbered to one, and holds at most 1,000 findings behind a broken link', async () => {
      /**
       * A chain of its own whose places 12 to 10 + \`ties\` are renumbered to 11, and whose record
       * at 10 is swapped with the one after them (at 11 + \`ties\`): the swap's halves are
       * \`ties\` findings apart (each renumbered record's place does not follow).
       */
      const renumbered = async (prefix: string, ties: number) => {
        const total = ties + 16;
        await sealedLog(total, prefix);
        const idAt = (seq: number) => `${prefix}-${String(seq - 1).padStart(4, '0')}`;
        const [{ c: chain }] = (await target.all<{ c: string }>(`select integrity_chain as c from ${target.table} where id = ?`, [idAt(1)])) as [{ c: string }];
        await target.run(`update ${target.table} set integrity_seq = ? where integrity_chain = ? and integrity_seq between ? and ?`, [11, chain, 12, 10 + ties]);
        await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [12, idAt(10)]);
        await target.run(`update ${target.table} set integrity_seq = ? where id = ?`, [10, idAt(11 + ties)]);
        const report = await logger().verify({ chain, maxProblems: 0 });
        // Every record read, though more of them share place 11 than a page holds.
        expect(report.checked).toBe(total);
        expect(report.ok).toBe(false);
        return report.counts;
      };
      expect(await renumbered('near', 100)).toMatchObject({ reordered: 1, missing: 0 });
      // Past 1,000 held findings, the oldest broken link is settled as missing: memory stays bounded.
      const far = await renumbered('far', 1019);
      expect(far.reordered).toBe(0);
      expect(far.missing).toBeGreaterThan(0);
    });

    it('verifies a chain checkpointed at every record, reading its checkpoints as it goes', async () => {
      const writer = logger({ integrity: { key: KEY, checkpointRecords: 1, onCheckpoint: (checkpoint) => void kept.push(checkpoint) } });
      for (let i = 0; i < 1600; i++) writer.log({ id: `evt-${String(i).padStart(4, '0')}`, action: 'recipe.update' });
      await writer.close();
      expect(kept.length).toBeGreaterThanOrEqual(1600);
      expect(await logger().verify({ checkpoints: kept })).toMatchObject({ ok: true, checked: 1600, problems: [] });
      // An edit far into the chain, and its newest records deleted with their checkpoints in the store.
      await target.run(`update ${target.table} set action = ? where id = ?`, ['recipe.delete', 'evt-1234']);
      await target.run(`delete from ${target.table} where integrity_seq > ?`, [1590]);
      await target.run(`delete from ${target.checkpoints} where seq > ?`, [1500]);
      const report = await logger().verify({ checkpoints: kept });
      expect(report.problems.map((found) => [found.kind, found.seq])).toEqual([
        ['edited', 1235],
        ['truncated', 1600],
      ]);
    });

    it('reports records made with a key it is not given, and verifies them once given the old key', async () => {
      await sealedLog(20);
      const rotated = { key: 'the next application secret, rotated', keyId: 'k2' };
      expect((await logger({ integrity: rotated }).verify()).counts['unknown-key']).toBe(20 + 1);
      expect((await logger({ integrity: { ...rotated, keys: { k1: KEY } } }).verify()).ok).toBe(true);
      // The same key id with another key: every record fails its hash, and the first finding asks about the key.
      const wrongKey = await logger({ integrity: { key: 'not the key these records were made with' } }).verify();
      expect(wrongKey.counts.edited).toBe(20 + 1);
      expect(wrongKey.problems[0]!.detail).toBe(
        'its content does not match its hash; none of the 20 records made with key "k1" matches its hash: is the key given for "k1" the one they were made with?',
      );
      expect(wrongKey.problems.slice(1).every((found) => !found.detail.includes('is the key'))).toBe(true);
    });

    it('erases a subject: the values are gone, the chain still verifies and reports them as erased', async () => {
      await sealedLog(30);
      const admin = logger();
      expect(await admin.erase({ actorId: 'u1' })).toBe(10);
      const rows = await target.all<{ n: string | null; c: unknown; m: unknown; p: unknown }>(`select actor_name as n, context as c, metadata as m, integrity_proof as p from ${target.table} where actor_id = ?`, ['u1']);
      expect(rows).toHaveLength(10);
      for (const row of rows) {
        const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
        expect(row.n).toBe('[ERASED]');
        expect(json(row.c)).toMatchObject({ ip: '[ERASED]', userAgent: '[ERASED]' });
        expect(json(row.m).email).toBe('[ERASED]');
        // The seed would give the erased salts back: only the salt of the field not erased is left.
        expect(json(row.p).seed).toBeUndefined();
        expect(Object.keys(json(row.p).salts as object).sort()).toEqual(['target.name']);
      }
      const other = await target.all<{ n: string }>(`select actor_name as n from ${target.table} where actor_id = ?`, ['u2']);
      expect(other.every((row) => row.n === 'User 2')).toBe(true);
      const erasure = await target.all<{ m: unknown }>(`select metadata as m from ${target.table} where action = ?`, ['activity.erase']);
      expect(erasure).toHaveLength(1);
      const report = await logger().verify();
      expect(report.problems.filter((problem) => problem.kind !== 'erased')).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.counts.erased).toBe(10);
      expect(report.counts.edited).toBe(0);
    });

    it('does not take an erasure nobody recorded for a lawful one', async () => {
      await sealedLog(10);
      // Done as erase() does it, value by value, but with no activity.erase to say so.
      const [row] = await target.all<{ p: unknown; c: unknown; m: unknown }>(`select integrity_proof as p, context as c, metadata as m from ${target.table} where id = ?`, ['evt-0004']);
      const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
      const proof = json(row!.p) as { seed?: string; salts?: Record<string, string> };
      delete proof.seed;
      proof.salts = {};
      const context = { ...json(row!.c), ip: '[ERASED]', userAgent: '[ERASED]' };
      const metadata = { ...json(row!.m), email: '[ERASED]' };
      await target.run(`update ${target.table} set actor_name = ?, target_name = ?, context = ?, metadata = ?, integrity_proof = ? where id = ?`, [
        '[ERASED]',
        '[ERASED]',
        JSON.stringify(context),
        JSON.stringify(metadata),
        JSON.stringify(proof),
        'evt-0004',
      ]);
      const report = await logger().verify();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'edited', id: 'evt-0004', detail: expect.stringContaining('no activity.erase') })]);
    });

    /** Five records in a table taken back to schema version 1, as a table of the first release is. */
    const firstSchemaTable = async () => {
      const before = createActivityLogger({ store: target.store() });
      for (let i = 0; i < 5; i++) before.log({ id: `old-${i}`, action: 'old.event', actor: { type: 'user', id: 'u1', name: 'Ada' } });
      await before.close();
      const name = target.table.slice(1, -1);
      if (kind === 'sqlite') await target.run(`drop index "${name}_chain_idx"`);
      for (const column of ['integrity_chain', 'integrity_seq', 'integrity_key', 'integrity_prev', 'integrity_hash', 'integrity_proof']) {
        await target.run(`alter table ${target.table} drop column ${column}`);
      }
      await target.run(`drop table ${target.checkpoints}`);
      await target.run(`update ${kind === 'mysql' ? `\`${name}_schema\`` : `"${name}_schema"`} set version = 1 where id = 1`);
      return name;
    };

    it('refuses a table of the first schema in a store that does not migrate, naming migrate(), and upgrades it when told', async () => {
      await firstSchemaTable();
      const unmigrated = target.store({ migrate: false });
      // Said once, rather than failing on the missing columns one statement at a time.
      await expect(unmigrated.query(parseActivityQuery({ limit: 10 }))).rejects.toMatchObject({ code: 'SCHEMA_VERSION', message: expect.stringMatching(/schema version 1, older .*migrate\(\)/) });
      await unmigrated.migrate!();
      await unmigrated.migrate!();
      expect((await unmigrated.query(parseActivityQuery({ limit: 10 }))).items).toHaveLength(5);
      const sealing = createActivityLogger({ store: unmigrated, integrity: { key: KEY } });
      sealing.log({ action: 'new.event' });
      await sealing.flush();
      expect(await sealing.verify()).toMatchObject({ ok: true, checked: 1 });
      await sealing.close();
    });

    if (kind === 'postgres') it('still refuses a table of the first schema once its migrate() failed (a role without DDL rights)', async () => {
      const name = await firstSchemaTable();
      const readOnly = `${POSTGRES_URL}${POSTGRES_URL!.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c default_transaction_read_only=on')}`;
      const store = postgresStore({ connectionString: readOnly, tableName: name, migrate: false, poolConfig: { max: 1 } });
      try {
        await expect(store.migrate!()).rejects.toMatchObject({ message: expect.stringContaining('read-only') });
        // Not each statement failing on a missing column: the table is checked again.
        await expect(store.query(parseActivityQuery({ limit: 10 }))).rejects.toMatchObject({ code: 'SCHEMA_VERSION' });
        await expect(store.insert([{ id: 'new-1', action: 'new.event', occurredAt: new Date(), status: 'success' } as never])).rejects.toMatchObject({ code: 'SCHEMA_VERSION' });
      } finally {
        await store.close!();
      }
    });

    it('upgrades a table made by the first schema in place, keeping its records, and seals from then on', async () => {
      const name = await firstSchemaTable();
      // An upgrade cut short after its first step (MySQL commits each ALTER on its own).
      await target.run(`alter table ${target.table} add column integrity_chain varchar(96)`);
      const after = logger();
      for (let i = 0; i < 5; i++) after.log({ id: `new-${i}`, action: 'new.event', actor: { type: 'user', id: 'u1', name: 'Ada' } });
      await after.flush();
      expect((await after.query({ limit: 20 })).items.map((record) => record.id).sort()).toEqual([...['old', 'new'].flatMap((p) => [0, 1, 2, 3, 4].map((i) => `${p}-${i}`))].sort());
      expect(await after.verify()).toMatchObject({ ok: true, checked: 5, chains: 1 });
      const [row] = await target.all<{ v: unknown }>(`select version as v from ${kind === 'mysql' ? `\`${name}_schema\`` : `"${name}_schema"`} where id = 1`);
      expect(Number(row!.v)).toBe(2);
    });

    it('lets two erasures run at once without either writing over the other', async () => {
      const writer = logger();
      for (let i = 0; i < 50; i++) writer.log({ id: `both-${i}`, action: 'doc.edit', actor: { type: 'user', id: 'u1', name: 'Alice' }, target: { type: 'doc', id: 'd1', name: 'Doc' } });
      await writer.flush();
      const [byActor, byTarget] = await Promise.all([writer.erase({ actorId: 'u1' }), logger().erase({ targetType: 'doc', targetId: 'd1' })]);
      expect([byActor, byTarget]).toEqual([50, 50]);
      const rows = await target.all<{ a: string; t: string }>(`select actor_name as a, target_name as t from ${target.table} where action = ?`, ['doc.edit']);
      expect(rows.every((row) => row.a === '[ERASED]' && row.t === '[ERASED]')).toBe(true);
      expect((await logger().verify()).ok).toBe(true);
    });

    it('takes as lawful its erasure of a record timed after the erasure itself (another instance clock ahead, a time the caller gave), also when run again', async () => {
      const writer = logger();
      writer.log({ id: 'ahead', action: 'doc.view', actor: { type: 'user', id: 'u5', name: 'Eve' }, metadata: { email: 'eve@example.com' }, occurredAt: new Date(Date.now() + 60_000) });
      writer.log({ id: 'now', action: 'doc.view', actor: { type: 'user', id: 'u5', name: 'Eve' }, metadata: { email: 'eve@example.com' } });
      await writer.close();
      expect(await logger().erase({ actorId: 'u5' })).toBe(2);
      const report = await logger().verify();
      expect(report.problems.filter((problem) => problem.kind !== 'erased')).toEqual([]);
      expect(report).toMatchObject({ ok: true, counts: { erased: 2 } });
      // The same erasure run again (as after a stop before its record): it rewrites nothing, and
      // its record alone, with the first's deleted, still covers the record ahead.
      expect(await logger().erase({ actorId: 'u5' })).toBe(0);
      const erasures = await target.all<{ id: string }>(`select id from ${target.table} where action = ? order by occurred_at`, ['activity.erase']);
      await target.run(`delete from ${target.table} where id = ?`, [erasures[0]!.id]);
      const again = await logger().verify();
      expect(again.problems.filter((problem) => problem.kind !== 'erased' && problem.kind !== 'missing')).toEqual([]);
      expect(again.counts.erased).toBe(2);
    });

    it('takes an erasure as lawful only for the fields it planned and the records made before it', async () => {
      await sealedLog(6);
      await logger().erase({ actorId: 'u1' });
      const later = logger();
      later.log({ id: 'late', action: 'recipe.update', actor: { type: 'user', id: 'u1', name: 'Later' }, target: { type: 'recipe', id: 'r9', name: 'Secret' } });
      await later.close();
      expect((await logger().verify()).ok).toBe(true);
      // Without the key, as erase() would do it: a field the erasure did not plan (target.name
      // of a record it covered), and a record made after it.
      for (const [id, fields] of [['evt-0001', ['target.name']], ['late', ['actor.name', 'target.name']]] as const) {
        const [row] = await target.all<{ p: unknown }>(`select integrity_proof as p from ${target.table} where id = ?`, [id]);
        const proof = (typeof row!.p === 'string' ? JSON.parse(row!.p) : row!.p) as { seed?: string; salts?: Record<string, string>; commitments: Record<string, string> };
        const salts: Record<string, string> = { ...proof.salts };
        if (proof.seed) for (const path of Object.keys(proof.commitments)) salts[path] = derivedSalt(proof.seed, path);
        for (const path of fields) delete salts[path];
        const set = fields.map((path) => `${path.replace('.', '_')} = '[ERASED]'`).join(', ');
        await target.run(`update ${target.table} set ${set}, integrity_proof = ? where id = ?`, [JSON.stringify({ salts, commitments: proof.commitments }), id]);
      }
      const report = await logger().verify();
      expect(report.problems.filter((problem) => problem.kind !== 'erased')).toEqual([
        expect.objectContaining({ kind: 'edited', id: 'evt-0001', detail: expect.stringContaining('no activity.erase') }),
        expect.objectContaining({ kind: 'edited', id: 'late', detail: expect.stringContaining('no activity.erase') }),
      ]);
    });

    it('finds a record inserted without a seal, newer than the sealed ones', async () => {
      await sealedLog(5);
      const at = kind === 'sqlite' ? Date.now() : kind === 'postgres' ? new Date().toISOString() : new Date().toISOString().slice(0, 23).replace('T', ' ');
      await target.run(`insert into ${target.table} (id, occurred_at, action, status, actor_type, actor_id) values (?, ?, ?, ?, ?, ?)`, ['forged', at, 'admin.grant', 'success', 'user', 'mallory']);
      const report = await logger().verify();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'unsealed', id: 'forged' })]);
    });

    it('checks one record by id as the walk would: a removed seal is unsealed, an unknown id missing, a record from before integrity no problem', async () => {
      const before = createActivityLogger({ store: target.store() });
      before.log({ id: 'old-1', occurredAt: new Date(Date.now() - 60_000), action: 'recipe.create', actor: { type: 'user', id: 'u1' } });
      await before.close();
      await sealedLog(20);
      await target.run(
        `update ${target.table} set integrity_chain = null, integrity_seq = null, integrity_key = null, integrity_prev = null, integrity_hash = null, integrity_proof = null where id = ?`,
        ['evt-0012'],
      );
      const verifier = logger();
      // Before: each of these was { ok: true, checked: 0 }, "nothing wrong".
      expect(await verifier.verify({ id: 'evt-0012' })).toMatchObject({ ok: false, checked: 0, problems: [expect.objectContaining({ kind: 'unsealed', id: 'evt-0012' })] });
      expect(await verifier.verify({ id: 'evt-9999' })).toMatchObject({ ok: false, checked: 0, problems: [expect.objectContaining({ kind: 'missing', id: 'evt-9999' })] });
      expect(await verifier.verify({ id: 'old-1' })).toMatchObject({ ok: true, checked: 0, problems: [] });
      expect(await verifier.verify({ id: 'evt-0013' })).toMatchObject({ ok: true, checked: 1, problems: [] });
    });

    it('erases from a sealed record only the values its seal committed, so the record still verifies', async () => {
      const writer = logger({ integrity: { key: KEY, personal: [] } });
      writer.log({ id: 'before-personal', action: 'user.signup', actor: { type: 'user', id: 'u7', name: 'Ann' }, metadata: { email: 'ann@example.com' } });
      await writer.close();
      expect(await logger().erase({ actorId: 'u7' })).toBe(1);
      const [row] = await target.all<{ m: unknown; n: string }>(`select metadata as m, actor_name as n from ${target.table} where id = ?`, ['before-personal']);
      expect(row!.n).toBe('[ERASED]');
      expect((typeof row!.m === 'string' ? JSON.parse(row!.m) : row!.m).email).toBe('ann@example.com');
      expect((await logger().verify()).problems.filter((problem) => problem.kind !== 'erased')).toEqual([]);
    });

    it('erases the metadata a sealed record committed to as personal, also through a logger that does not list it', async () => {
      const writer = logger({ integrity: { key: KEY, personal: ['email'] } });
      writer.log({ id: 'committed-email', action: 'user.login', actor: { type: 'user', id: 'u8', name: 'Bob' }, metadata: { email: 'bob@example.com', plan: 'pro' } });
      await writer.close();
      // As the command line's erase does without --personal: the logger knows only the key.
      expect(await logger({ integrity: { key: KEY, personal: [] } }).erase({ actorId: 'u8' })).toBe(1);
      const [row] = await target.all<{ m: unknown }>(`select metadata as m from ${target.table} where id = ?`, ['committed-email']);
      expect(typeof row!.m === 'string' ? JSON.parse(row!.m) : row!.m).toEqual({ email: '[ERASED]', plan: 'pro' });
      const [erasure] = await target.all<{ m: unknown }>(`select metadata as m from ${target.table} where action = ?`, ['activity.erase']);
      expect((typeof erasure!.m === 'string' ? JSON.parse(erasure!.m) : erasure!.m).fields).toContain('metadata.email');
      const report = await logger().verify();
      expect(report.problems.filter((problem) => problem.kind !== 'erased')).toEqual([]);
      expect(report.counts.erased).toBe(1);
    });

    /**
     * The table through a store that runs `meanwhile` once, right after its first page of a
     * chain is read: what a live logger does while a verify walks.
     */
    const whileWalking = (meanwhile: () => Promise<void>): ActivityStore => {
      const real = target.store();
      let ran = false;
      return {
        ...real,
        async chainPage(query) {
          const page = await real.chainPage!(query);
          if (!ran) {
            ran = true;
            await meanwhile();
          }
          return page;
        },
      };
    };

    /**
     * Runs `body` with the chain's records at `places` moved out of the table into a hold table
     * (named to `body`): a live logger's batches not committed yet. The hold table is dropped after.
     */
    const withPlacesHeld = async (places: readonly number[], body: (hold: string) => Promise<void>): Promise<void> => {
      const hold = `${target.table.slice(0, -1)}_hold${target.table.slice(-1)}`;
      await target.run(`create table ${hold} as select * from ${target.table} where integrity_seq in (${places.join(', ')})`);
      try {
        await target.run(`delete from ${target.table} where integrity_seq in (${places.join(', ')})`);
        await body(hold);
      } finally {
        await target.run(`drop table ${hold}`);
      }
    };

    it('walks on past the end of a chain when a live logger writes and checkpoints more of it meanwhile, rather than reporting it truncated', async () => {
      const writer = logger({ integrity: { key: KEY, checkpointRecords: 5 } });
      for (let i = 0; i < 10; i++) writer.log({ id: `live-${String(i).padStart(2, '0')}`, action: 'doc.view' });
      await writer.flush();
      const store = whileWalking(async () => {
        for (let i = 10; i < 20; i++) writer.log({ id: `live-${String(i).padStart(2, '0')}`, action: 'doc.view' });
        await writer.close();
      });
      const report = await logger({ store }).verify();
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, checked: 20, chains: 1 });
      // A truncation is still one: the newest records and the store's checkpoints gone.
      await target.run(`delete from ${target.table} where integrity_seq > 15`);
      const truncated = await logger().verify();
      expect(truncated.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 20 })]);
    });

    it('walks again a gap that a live logger\'s late batch fills while the walk reads past it, at a chain\'s head too, rather than reporting records missing', async () => {
      await sealedLog(12);
      await withPlacesHeld([1, 2, 6, 7], async (hold) => {
        // The batches of places 1-2 and 6-7 commit after the walk read its first page.
        const store = whileWalking(() => target.run(`insert into ${target.table} select * from ${hold}`));
        const report = await logger({ store }).verify();
        expect(report.problems).toEqual([]);
        expect(report).toMatchObject({ ok: true, checked: 12, chains: 1 });
        // Places still absent when read again are missing, as before.
        await target.run(`delete from ${target.table} where integrity_seq in (1, 6)`);
        const missing = await logger().verify();
        expect(missing.problems).toEqual([
          expect.objectContaining({ kind: 'missing', seq: 1 }),
          expect.objectContaining({ kind: 'missing', seq: 6 }),
        ]);
      });
    });

    it('waits a little for a late batch past the newest checkpoint of its chain: walked when it comes, missing when it does not', async () => {
      const writer = logger({ integrity: { key: KEY, checkpointRecords: 1000 } });
      for (let i = 0; i < 12; i++) writer.log({ id: `tail-${String(i).padStart(2, '0')}`, action: 'doc.view' });
      await writer.flush();
      await withPlacesHeld([6, 7], async (hold) => {
        // Still being written (retried, say) when the walk reads the gap again; committed soon after.
        let inserted: Promise<void> | undefined;
        const store = whileWalking(async () => {
          setTimeout(() => (inserted = target.run(`insert into ${target.table} select * from ${hold}`)), 300);
        });
        const report = await logger({ store }).verify();
        await inserted;
        expect(report.problems).toEqual([]);
        expect(report).toMatchObject({ ok: true, checked: 12 });
        await target.run(`delete from ${target.table} where integrity_seq = 9`);
        expect((await logger().verify()).problems).toEqual([expect.objectContaining({ kind: 'missing', seq: 9 })]);
      });
    });

    it('in a range, waits a little for the record after the range\'s last when a live logger\'s later batch committed first', async () => {
      const writer = logger({ integrity: { key: KEY, checkpointRecords: 1000 } });
      for (let i = 0; i < 12; i++) writer.log({ id: `late-${String(i).padStart(2, '0')}`, action: 'doc.view' });
      await writer.flush();
      await withPlacesHeld([11, 12], async (hold) => {
        // Place 12 commits as the walk reads its page, place 11 a little later.
        let inserted: Promise<void> | undefined;
        const store = whileWalking(async () => {
          await target.run(`insert into ${target.table} select * from ${hold} where integrity_seq = 12`);
          setTimeout(() => (inserted = target.run(`insert into ${target.table} select * from ${hold} where integrity_seq = 11`)), 300);
        });
        const report = await logger({ store }).verify({ from: new Date(Date.now() - 3_600_000) });
        await inserted;
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
      });
    });

    it('takes as lawful an erasure that runs while the walk goes on, and a fake erasure still as an edit', async () => {
      await sealedLog(600);
      // After the walk's first page: the rest of the records it reads are erased, by an
      // erasure it had not read when it began.
      const store = whileWalking(async () => void (await logger().erase({ actorId: 'u1' })));
      const report = await logger({ store }).verify();
      expect(report.problems.filter((problem) => problem.kind !== 'erased')).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.counts.erased).toBeGreaterThan(0);
      // An erased value no erasure covers is still an edit (and the walk does not wait for ever).
      const [row] = await target.all<{ p: unknown }>(`select integrity_proof as p from ${target.table} where id = ?`, ['evt-0000']);
      const proof = (typeof row!.p === 'string' ? JSON.parse(row!.p) : row!.p) as { seed: string; commitments: Record<string, string> };
      const salts = Object.fromEntries(Object.keys(proof.commitments).filter((path) => path !== 'target.name').map((path) => [path, derivedSalt(proof.seed, path)]));
      await target.run(`update ${target.table} set target_name = ?, integrity_proof = ? where id = ?`, ['[ERASED]', JSON.stringify({ salts, commitments: proof.commitments }), 'evt-0000']);
      const started = Date.now();
      const forged = await logger().verify();
      expect(forged.problems.filter((problem) => problem.kind !== 'erased')).toEqual([expect.objectContaining({ kind: 'edited', id: 'evt-0000', detail: expect.stringContaining('no activity.erase') })]);
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('verifies a range of time, and one chain of several', async () => {
      await sealedLog(40);
      await sealedLog(5, 'other');
      const all = await logger().verify();
      expect(all).toMatchObject({ ok: true, checked: 45, chains: 2 });
      const chain = (await target.all<{ c: string }>(`select integrity_chain as c from ${target.table} where id = ?`, ["evt-0039"]))[0]!.c;
      expect(await logger().verify({ chain })).toMatchObject({ ok: true, checked: 40, chains: 1 });
      const ranged = await logger().verify({ from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000) });
      expect(ranged).toMatchObject({ ok: true, checked: 45 });
    });
  });
}
