import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../src/index.js';
import { waitFor as waitUntil } from '../helpers.js';
import { POSTGRES_URL, postgresDrop, postgresPresence, skipReason, sqlitePresence, uniqueTable } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'activity-log-shutdown-'));
const childScript = new URL('./child-logger.ts', import.meta.url).pathname;
const tables: string[] = [];
afterAll(async () => {
  for (const table of tables) await postgresDrop(POSTGRES_URL!, table);
  rmSync(dir, { recursive: true, force: true });
});

function startChild(args: string[]): { child: ChildProcess; lines: Record<string, number>[]; waitFor(test: (line: Record<string, number>) => boolean): Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, number>[] = [];
  const waiters: { test: (line: Record<string, number>) => boolean; resolve: () => void }[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as Record<string, number>;
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const waiter of [...waiters]) if (waiter.test(line)) waiter.resolve();
    }
  });
  return {
    child,
    lines,
    waitFor: (test) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ test, resolve });
        child.once('exit', () => reject(new Error('child exited before the expected output')));
      }),
  };
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

describe('shutdown and crash', () => {
  it('stores all 50,000 events when a process with installShutdownHandlers gets SIGTERM', async () => {
    const filename = join(dir, 'sigterm.db');
    const { child, waitFor, lines } = startChild(['sigterm', filename, '50000']);
    await waitFor((line) => line.logged === 50_000);
    const queuedAtSignal = lines.at(-1)!.queued!;
    const exit = exited(child);
    child.kill('SIGTERM');
    // The process still exits the way SIGTERM makes it exit: the handler re-raises the signal.
    expect(await exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(queuedAtSignal, 'events were still queued when the signal came').toBeGreaterThan(0);
    expect(sqlitePresence(filename, 'activity_logs', 'term')).toEqual({ rows: 50_000, distinct: 50_000 });
  });

  it('runs beforeClose before closing the logger, so events logged while shutting down are stored', async () => {
    const filename = join(dir, 'before.db');
    const { child, waitFor } = startChild(['before', filename]);
    await waitFor((line) => line.ready === 1);
    const exit = exited(child);
    child.kill('SIGTERM');
    expect(await exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(sqlitePresence(filename, 'activity_logs', 'before')).toEqual({ rows: 2, distinct: 2 });
  });

  it('after SIGKILL without a spool, loses at most what was still in memory', async () => {
    const filename = join(dir, 'nospool.db');
    const { child, waitFor, lines } = startChild(['crash-nospool', filename]);
    await waitFor((line) => (line.written ?? 0) >= 2000);
    const exit = exited(child);
    child.kill('SIGKILL');
    expect((await exit).signal).toBe('SIGKILL');
    const last = lines.at(-1)!;
    const stored = sqlitePresence(filename, 'activity_logs', 'nospool');
    expect(stored.rows).toBe(stored.distinct);
    expect(stored.rows).toBeGreaterThanOrEqual(last.written!);
    // The stated bound: the queue (maxQueue = 5,000) plus one 100 ms progress interval (200).
    expect(last.logged! + 200 - stored.rows).toBeLessThanOrEqual(5000 + 200);
  });

  it('writes everything when a script with installShutdownHandlers simply ends, without close() (beforeExit)', async () => {
    const filename = join(dir, 'exit.db');
    const { child } = startChild(['exit', filename, '5000']);
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(sqlitePresence(filename, 'activity_logs', 'exit')).toEqual({ rows: 5000, distinct: 5000 });
  });

  it.skipIf(skipReason(!POSTGRES_URL ? 'ACTIVITY_LOG_POSTGRES_URL is not set' : undefined))(
    'after SIGKILL with the spool on, stores every event that reached the spool, and loses at most the queue',
    async () => {
      const spoolFile = join(dir, 'crash.spool.db');
      // The log's table, which the child never reaches and the next process replays into.
      const table = uniqueTable('fault_crash');
      tables.push(table);
      // Port 9 (discard) on 127.0.0.1 refuses connections: the child's store is down throughout.
      const { child, waitFor, lines } = startChild(['crash', spoolFile, 'postgres://postgres@127.0.0.1:9/test', table]);
      await waitFor((line) => (line.spooled ?? 0) >= 3000);
      const exit = exited(child);
      child.kill('SIGKILL');
      expect((await exit).signal).toBe('SIGKILL');
      const last = lines.at(-1)!;

      // What reached the spool, read with SQLite's own client.
      const db = new Database(spoolFile, { readonly: true });
      const spooledIds = new Set<string>();
      for (const { payload } of db.prepare('select payload from activity_spool').all() as { payload: string }[]) {
        for (const record of JSON.parse(payload) as { id: string }[]) spooledIds.add(record.id);
      }
      db.close();
      expect(spooledIds.size).toBeGreaterThanOrEqual(last.spooled!);
      // The stated bound: only events still in memory (at most maxQueue = 5,000, plus what was
      // logged after the last progress line, at most one 100 ms interval = 200) can be lost.
      expect(last.logged! - spooledIds.size).toBeLessThanOrEqual(5000 + 200);

      // A new process of the same log, with the same spool and a reachable store, replays it.
      // The log moved from the unreachable server to the real one: the spool file is bound to
      // the first, so it is rebound by removing its binding, as the README says.
      const binding = new Database(spoolFile);
      expect(binding.prepare('select destination from activity_spool_destination').pluck().get()).toBe(`postgres:${table}@127.0.0.1:9/test`);
      binding.prepare('delete from activity_spool_destination').run();
      binding.close();
      const recovered = createActivityLogger({ store: postgresStore({ connectionString: POSTGRES_URL!, tableName: table }), spool: { filename: spoolFile } });
      await waitUntil(() => recovered.stats().replayed >= spooledIds.size, 60_000);
      await recovered.close();
      expect(await postgresPresence(POSTGRES_URL!, table, 'crash')).toEqual({ rows: spooledIds.size, distinct: spooledIds.size });
    },
  );
});
