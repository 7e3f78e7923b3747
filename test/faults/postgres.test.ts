import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../src/index.js';
import { IS_ROOT, POSTGRES_URL, postgresDrop, postgresPresence, runLoad, skipReason, uniqueTable } from './fixtures.js';

const skip = skipReason(
  !POSTGRES_URL ? 'ACTIVITY_LOG_POSTGRES_URL is not set' : !IS_ROOT ? 'restarting PostgreSQL needs root' : undefined,
);
const tables: string[] = [];
afterAll(async () => {
  for (const table of tables) await postgresDrop(POSTGRES_URL!, table);
});

/** Retries long enough to outlast a restart; every failed attempt is counted in stats().retries. */
const patientRetry = { maxAttempts: 40, baseDelayMs: 100, maxDelayMs: 1000 };

describe.skipIf(skip)('PostgreSQL faults under load (1,500 events/s)', () => {
  it('loses nothing and duplicates nothing when PostgreSQL restarts mid-load', async () => {
    const table = uniqueTable('fault_pg_restart');
    tables.push(table);
    const errors: string[] = [];
    const activity = createActivityLogger({
      store: postgresStore({ connectionString: POSTGRES_URL!, tableName: table }),
      retry: patientRetry,
      onError: (error) => errors.push(error.code),
    });
    await activity.store.migrate?.();
    const version = readdirSync('/etc/postgresql')[0]!;
    const { logged } = await runLoad(activity, {
      prefix: 'restart',
      ratePerSecond: 1500,
      durationMs: 8000,
      faultAtMs: 2000,
      // Asynchronous, so the load (and the store's writes) go on while the server is down.
      during: async () => {
        await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
      },
    });
    await activity.close();
    const stats = activity.stats();
    expect(stats.retries, 'the restart must actually have failed some writes').toBeGreaterThan(0);
    expect(stats).toMatchObject({ written: logged, dropped: 0, failed: 0, invalid: 0 });
    expect(await postgresPresence(POSTGRES_URL!, table, 'restart')).toEqual({ rows: logged, distinct: logged });
  });

  it('reconnects and loses nothing when every backend of the store is terminated mid-load', async () => {
    const table = uniqueTable('fault_pg_kill');
    tables.push(table);
    const applicationName = `activity-log-fault-${Date.now()}`;
    const url = `${POSTGRES_URL}${POSTGRES_URL!.includes('?') ? '&' : '?'}application_name=${applicationName}`;
    const activity = createActivityLogger({ store: postgresStore({ connectionString: url, tableName: table }), retry: patientRetry, onError: () => {} });
    await activity.store.migrate?.();
    let terminated = 0;
    const { logged } = await runLoad(activity, {
      prefix: 'terminate',
      ratePerSecond: 1500,
      durationMs: 5000,
      faultAtMs: 2000,
      during: async () => {
        const admin = new pg.Client({ connectionString: POSTGRES_URL });
        await admin.connect();
        const { rows } = await admin.query(
          'select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
          [applicationName],
        );
        terminated = rows.length;
        await admin.end();
      },
    });
    await activity.close();
    expect(terminated, 'the store had open backends to terminate').toBeGreaterThan(0);
    expect(activity.stats()).toMatchObject({ written: logged, dropped: 0, failed: 0 });
    expect(await postgresPresence(POSTGRES_URL!, table, 'terminate')).toEqual({ rows: logged, distinct: logged });
  });
});
