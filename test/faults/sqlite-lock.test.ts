import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';
import { runLoad, sqlitePresence } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'activity-log-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite faults under load (1,500 events/s)', () => {
  it('loses nothing while another process holds the database locked for 3 s', async () => {
    const filename = join(dir, 'locked.db');
    // A short busy timeout: a locked write fails fast and is retried, instead of blocking the event loop.
    const activity = createActivityLogger({
      store: sqliteStore({ filename, busyTimeoutMs: 50 }),
      retry: { maxAttempts: 40, baseDelayMs: 100, maxDelayMs: 1000 },
      onError: () => {},
    });
    await activity.store.migrate?.();
    let lockHeldMs = 0;
    const { logged } = await runLoad(activity, {
      prefix: 'lock',
      ratePerSecond: 1500,
      durationMs: 6000,
      faultAtMs: 1500,
      during: () =>
        new Promise<void>((resolve, reject) => {
          const script = `
            const Database = require('better-sqlite3');
            const db = new Database(${JSON.stringify(filename)});
            db.exec('BEGIN EXCLUSIVE');
            process.stdout.write('locked\\n');
            setTimeout(() => { db.exec('COMMIT'); db.close(); }, 3000);`;
          const started = Date.now();
          const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
          child.on('exit', (code) => {
            lockHeldMs = Date.now() - started;
            if (code === 0) resolve();
            else reject(new Error(`lock holder exited with ${code}`));
          });
        }),
    });
    await activity.close();
    const stats = activity.stats();
    expect(lockHeldMs).toBeGreaterThanOrEqual(3000);
    expect(stats.retries, 'the lock must actually have failed some writes').toBeGreaterThan(0);
    expect(stats).toMatchObject({ written: logged, dropped: 0, failed: 0 });
    expect(sqlitePresence(filename, 'activity_logs', 'lock')).toEqual({ rows: logged, distinct: logged });
  });
});
