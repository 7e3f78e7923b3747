import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger, type ActivityLogError, type ActivityLoggerOptions } from '../../src/index.js';
import { waitFor } from '../helpers.js';
import { MYSQL_URL, POSTGRES_URL, mysqlDrop, mysqlPresence, postgresDrop, postgresPresence, skipReason, uniqueTable } from './fixtures.js';
import { networkProxy, type NetworkProxy } from './network-proxy.js';

/**
 * The network between the store and its database misbehaving, through a proxy the test
 * switches (test/faults/network-proxy.ts): connections that stop answering without a reset,
 * then a network that is back.
 */
const dir = mkdtempSync(join(tmpdir(), 'activity-log-network-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Retries that outlast the faults below, each attempt waited for 500 ms. */
const retry = { maxAttempts: 60, baseDelayMs: 50, maxDelayMs: 300, attemptTimeoutMs: 500 };

interface Database {
  name: string;
  url: string | undefined;
  port: number;
  /** The store through `proxy`, with a pool of one connection: one hung connection is the whole pool. */
  store(proxy: NetworkProxy, table: string, insertTimeoutMs?: number): ActivityLoggerOptions['store'];
  presence(table: string, prefix: string): Promise<{ rows: number; distinct: number }>;
  drop(table: string): Promise<void>;
}

const databases: Database[] = [
  {
    name: 'PostgreSQL',
    url: POSTGRES_URL,
    port: Number(new URL(POSTGRES_URL ?? 'postgres://x@127.0.0.1:5432/x').port || 5432),
    store: (proxy, table, insertTimeoutMs) => postgresStore({ connectionString: proxy.through(POSTGRES_URL!), tableName: table, poolConfig: { max: 1 }, insertTimeoutMs }),
    presence: (table, prefix) => postgresPresence(POSTGRES_URL!, table, prefix),
    drop: (table) => postgresDrop(POSTGRES_URL!, table),
  },
  {
    name: 'MariaDB',
    url: MYSQL_URL,
    port: Number(new URL(MYSQL_URL ?? 'mysql://x@127.0.0.1:3306/x').port || 3306),
    store: (proxy, table, insertTimeoutMs) => mysqlStore({ uri: proxy.through(MYSQL_URL!), tableName: table, poolOptions: { connectionLimit: 1 }, insertTimeoutMs }),
    presence: (table, prefix) => mysqlPresence(MYSQL_URL!, table, prefix),
    drop: (table) => mysqlDrop(MYSQL_URL!, table),
  },
];

for (const database of databases) {
  const skip = skipReason(database.url ? undefined : `${database.name}: its URL is not set`);

  describe.skipIf(skip)(`${database.name} behind a network that stops answering`, () => {
    /** A logger on a new, migrated table through a proxy in pass mode. */
    async function setUp(prefix: string, options: Partial<ActivityLoggerOptions> & { insertTimeoutMs?: number } = {}) {
      const table = uniqueTable(`h4_${prefix}`);
      const proxy = await networkProxy(database.port);
      cleanups.push(() => proxy.close(), () => database.drop(table));
      const errors: ActivityLogError[] = [];
      const { insertTimeoutMs, ...loggerOptions } = options;
      const activity = createActivityLogger({ store: database.store(proxy, table, insertTimeoutMs), retry, onError: (error) => void errors.push(error), ...loggerOptions });
      await activity.store.migrate?.();
      return { activity, proxy, table, errors };
    }

    it('gives up on a connection that never answers an insert, and writes everything once the network is back', async () => {
      const { activity, proxy, table } = await setUp('net_hung', {
        insertTimeoutMs: 1500,
        integrity: { key: 'a test key of at least thirty-two bytes', checkpointRecords: 10 },
      });
      activity.log({ id: 'hung-before', action: 'net.before' });
      await activity.flush();
      proxy.set('blackhole');
      for (let i = 0; i < 10; i++) activity.log({ id: `hung-${i}`, action: 'net.during' });
      await sleep(1_000); // the insert is on the wire, never answered: its connection is the pool's only one
      proxy.set('pass');
      for (let i = 10; i < 20; i++) activity.log({ id: `hung-${i}`, action: 'net.after' });
      // Before, the hung connection held the pool's only slot for ever: nothing more was written.
      await waitFor(() => activity.stats().written === 21, 15_000);
      expect((await activity.verify()).ok, 'the chain has no gap where the insert hung').toBe(true);
      await activity.close();
      expect(activity.stats()).toMatchObject({ written: 21, failed: 0, dropped: 0, queued: 0 });
      expect(await database.presence(table, 'hung')).toEqual({ rows: 21, distinct: 21 });
    });

    it('with a spool, replays the batch whose insert hung once the network is back, each event stored once', async () => {
      const { activity, proxy, table } = await setUp('net_spool', { insertTimeoutMs: 1500, spool: { filename: join(dir, `${database.name}.spool.db`) } });
      proxy.set('blackhole');
      for (let i = 0; i < 10; i++) activity.log({ id: `spool-${i}`, action: 'net.spooled' });
      await activity.flush();
      expect(activity.stats()).toMatchObject({ spooled: 10, queued: 0 });
      proxy.set('pass');
      // Before, the replay waited for the insert already sent, on a connection that never answers.
      await waitFor(() => activity.stats().replayed === 10, 15_000);
      await activity.close();
      expect(await database.presence(table, 'spool')).toEqual({ rows: 10, distinct: 10 });
    });

    it('closes, at close(), the connection of an insert it gave up on, instead of leaving it to hold the process open', async () => {
      // The default insertTimeoutMs (60 s): only close() can end the connection within the test.
      const { activity, proxy } = await setUp('net_close', { closeTimeoutMs: 300 });
      proxy.set('blackhole');
      for (let i = 0; i < 5; i++) activity.log({ id: `close-${i}`, action: 'net.at.close' });
      await waitFor(() => activity.stats().retries >= 1, 5_000); // the insert is sent and unanswered
      await activity.close();
      expect(activity.stats()).toMatchObject({ dropped: 5, written: 0, queued: 0 });
      // Before, the pool could not end while its connection waited for an answer that never comes.
      await waitFor(() => proxy.open === 0, 3_000);
    });

    it('refuses an insertTimeoutMs that is not a whole number of milliseconds, naming it', () => {
      const proxy = { through: (url: string) => url } as NetworkProxy;
      expect(() => database.store(proxy, 'h4_never', 0)).toThrow(/insertTimeoutMs: must be a whole number of milliseconds from 1, got 0/);
      expect(() => database.store(proxy, 'h4_never', 1.5)).toThrow(/insertTimeoutMs: must be a whole number/);
    });
  });
}

describe.skipIf(skipReason(POSTGRES_URL ? undefined : 'PostgreSQL: its URL is not set'))('PostgreSQL: the first connection through a network that swallows it', () => {
  it('gives up on the connection and reaches the database once the network is back', async () => {
    const table = uniqueTable('h4_net_first');
    const proxy = await networkProxy(Number(new URL(POSTGRES_URL!).port || 5432));
    cleanups.push(() => proxy.close(), () => postgresDrop(POSTGRES_URL!, table));
    const activity = createActivityLogger({ store: postgresStore({ connectionString: proxy.through(POSTGRES_URL!), tableName: table }), retry, onError: () => {} });
    proxy.set('blackhole');
    for (let i = 0; i < 10; i++) activity.log({ id: `first-${i}`, action: 'net.first' });
    await sleep(1_000);
    proxy.set('pass');
    // pg waited for ever for the first connection (and so did the migration, and every insert
    // behind it); it now gives up after connectionTimeoutMillis (10 s) and connects again.
    await waitFor(() => activity.stats().written === 10, 20_000);
    await activity.close();
    expect(activity.stats()).toMatchObject({ written: 10, failed: 0 });
    expect(await postgresPresence(POSTGRES_URL!, table, 'first')).toEqual({ rows: 10, distinct: 10 });
  });
});
