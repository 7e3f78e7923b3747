import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityEvent, type ActivityLogError, type ActivityStore } from '../../src/index.js';
import { MYSQL_URL, mysqlDrop, mysqlPresence, POSTGRES_URL, postgresDrop, postgresPresence, runLoad, skipReason, sqlitePresence, uniqueTable, type Presence } from './fixtures.js';

/**
 * Poisoned events under load, on each database, with the spool off and on. Two kinds of
 * hostile event are mixed into a load of 1,500 events/s:
 *  - text no database can hold (NUL in metadata and names, lone surrogates): the text rule
 *    makes them storable, so they are good events like any other;
 *  - a value the database itself refuses (a CHECK constraint or trigger on the table refuses
 *    actor_name "poison"): the engine isolates each one, writes the rest of its batch, and
 *    counts it invalid.
 * Every good event must be stored exactly once, each offender reported and counted invalid,
 * nothing spooled for want of an outage, and the counters must add up.
 */

const dir = mkdtempSync(join(tmpdir(), 'activity-log-poison-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const REFUSED = 'poison';
const poisoned = (n: number) => n % 97 === 13;
function hostileEvent(n: number): Omit<ActivityEvent, 'id'> {
  if (poisoned(n)) return { action: 'load.event', actor: { type: 'user', id: `u${n}`, name: REFUSED }, metadata: { n } };
  if (n % 10 === 3) return { action: 'load.event', actor: { type: 'user', id: `u${n}`, name: 'nul\u0000name' }, metadata: { email: 'a\u0000@x', n } };
  if (n % 10 === 7) return { action: 'load.event', actor: { type: 'user', id: `u${n}` }, metadata: { ['key\ud800']: 'lone \udc00 surrogate', n } };
  return { action: 'load.event', actor: { type: 'service', id: 'loadgen' }, metadata: { n } };
}

interface Database_ {
  name: string;
  skip: string | undefined;
  store(table: string): ActivityStore;
  refuse(table: string): Promise<void>;
  presence(table: string, prefix: string): Promise<Presence>;
  drop(table: string): Promise<void>;
}

const sqliteFile = (table: string) => join(dir, `${table}.db`);
const DATABASES: Database_[] = [
  {
    name: 'PostgreSQL',
    skip: !POSTGRES_URL ? 'ACTIVITY_LOG_POSTGRES_URL is not set' : undefined,
    store: (table) => postgresStore({ connectionString: POSTGRES_URL!, tableName: table }),
    async refuse(table) {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`alter table "${table}" add constraint "${table}_refuse" check (actor_name is distinct from '${REFUSED}')`);
      await client.end();
    },
    presence: (table, prefix) => postgresPresence(POSTGRES_URL!, table, prefix),
    drop: (table) => postgresDrop(POSTGRES_URL!, table),
  },
  {
    name: 'MariaDB',
    skip: !MYSQL_URL ? 'ACTIVITY_LOG_MYSQL_URL is not set' : undefined,
    store: (table) => mysqlStore({ uri: MYSQL_URL!, tableName: table }),
    async refuse(table) {
      const connection = await mysql.createConnection(MYSQL_URL!);
      await connection.query(`alter table \`${table}\` add constraint \`${table}_refuse\` check (actor_name is null or actor_name <> '${REFUSED}')`);
      await connection.end();
    },
    presence: (table, prefix) => mysqlPresence(MYSQL_URL!, table, prefix),
    drop: (table) => mysqlDrop(MYSQL_URL!, table),
  },
  {
    name: 'SQLite',
    skip: undefined,
    store: (table) => sqliteStore({ filename: sqliteFile(table), tableName: table }),
    async refuse(table) {
      const db = new Database(sqliteFile(table));
      db.exec(`create trigger "${table}_refuse" before insert on "${table}" when new.actor_name = '${REFUSED}' begin select raise(abort, 'refused'); end`);
      db.close();
    },
    presence: async (table, prefix) => sqlitePresence(sqliteFile(table), table, prefix),
    drop: async () => undefined,
  },
];

for (const database of DATABASES) {
  describe.skipIf(skipReason(database.skip))(`${database.name}: poisoned events under load (1,500 events/s)`, () => {
    it.each([false, true])('stores every good event exactly once and counts each offender invalid (spool: %s)', async (spool) => {
      const table = uniqueTable(`fault_poison_${spool ? 'spool' : 'nospool'}`);
      cleanups.push(() => database.drop(table));
      const errors: ActivityLogError[] = [];
      const activity = createActivityLogger({
        store: database.store(table),
        retry: { maxAttempts: 40, baseDelayMs: 50, maxDelayMs: 500 },
        spool: spool ? { filename: join(dir, `${table}.spool.db`) } : undefined,
        onError: (error) => errors.push(error),
      });
      await activity.store.migrate?.();
      await database.refuse(table);
      const prefix = 'poison';
      const { logged } = await runLoad(activity, { prefix, ratePerSecond: 1500, durationMs: 5000, event: hostileEvent });
      await activity.close();

      const offenders = Array.from({ length: logged }, (_, n) => n).filter(poisoned).length;
      const good = logged - offenders;
      expect(offenders).toBeGreaterThan(50);
      const stats = activity.stats();
      expect(stats).toMatchObject({ written: good, invalid: offenders, failed: 0, dropped: 0, spooled: 0, retries: 0 });
      expect(stats.written + stats.invalid + stats.failed + stats.dropped + stats.spooled + stats.queued).toBe(logged);
      expect(await database.presence(table, prefix)).toEqual({ rows: good, distinct: good });
      const rejected = errors.filter((error) => error.code === 'RECORD_REJECTED');
      expect(rejected).toHaveLength(offenders);
      expect(new Set(rejected.map((error) => error.details?.field))).toEqual(new Set(['actor.name']));
      expect(errors.filter((error) => error.code !== 'RECORD_REJECTED')).toEqual([]);
    });
  });
}
