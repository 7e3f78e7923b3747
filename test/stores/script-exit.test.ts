import { spawnSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MYSQL_URL, POSTGRES_URL } from './databases.js';

/**
 * A script that logs and simply ends, without flush(), close() or installShutdownHandlers,
 * writes what it logged (README, "Guarantees"). Nothing the logger waits on holds the process
 * open (its timers, the stores' idle pools and threads are unref'd, so servers stop and scripts
 * end when done): the logger writes what it holds when the event loop empties (beforeExit).
 * Found in review: once the pooled stores let the process exit while idle, such a script lost
 * its last events without a word; on SQLite, and on a pool never opened, it always had.
 */
const script = new URL('./scripts/read-log-and-end.ts', import.meta.url).pathname;
const table = (kind: string) => `rv3_exit_${kind}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;

function run(kind: string, url: string, tableName: string, mode: 'read' | 'fresh') {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, kind, url, tableName, mode], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr, stats: JSON.parse(result.stdout.trim() || '{}') as { written?: number; queued?: number } };
}

describe.each(['read', 'fresh'] as const)('a script that logs and simply ends (%s: the store used before, or not)', (mode) => {
  it.skipIf(!POSTGRES_URL)('PostgreSQL: its events are written, none left queued at exit', async () => {
    const tableName = table('pg');
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const result = run('postgres', POSTGRES_URL!, tableName, mode);
      expect(result.status, result.stderr).toBe(0);
      const { rows } = await client.query(`select count(*)::int as n from "${tableName}"`);
      expect({ stored: rows[0].n, queuedAtExit: result.stats.queued }).toEqual({ stored: 3, queuedAtExit: 0 });
    } finally {
      for (const suffix of ['', '_schema', '_checkpoints']) await client.query(`drop table if exists "${tableName}${suffix}"`);
      await client.end();
    }
  });

  it.skipIf(!MYSQL_URL)('MySQL: its events are written, none left queued at exit', async () => {
    const tableName = table('my');
    const connection = await mysql.createConnection(MYSQL_URL!);
    try {
      const result = run('mysql', MYSQL_URL!, tableName, mode);
      expect(result.status, result.stderr).toBe(0);
      const [rows] = await connection.query(`select count(*) as n from \`${tableName}\``);
      expect({ stored: Number((rows as { n: number }[])[0]!.n), queuedAtExit: result.stats.queued }).toEqual({ stored: 3, queuedAtExit: 0 });
    } finally {
      for (const suffix of ['', '_schema', '_checkpoints']) await connection.query(`drop table if exists \`${tableName}${suffix}\``);
      await connection.end();
    }
  });

  it('SQLite: its events are written, none left queued at exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-script-exit-'));
    try {
      const filename = join(dir, 'activity.db');
      const result = run('sqlite', filename, 'activity_logs', mode);
      expect(result.status, result.stderr).toBe(0);
      const db = new Database(filename, { readonly: true });
      const stored = (db.prepare('select count(*) as n from activity_logs').get() as { n: number }).n;
      db.close();
      expect({ stored, queuedAtExit: result.stats.queued }).toEqual({ stored: 3, queuedAtExit: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
