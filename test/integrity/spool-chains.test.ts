import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger, type ActivityLogError, type IntegrityCheckpoint } from '../../src/index.js';
import type { ActivityStore } from '../../src/store.js';
import { networkProxy, type NetworkProxy } from '../faults/network-proxy.js';
import { MYSQL_URL, POSTGRES_URL } from '../stores/databases.js';
import { skipReason, tamperTarget, type TamperTarget } from './databases.js';

/**
 * Hash chains meeting the spool: batches spooled while the database is unreachable (a TCP
 * proxy in front of the real PostgreSQL and MariaDB resets every connection; another
 * connection holds a real SQLite file's exclusive lock) and replayed, by this logger or by
 * another sharing the spool file (cluster workers, the next process).
 */
const KEY = 'an application secret of 32 bytes';
const dir = mkdtempSync(join(tmpdir(), 'activity-log-spool-chains-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A store of the table, and a way to make its database unreachable and back. */
interface Outage {
  store(): ActivityStore;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

const networked = [
  {
    kind: 'postgres' as const,
    port: () => Number(new URL(POSTGRES_URL!).port || 5432),
    store: (proxy: NetworkProxy, tableName: string): ActivityStore => postgresStore({ connectionString: proxy.through(POSTGRES_URL!), tableName, poolConfig: { max: 2 } }),
  },
  {
    kind: 'mysql' as const,
    port: () => Number(new URL(MYSQL_URL!).port || 3306),
    store: (proxy: NetworkProxy, tableName: string): ActivityStore => mysqlStore({ uri: proxy.through(MYSQL_URL!), tableName, poolOptions: { connectionLimit: 2 } }),
  },
];

const databases: { kind: TamperTarget['kind']; outage(target: TamperTarget, tableName: string): Promise<Outage> }[] = [
  ...networked.map((database) => ({
    kind: database.kind,
    // A TCP proxy in front of the real database resets every connection while it is down.
    async outage(_target: TamperTarget, tableName: string): Promise<Outage> {
      const proxy = await networkProxy(database.port());
      return { store: () => database.store(proxy, tableName), down: () => proxy.set('reset'), up: () => proxy.set('pass'), close: () => proxy.close() };
    },
  })),
  {
    kind: 'sqlite' as const,
    // Another connection holds the file's exclusive lock while it is down: every write is refused (SQLITE_BUSY).
    async outage(target: TamperTarget): Promise<Outage> {
      let locked = false;
      return {
        store: () => target.store({ busyTimeoutMs: 100 } as { migrate?: boolean }),
        down: () => void target.run('BEGIN EXCLUSIVE').then(() => (locked = true)),
        up: () => void (locked && target.run('ROLLBACK').then(() => (locked = false))),
        close: async () => undefined,
      };
    },
  },
];

for (const database of databases) {
  const skip = skipReason(database.kind);
  if (skip) console.warn(`[spool-chains] ${database.kind} skipped: ${skip}`);
  describe.skipIf(skip)(`${database.kind}: a chain whose batches another logger replayed`, () => {
    it('keeps checkpointing after another logger sharing the spool forwarded its spooled batch, and verifies clean', async () => {
      const tableName = `h3_spchain_${Date.now().toString(36)}`;
      const target = await tamperTarget(database.kind, tableName);
      const outage = await database.outage(target, tableName);
      const spool = { filename: join(dir, `${database.kind}-shared.db`) };
      try {
        await target.store().migrate?.();
        const checkpoints: IntegrityCheckpoint[] = [];
        outage.down();
        // Its replay, once failed, waits 3 s before it looks again: the other logger forwards the batch first.
        const first = createActivityLogger({
          store: outage.store(),
          spool,
          retry: { maxAttempts: 1, baseDelayMs: 3000, maxDelayMs: 3000 },
          integrity: { key: KEY, checkpointRecords: 5, onCheckpoint: (checkpoint) => void checkpoints.push(checkpoint) },
          onError: () => undefined,
        });
        for (let i = 0; i < 10; i++) first.log({ id: `h3-a-${i}`, action: 'outage.event' });
        await first.flush();
        expect(first.stats().spooled).toBe(10);
        // Its replay tries the store once, is refused, and waits.
        await new Promise((resolve) => setTimeout(resolve, 500));

        outage.up();
        const second = createActivityLogger({ store: outage.store(), spool, onError: () => undefined });
        await expect.poll(() => second.stats().replayed, { timeout: 10_000 }).toBe(10);
        await second.close();

        // The store answers again: the first logger's next records are written, and checkpointed.
        await expect.poll(async () => {
          first.log({ action: 'after.outage' });
          await first.flush();
          return first.stats().written;
        }, { timeout: 10_000, interval: 200 }).toBeGreaterThan(0);
        for (let i = 0; i < 10; i++) first.log({ id: `h3-b-${i}`, action: 'after.outage' });
        await first.flush();
        await expect.poll(() => checkpoints.length, { timeout: 5000 }).toBeGreaterThan(0);
        await first.close();
        const newest = Math.max(...checkpoints.map((checkpoint) => checkpoint.seq));
        // Every record of the chain is in the store, the newest checkpointed (close() makes the last).
        expect(newest).toBe(first.stats().enqueued);

        const verifier = createActivityLogger({ store: target.store({ migrate: false }), integrity: { key: KEY } });
        expect(await verifier.verify({ checkpoints })).toMatchObject({ ok: true, checked: first.stats().enqueued, problems: [] });
        await verifier.close();
      } finally {
        await outage.close();
        await target.cleanup();
      }
    }, 30_000);

    it('checkpoints the batches it replayed itself: the newest checkpoint names the last replayed record', async () => {
      const tableName = `h3_spself_${Date.now().toString(36)}`;
      const target = await tamperTarget(database.kind, tableName);
      const outage = await database.outage(target, tableName);
      try {
        await target.store().migrate?.();
        const checkpoints: IntegrityCheckpoint[] = [];
        outage.down();
        const activity = createActivityLogger({
          store: outage.store(),
          spool: { filename: join(dir, `${database.kind}-own.db`) },
          retry: { maxAttempts: 1, baseDelayMs: 50, maxDelayMs: 100 },
          integrity: { key: KEY, checkpointRecords: 5, onCheckpoint: (checkpoint) => void checkpoints.push(checkpoint) },
          onError: () => undefined,
        });
        for (let i = 0; i < 12; i++) activity.log({ id: `h3-own-${i}`, action: 'outage.event' });
        await activity.flush();
        expect(activity.stats().spooled).toBe(12);
        outage.up();
        await expect.poll(() => activity.stats().replayed, { timeout: 10_000 }).toBe(12);
        // Every 5 records as they are replayed, and the last one at close().
        await activity.close();
        expect(checkpoints.map((checkpoint) => checkpoint.seq)).toEqual([5, 10, 12]);
        const verifier = createActivityLogger({ store: target.store({ migrate: false }), integrity: { key: KEY } });
        expect(await verifier.verify({ checkpoints })).toMatchObject({ ok: true, checked: 12, problems: [] });
        await verifier.close();
      } finally {
        await outage.close();
        await target.cleanup();
      }
    }, 30_000);

    it('replays the readable records of a spooled batch edited on disk: the edit is found by verify, the record made unreadable is kept aside and reported', async () => {
      const tableName = `h3_spedit_${Date.now().toString(36)}`;
      const target = await tamperTarget(database.kind, tableName);
      const outage = await database.outage(target, tableName);
      const spool = { filename: join(dir, `${database.kind}-edited.db`) };
      try {
        await target.store().migrate?.();
        outage.down();
        const first = createActivityLogger({ store: outage.store(), spool, retry: { maxAttempts: 1, baseDelayMs: 60_000, maxDelayMs: 60_000 }, integrity: { key: KEY }, onError: () => undefined });
        for (let i = 0; i < 6; i++) first.log({ id: `h3-ed-${i}`, action: 'outage.event', metadata: { amount: i } });
        await first.flush();
        // The store is still down at close(): the spool is left to the next process.
        await first.close();
        expect(first.stats().spooled).toBe(6);

        // Someone with access to the spool file edits one record and breaks another.
        const file = new Database(spool.filename);
        const row = file.prepare('SELECT id, payload FROM activity_spool').get() as { id: number; payload: string };
        const records = JSON.parse(row.payload) as Record<string, any>[];
        records[1]!.metadata.amount = 1000;
        delete records[3]!.action;
        file.prepare('UPDATE activity_spool SET payload = ? WHERE id = ?').run(JSON.stringify(records), row.id);
        file.close();

        outage.up();
        const errors: ActivityLogError[] = [];
        const second = createActivityLogger({ store: outage.store(), spool, integrity: { key: KEY }, onError: (error) => void errors.push(error) });
        await expect.poll(() => second.stats().replayed, { timeout: 10_000 }).toBe(5);
        expect(second.stats().invalid).toBe(1);
        const reports = errors.filter((error) => error.code === 'SPOOL_FAILED');
        expect(reports).toHaveLength(1);
        expect(reports[0]!.message).toContain('record 3 (id "h3-ed-3") has no action (a string)');
        expect(reports[0]!.details).toMatchObject({ unreadable: 1, replayed: 5 });
        const report = await second.verify();
        expect(report.counts).toMatchObject({ edited: 1, missing: 1, reordered: 0, truncated: 0 });
        expect(report.problems.map((problem) => [problem.kind, problem.id])).toEqual(expect.arrayContaining([['edited', 'h3-ed-1']]));
        await second.close();

        const kept = new Database(spool.filename, { readonly: true });
        const aside = kept.prepare('SELECT records, payload, reason FROM activity_spool_unreadable').all() as { records: number; payload: string; reason: string }[];
        const left = (kept.prepare('SELECT COUNT(*) AS n FROM activity_spool').get() as { n: number }).n;
        const size = (kept.prepare('SELECT bytes FROM activity_spool_size').get() as { bytes: number }).bytes;
        kept.close();
        expect(aside).toHaveLength(1);
        expect(aside[0]).toMatchObject({ records: 1, reason: expect.stringContaining('has no action') });
        expect(JSON.parse(aside[0]!.payload)).toEqual([expect.objectContaining({ id: 'h3-ed-3' })]);
        expect({ left, size }).toEqual({ left: 0, size: 0 });
      } finally {
        await outage.close();
        await target.cleanup();
      }
    }, 30_000);

  });
}

for (const database of networked) {
  const skip = skipReason(database.kind);
  describe.skipIf(skip)(`${database.kind}: a process killed with its chain partly in the spool`, () => {
    it('after a SIGKILL under load with batches spilled and in flight, the next process replays the spool, and verify finds no edit, reorder or truncation, and no gap before a checkpoint', async () => {
      const tableName = `h3_spkill_${Date.now().toString(36)}`;
      const target = await tamperTarget(database.kind, tableName);
      const proxy = await networkProxy(database.port());
      const spool = { filename: join(dir, `${database.kind}-killed.db`) };
      const url = proxy.through(database.kind === 'postgres' ? POSTGRES_URL! : MYSQL_URL!);
      try {
        await target.store().migrate?.();
        // A slow network: the queue passes its high-water mark and batches spill beside the writes.
        proxy.set('delay', { delayMs: 20 });
        const script = join(import.meta.dirname, 'scripts', 'spooling-writer.ts');
        const child = spawn(process.execPath, ['--import', 'tsx', script, database.kind, url, tableName, spool.filename], { stdio: ['ignore', 'pipe', 'inherit'] });
        const checkpoints: IntegrityCheckpoint[] = [];
        let last: { written: number; spooled: number } | undefined;
        let buffered = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) {
            const message = JSON.parse(line) as { checkpoint?: IntegrityCheckpoint; written: number; spooled: number };
            if (message.checkpoint) checkpoints.push(message.checkpoint);
            else last = message;
          }
        });
        await expect.poll(() => (last && last.spooled > 0 && checkpoints.length > 0 ? 'spilled' : 'not yet'), { timeout: 20_000, interval: 50 }).toBe('spilled');
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
        const reported = last!;

        proxy.set('pass');
        const next = createActivityLogger({ store: database.store(proxy, tableName), spool, integrity: { key: KEY }, onError: () => undefined });
        await expect.poll(async () => (await target.all<{ n: unknown }>(`select count(*) as n from ${target.table}`))[0]!.n, { timeout: 20_000 }).toSatisfy((n) => Number(n) >= reported.written + reported.spooled);
        await next.flush();
        const left = new Database(spool.filename, { readonly: true });
        await expect.poll(() => (left.prepare('SELECT COUNT(*) AS n FROM activity_spool').get() as { n: number }).n, { timeout: 20_000 }).toBe(0);
        left.close();

        const report = await next.verify({ checkpoints });
        expect(report.counts).toMatchObject({ edited: 0, reordered: 0, truncated: 0, unsealed: 0, 'unknown-key': 0 });
        // What the kill took (batches in memory or in flight) is missing only after the chain's newest checkpoint.
        const newest = Math.max(...checkpoints.map((checkpoint) => checkpoint.seq));
        for (const problem of report.problems) expect({ kind: problem.kind, afterNewestCheckpoint: (problem.seq ?? 0) > newest }).toEqual({ kind: 'missing', afterNewestCheckpoint: true });
        await next.close();
      } finally {
        await proxy.close();
        await target.cleanup();
      }
    }, 60_000);
  });
}
