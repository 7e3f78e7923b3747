import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../src/index.js';
import { waitFor } from '../helpers.js';
import { POSTGRES_URL, postgresDrop, postgresPresence, runLoad, skipReason, tcpProxy, uniqueTable } from './fixtures.js';

const OUTAGE_MS = Number(process.env.ACTIVITY_LOG_OUTAGE_SECONDS ?? 30) * 1000;
const skip = skipReason(!POSTGRES_URL ? 'ACTIVITY_LOG_POSTGRES_URL is not set' : undefined);
const dir = mkdtempSync(join(tmpdir(), 'activity-log-outage-'));
const tables: string[] = [];
afterAll(async () => {
  for (const table of tables) await postgresDrop(POSTGRES_URL!, table);
  rmSync(dir, { recursive: true, force: true });
});

/** The store's database behind a proxy that is cut for OUTAGE_MS, 3 s into a load of 1,000 events/s. */
async function outage(options: { spool: boolean; prefix: string }) {
  const table = uniqueTable(`fault_outage_${options.prefix}`);
  tables.push(table);
  const target = new URL(POSTGRES_URL!);
  const proxy = await tcpProxy(Number(target.port || 5432));
  target.host = `127.0.0.1:${proxy.port}`;
  const activity = createActivityLogger({
    store: postgresStore({ connectionString: target.toString(), tableName: table }),
    // Without a spool, retry for as long as it takes, so every loss is a counted queue drop.
    retry: { maxAttempts: 1000, baseDelayMs: 100, maxDelayMs: 1000 },
    spool: options.spool ? { filename: join(dir, `${options.prefix}.spool.db`) } : undefined,
    onError: () => {},
  });
  await activity.store.migrate?.();
  const { logged } = await runLoad(activity, {
    prefix: options.prefix,
    ratePerSecond: 1000,
    durationMs: OUTAGE_MS + 8000,
    faultAtMs: 3000,
    during: async () => {
      await proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      await proxy.restore();
    },
  });
  return { activity, logged, table, proxy };
}

describe.skipIf(skip)(`a store unreachable for ${OUTAGE_MS / 1000} s under 1,000 events/s`, () => {
  it('loses no event with the spool on', async () => {
    const { activity, logged, table, proxy } = await outage({ spool: true, prefix: 'spool' });
    await activity.flush();
    await waitFor(() => activity.stats().replayed >= activity.stats().spooled, 60_000);
    await activity.close();
    await proxy.close();
    const stats = activity.stats();
    expect(stats.spooled, 'the outage must have sent batches to the spool').toBeGreaterThan(0);
    expect(stats).toMatchObject({ dropped: 0, failed: 0, replayed: stats.spooled });
    expect(await postgresPresence(POSTGRES_URL!, table, 'spool')).toEqual({ rows: logged, distinct: logged });
  });

  it('loses exactly stats().dropped events with the spool off', async () => {
    const { activity, logged, table, proxy } = await outage({ spool: false, prefix: 'nospool' });
    await activity.close();
    await proxy.close();
    const stats = activity.stats();
    const present = await postgresPresence(POSTGRES_URL!, table, 'nospool');
    expect(present.rows).toBe(present.distinct);
    expect(stats.dropped, 'a 30 s outage at 1,000 events/s overflows a 10,000-event queue').toBeGreaterThan(0);
    expect(stats.failed).toBe(0);
    expect(logged - present.rows).toBe(stats.dropped);
    expect(stats.written).toBe(present.rows);
  });
});
