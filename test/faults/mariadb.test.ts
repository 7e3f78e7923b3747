import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { createActivityLogger } from '../../src/index.js';
import { MYSQL_URL, mysqlDrop, mysqlPresence, runLoad, skipReason, uniqueTable } from './fixtures.js';

const skip = skipReason(!MYSQL_URL ? 'ACTIVITY_LOG_MYSQL_URL is not set' : undefined);
const tables: string[] = [];
afterAll(async () => {
  for (const table of tables) await mysqlDrop(MYSQL_URL!, table);
});

describe.skipIf(skip)('MariaDB faults under load (1,500 events/s)', () => {
  it('reconnects and loses nothing when its connections are killed mid-load', async () => {
    const table = uniqueTable('fault_my_kill');
    tables.push(table);
    const activity = createActivityLogger({
      store: mysqlStore({ uri: MYSQL_URL!, tableName: table }),
      retry: { maxAttempts: 40, baseDelayMs: 100, maxDelayMs: 1000 },
      onError: () => {},
    });
    await activity.store.migrate?.();
    let killed = 0;
    const { logged } = await runLoad(activity, {
      prefix: 'kill',
      ratePerSecond: 1500,
      durationMs: 5000,
      faultAtMs: 2000,
      during: async () => {
        const admin = await mysql.createConnection(MYSQL_URL!);
        // Every other connection to this database is the store's: the fault suite runs alone.
        const [rows] = await admin.query('select ID as id from information_schema.PROCESSLIST where DB = database() and ID <> connection_id()');
        for (const { id } of rows as { id: number }[]) {
          await admin.query(`KILL ${Number(id)}`).catch(() => undefined);
          killed++;
        }
        await admin.end();
      },
    });
    await activity.close();
    expect(killed, 'the store had open connections to kill').toBeGreaterThan(0);
    expect(activity.stats()).toMatchObject({ written: logged, dropped: 0, failed: 0 });
    expect(await mysqlPresence(MYSQL_URL!, table, 'kill')).toEqual({ rows: logged, distinct: logged });
  });
});
