// Not from 'vitest': the suite finds the running vitest when it is registered (see runner.ts).
import { afterEach, beforeEach, describe, expect, it, testApi } from './runner.js';
import { isActivityLogError, type ActivityLogError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { optionNames, refuseUnknownOptions } from '../../src/option-keys.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { parseActivityFilter, parseActivityQuery, parseSummaryQuery, SEARCH_FILTERS } from '../../src/query.js';
import type { ActivityQuery, ActivityRecord, NormalizedActivityFilter, SummaryDimension } from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { memoryStore } from '../storage/memory.js';
import type { RowColumns } from '../storage/sql/columns.js';

/**
 * The conformance suite every store of this package passes, shipped in `activity-log/testing`
 * so that a store written elsewhere proves itself the same way, in its own vitest run:
 *
 * ```ts
 * import { describeActivityStore } from 'activity-log/testing';
 * describeActivityStore({ name: 'my store', setup: async () => ({ store: myStore(), cleanup: async () => {} }) });
 * ```
 *
 * The suite writes through the store and checks every write, through the database's own
 * client when the setup gives a raw reader (`raw`), else through the store's own reads; it
 * checks every read against the memory store's results. What a store or its database cannot
 * do here is declared in `capabilities`; each test that needs it is then skipped, and the
 * suite prints which and why. Runs under vitest (an optional peer dependency), found when called.
 */

/** A stored row as the database's own client sees it: `occurred_at` in epoch ms, JSON parsed. */
export interface RawRow extends RowColumns {
  occurred_at: number;
}

/** JSON columns as some clients return them (text), parsed; others already parse them. */
export function parseJsonColumns(row: Record<string, unknown>): RawRow {
  for (const column of ['metadata', 'changes', 'error', 'context', 'integrity_proof']) {
    if (typeof row[column] === 'string') row[column] = JSON.parse(row[column] as string);
  }
  return row as unknown as RawRow;
}

/** Reads the store's table through the database's own client. */
export interface RawReader {
  /** Every row of the activity table, in id order. */
  rows(): Promise<RawRow[]>;
  /** The schema version recorded by migrate(), if any. */
  schemaVersion?(): Promise<number | undefined>;
  /** Marks the table with a schema version, as a later release would. */
  setSchemaVersion?(version: number): Promise<void>;
}

/** One test's store, on a table of its own. */
export interface ConformanceContext {
  store: ActivityStore;
  /**
   * Reads what the store wrote through the database's own client. Without it, writes are
   * checked through the store's own `query()`.
   */
  raw?: RawReader;
  /** Another store on the same table through its own connection, as a second process would have. */
  makeSecondStore?: () => ActivityStore;
  /** Runs `fn` in a transaction of the caller's own Kysely on the same database. */
  transaction?: <T>(fn: (trx: unknown) => Promise<T>) => Promise<T>;
  /** Kills the store's open database connections from the server side. */
  killConnections?: () => Promise<number>;
  /**
   * Makes the database itself refuse a row whose actor_name is `name` (a CHECK constraint or a
   * trigger on the table): content the store's own rules let through and its database refuses.
   */
  refuseActorName?: (name: string) => Promise<void>;
  /** Drops what the test created and closes every client. */
  cleanup: () => Promise<void>;
}

/** What a store's test file passes to {@link describeActivityStore}. */
export interface StoreConformanceOptions {
  /** The name the suite's tests are listed under. */
  name: string;
  /** Why the suite cannot run here (printed), or false to run it. */
  skip?: string | false;
  /** Creates a store (and raw reader) on a fresh table called `tableName`. */
  setup: (tableName: string) => Promise<ConformanceContext>;
  /** A store whose database cannot be reached. */
  unreachableStore?: () => ActivityStore;
  /** What the store and the test's setup can do; each is false when left out. */
  capabilities?: {
    /** Two stores can share one database (`makeSecondStore()`; the memory store cannot). */
    sharedDatabase?: boolean;
    /** `insertInTransaction` with the setup's `transaction()`. */
    transactions?: boolean;
    /** `migrate()` and a recorded schema version (`raw.schemaVersion()`, `raw.setSchemaVersion()`). */
    migrations?: boolean;
    /** `killConnections()` is available. */
    killConnections?: boolean;
    /** `refuseActorName()` is available. */
    contentRefusal?: boolean;
  };
}

/** The options of {@link StoreConformanceOptions} and of its `capabilities`, for the check that refuses others. */
const CONFORMANCE_OPTIONS = optionNames<StoreConformanceOptions>()(['name', 'skip', 'setup', 'unreachableStore', 'capabilities']);
const CAPABILITY_OPTIONS = optionNames<NonNullable<StoreConformanceOptions['capabilities']>>()(['sharedDatabase', 'transactions', 'migrations', 'killConnections', 'contentRefusal']);

const BASE = Date.UTC(2026, 0, 2, 3, 0, 0, 0);
const HOUR = 3_600_000;

/**
 * Each test's and hook's time limit. Some tests of the suite take seconds on a database server
 * (the zone summaries: 5 s on PostgreSQL on a busy 2-core machine), past vitest's default of
 * 5 s: a store's test file must pass under a plain vitest configuration.
 */
const SUITE_TIMEOUT_MS = 120_000;

/**
 * Registers the whole conformance suite for one store, under `describe(options.name)`.
 *
 * @example
 * describeActivityStore({
 *   name: 'jsonl store',
 *   setup: async (tableName) => {
 *     const store = jsonlStore({ filename: join(dir, `${tableName}.jsonl`) });
 *     return { store, cleanup: () => store.close() };
 *   },
 * });
 */
export function describeActivityStore(options: StoreConformanceOptions): void {
  // Outside vitest, fail here with a message that says so, before anything is printed.
  testApi('describeActivityStore');
  refuseUnknownOptions('describeActivityStore', options, CONFORMANCE_OPTIONS);
  refuseUnknownOptions('describeActivityStore: capabilities', options.capabilities, CAPABILITY_OPTIONS);
  const can = options.capabilities ?? {};
  if (options.skip) {
    console.warn(`[store conformance] skipping "${options.name}": ${options.skip}`);
  } else {
    // A capability a store lacks skips its tests; say which and why, so no skip is silent.
    const lacking = [
      !can.sharedDatabase && 'several writers (no database shared between two stores)',
      !can.migrations && 'migrations (the store has no schema)',
      !can.transactions && 'logInTransaction (the store has no transactions)',
      !options.unreachableStore && 'unreachable database (the store has no network connection)',
      !can.killConnections && 'killed connection (the store has no connection to kill)',
      !can.contentRefusal && 'content refusals (the test cannot make this database refuse a row)',
    ].filter(Boolean);
    if (lacking.length > 0) console.info(`[store conformance] ${options.name}: skipping ${lacking.join('; ')}`);
  }

  describe.skipIf(Boolean(options.skip))(options.name, { timeout: SUITE_TIMEOUT_MS }, () => {
    let context: ConformanceContext;
    let store: ActivityStore;
    let raw: RawReader;
    let tableName: string;
    let toldNoRawReader = false;

    beforeEach(async () => {
      tableName = `al_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
      context = await options.setup(tableName);
      store = context.store;
      raw = context.raw ?? readerThroughStore(store);
      if (!context.raw && !toldNoRawReader) {
        toldNoRawReader = true;
        console.info(`[store conformance] ${options.name}: no raw reader; writes are checked through the store's own query()`);
      }
    }, SUITE_TIMEOUT_MS);

    afterEach(async () => {
      await context.cleanup();
    }, SUITE_TIMEOUT_MS);

    describe('insert', () => {
      it('stores every field and reads it back unchanged', async () => {
        const records = dataset(40);
        await store.insert(records);
        const rows = await raw.rows();
        expect(rows.map(rowToRecord)).toEqual(sortById(records));
        for (const record of records.slice(0, 5)) expect(await store.get(record.id)).toEqual(record);
        expect(await store.get('no-such-id')).toBeUndefined();
      });

      it('skips a record whose id is already stored, also within one batch', async () => {
        const records = dataset(30);
        await store.insert(records.slice(0, 20));
        const changed = { ...records[0]!, action: 'changed.action' };
        await store.insert([changed, ...records.slice(10), records[25]!]);
        const rows = await raw.rows();
        expect(rows).toHaveLength(30);
        expect(rows.map(rowToRecord)).toEqual(sortById(records));
      });

      it('takes a second batch while it writes the first, when it declares capabilities.concurrentInserts', async (test) => {
        if (store.capabilities?.concurrentInserts !== true) return skipWithReason(test, options.name, 'concurrent inserts (capabilities.concurrentInserts is not set)');
        const records = dataset(1200);
        // Overlapping batches, as the logger hands them over: none lost, none written twice.
        await Promise.all([store.insert(records.slice(0, 600)), store.insert(records.slice(600, 1100)), store.insert(records.slice(1000))]);
        const rows = await raw.rows();
        expect(rows.map(rowToRecord)).toEqual(sortById(records));
      });

      it('writes a batch larger than one statement in one call', async () => {
        const records = dataset(2500);
        await store.insert(records);
        expect((await raw.rows()).length).toBe(2500);
      });

      it('round-trips JSON with unicode, emoji, nested arrays and escapes', async () => {
        const metadata = {
          text: 'Grüße, 東京, Ελληνικά, 😀👩‍👩‍👧, \u2028',
          quotes: `"double" 'single' \\back\\slash`,
          nested: [[1, [2, [3, { deep: ['a', null, true, false] }]]], [], {}],
          numbers: [0, -1, 1.5, 1e21, 123456789012],
          empty: '',
          nothing: null,
        };
        const record = makeRecord(0, {
          metadata,
          changes: { title: { before: 'Old 🍝', after: 'New 🍕' }, tags: { before: ['a'], after: ['a', 'b'] } },
          error: { name: 'TypeError', message: 'ünïcødé ☃', code: 'E_X' },
          context: { ip: '::1', userAgent: 'Mozilla/5.0 (😀)', route: '/recipes/:id' },
        });
        await store.insert([record]);
        expect(await store.get(record.id)).toEqual(record);
        const [row] = await raw.rows();
        expect(row!.metadata).toEqual(metadata);
        expect(row!.changes).toEqual(record.changes);
        expect(row!.error).toEqual(record.error);
        expect(row!.context).toEqual(record.context);
      });

      it('stores text that an array or list literal treats specially exactly as given, in every text column', async () => {
        // A store may bind a batch as one array per column (PostgreSQL's unnest): braces,
        // commas, quotes, backslashes, the word NULL and white space must not be read as syntax.
        const texts = ['{a,b}', 'NULL', 'null', '"quoted"', 'back\\slash\\', ' padded ', 'a,b;c', '{"json":[1]}', '\t\n', ')', "it's"];
        const records = texts.map((text, i) =>
          makeRecord(i, {
            action: `a.${i}`,
            actor: { type: 'user', id: text, name: text },
            target: { type: 'recipe', id: text, name: text },
            tenantId: text,
            metadata: { text, list: [text, null] },
            context: { requestId: text },
          }),
        );
        await store.insert(records);
        expect((await raw.rows()).map(rowToRecord)).toEqual(sortById(records));
      });

      it('round-trips timestamps exactly to the millisecond in UTC', async () => {
        const times = [
          Date.UTC(2026, 2, 29, 1, 59, 59, 999), // a European DST switch
          Date.UTC(1999, 11, 31, 23, 59, 59, 1),
          Date.UTC(2026, 0, 2, 3, 0, 0, 0),
          Date.UTC(2038, 0, 19, 3, 14, 8, 123), // past the 32-bit epoch
          Date.UTC(2024, 1, 29, 12, 0, 0, 7),
        ];
        const records = times.map((ms, i) => makeRecord(i, { occurredAt: new Date(ms) }));
        await store.insert(records);
        for (const record of records) expect((await store.get(record.id))!.occurredAt.getTime()).toBe(record.occurredAt.getTime());
        const rows = await raw.rows();
        expect(rows.map((row) => row.occurred_at).sort()).toEqual([...times].sort());
      });
    });

    describe('query', () => {
      it('returns the same pages as the memory store for every filter, alone and combined', async () => {
        const records = dataset(300);
        const reference = memoryStore();
        await reference.insert(records);
        await store.insert(records);
        for (const query of queriesFor(store)) {
          const expected = await collect(reference, query);
          const actual = await collect(store, query);
          expect({ query, ids: actual.map((r) => r.id) }).toEqual({ query, ids: expected.map((r) => r.id) });
          expect(actual).toEqual(expected);
        }
      });

      it('counts as the memory store does (or, without count(), the logger answers UNSUPPORTED)', async () => {
        if (!store.count) return expectUnsupported(store, (logger) => logger.count({}));
        const records = dataset(300);
        const reference = memoryStore();
        await reference.insert(records);
        await store.insert(records);
        for (const query of queriesFor(store)) {
          const { limit: _limit, after: _after, ...filter } = parseActivityQuery(query);
          expect({ query, n: await store.count(filter) }).toEqual({ query, n: await reference.count!(filter) });
        }
      });

      it('summarizes by every dimension as the memory store does (or, without summarize(), the logger answers UNSUPPORTED)', async () => {
        if (!store.summarize) return expectUnsupported(store, (logger) => logger.summarize({ by: 'action' }));
        const records = dataset(300);
        const reference = memoryStore();
        await reference.insert(records);
        await store.insert(records);
        const dimensions: SummaryDimension[] = ['action', 'status', 'actorType', 'hour', 'day'];
        const filters: NormalizedActivityFilter[] = [{}, { tenantId: 't_1' }, { action: 'recipe.*', from: new Date(BASE + 10 * HOUR) }];
        for (const by of dimensions) {
          for (const filter of filters) {
            const expected = await reference.summarize!({ ...filter, by });
            expect(expected.length).toBeGreaterThan(0);
            expect({ by, filter, buckets: await store.summarize({ ...filter, by }) }).toEqual({ by, filter, buckets: expected });
            if ((by === 'hour' || by === 'day') && store.capabilities?.zonedSummary) {
              for (const tz of ['Asia/Kolkata', 'America/New_York']) {
                const zoned = await reference.summarize!({ ...filter, by, tz });
                expect({ by, tz, filter, buckets: await store.summarize({ ...filter, by, tz }) }).toEqual({ by, tz, filter, buckets: zoned });
              }
            }
          }
        }
      });

      it('matches SQL-looking and wildcard values exactly, never as SQL or patterns', async () => {
        const tricky = ["' OR 1=1 --", '%', '_', '\\', 'a%b', 'a_b', '!', '"; drop table x; --', 'U_1'];
        const records = tricky.map((value, i) =>
          makeRecord(i, { actor: { type: 'user', id: value }, metadata: { note: value }, tenantId: value }),
        );
        records.push(
          makeRecord(20, { actor: { type: 'user', id: 'axb' }, metadata: { note: 'axb' }, tenantId: 'axb' }),
          makeRecord(21, { actor: { type: 'user', id: 'u_1' }, metadata: { note: 'u_1' } }),
          makeRecord(22, { action: 'a_b.create' }),
          makeRecord(23, { action: 'axb.create' }),
          makeRecord(24, { action: 'a_bc.create' }),
        );
        await store.insert(records);
        for (const value of tricky) {
          const byActor = await collect(store, { actorId: value });
          expect(byActor.map((r) => r.actor?.id)).toEqual([value]);
          if (takesMetadataFilters(store)) expect((await collect(store, { metadata: { note: value } })).map((r) => r.id)).toEqual(byActor.map((r) => r.id));
          expect((await collect(store, { tenantId: value })).map((r) => r.tenantId)).toEqual([value]);
        }
        expect((await collect(store, { action: 'a_b.*' })).map((r) => r.action)).toEqual(['a_b.create']);
        expect(await collect(store, { actorId: "' OR 1=1 --", action: 'recipe.*' })).toHaveLength(1);
        expect(await collect(store, { actorId: 'nobody' })).toEqual([]);
      });

      it('finds free text as text: "%", "_", "!" and "\\" are plain characters, ASCII letters in either case, other letters exactly', async (test) => {
      if (store.capabilities?.searchFilters !== true) return skipWithReason(test, options.name, 'search filters (capabilities.searchFilters is not set)');
      const names = ['100% Rye', 'rye_bread', 'Rye!', 'RYE loaf', 'wheat', 'ÉCLAIR', 'ZOË', 'İstanbul', 'back\\slash', '50%_off'];
      await store.insert([
        ...names.map((name, i) => makeRecord(i, { target: { type: 'recipe', id: `r_${i}`, name } })),
        makeRecord(10, { actor: { type: 'user', id: 'u_9', name: 'Ryan' }, action: 'plan.generate' }),
        makeRecord(11, { action: 'rye.bake' }),
      ]);
      const names_ = async (search: string) => (await collect(store, { search })).map((r) => r.target?.name ?? r.actor?.name ?? r.action).sort();
      expect(await names_('%')).toEqual(['100% Rye', '50%_off']);
      expect(await names_('_')).toEqual(['50%_off', 'rye_bread']);
      expect(await names_('!')).toEqual(['Rye!']);
      expect(await names_('rye')).toEqual(['100% Rye', 'RYE loaf', 'Rye!', 'rye.bake', 'rye_bread'].sort());
      expect(await names_('rYa')).toEqual(['Ryan']);
      expect(await names_('nothing like it')).toEqual([]);
      // Only A–Z fold: a letter beyond them matches itself, in the case it was logged in.
      expect(await names_('ÉCLAIR')).toEqual(['ÉCLAIR']);
      expect(await names_('Éclair')).toEqual(['ÉCLAIR']);
      expect(await names_('éclair')).toEqual([]);
      expect(await names_('ZOË')).toEqual(['ZOË']);
      expect(await names_('zoë')).toEqual([]);
      expect(await names_('zoË')).toEqual(['ZOË']);
      expect(await names_('İstanbul')).toEqual(['İstanbul']);
      expect(await names_('istanbul')).toEqual([]);
      expect(await names_('STANBUL')).toEqual(['İstanbul']);
      expect(await names_('\\')).toEqual(['back\\slash']);
      expect(await names_('k\\s')).toEqual(['back\\slash']);
      expect(await names_('0%_')).toEqual(['50%_off']);
      expect(await names_('%_o')).toEqual(['50%_off']);
      expect(await names_('0_%')).toEqual([]);
    });

    it('finds the records of one request and of one trace, and leaves out an excluded action', async (test) => {
      if (store.capabilities?.searchFilters !== true) return skipWithReason(test, options.name, 'search filters (capabilities.searchFilters is not set)');
      await store.insert([
        makeRecord(0, { action: 'http.request', context: { requestId: 'req-A', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } }),
        makeRecord(1, { action: 'recipe.create', context: { requestId: 'req-A' } }),
        makeRecord(2, { action: 'activity.query', context: { requestId: 'req-B', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } }),
        makeRecord(3, { action: 'recipe.update', context: { requestId: 'REQ-A' } }),
        makeRecord(4, { action: 'recipe.update', metadata: { requestId: 'req-A' } }),
        makeRecord(5, { action: 'activity.query', status: 'denied', context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } }),
      ]);
      const actions = async (query: ActivityQuery) => (await collect(store, query)).map((r) => r.action);
      expect(await actions({ requestId: 'req-A' })).toEqual(['recipe.create', 'http.request']);
      expect(await actions({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' })).toEqual(['activity.query', 'activity.query', 'http.request']);
      expect(await actions({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', excludeAction: 'activity.*' })).toEqual(['http.request']);
      // Only the successful ones left out: the refused read stays.
      const statuses = async (query: ActivityQuery) => (await collect(store, query)).map((r) => `${r.action} ${r.status}`);
      expect(await statuses({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', excludeAction: 'activity.*', excludeActionStatus: 'success' })).toEqual(['activity.query denied', 'http.request success']);
      expect(await statuses({ excludeAction: 'recipe.*', excludeActionStatus: 'denied' })).toHaveLength(6);
      if (store.count) expect(await store.count(parseActivityFilter({ excludeAction: 'activity.*', excludeActionStatus: 'success' }))).toBe(5);
      expect(await actions({ excludeAction: 'recipe.*' })).toEqual(['activity.query', 'activity.query', 'http.request']);
      if (store.count) expect(await store.count(parseActivityFilter({ requestId: 'req-A' }))).toBe(2);
    });

    it('summarizes hours and days in a time zone, half-hour zones and DST changes included', async (test) => {
      if (!store.summarize || store.capabilities?.zonedSummary !== true) return skipWithReason(test, options.name, 'summaries in a time zone (capabilities.zonedSummary is not set)');
      const at = (iso: string, i: number, status: ActivityRecord['status'] = 'success') => makeRecord(i, { occurredAt: new Date(iso), status });
      await store.insert([
        at('2026-01-01T18:29:59.999Z', 0), // 23:59:59.999 on Jan 1 in Kolkata (+05:30)
        at('2026-01-01T18:30:00.000Z', 1, 'failure'), // 00:00 on Jan 2 in Kolkata
        at('2026-01-01T19:10:00.000Z', 2),
        at('2026-03-29T00:59:00.000Z', 3), // 01:59 CET in Paris
        at('2026-03-29T01:00:00.000Z', 4), // 03:00 CEST: the clocks went forward
        at('2025-12-31T18:14:59.999Z', 5), // 23:59:59.999 on Dec 31 in Kathmandu (+05:45)
        at('2025-12-31T18:15:00.000Z', 6), // 00:00 on Jan 1 in Kathmandu
      ]);
      const summary = (by: 'hour' | 'day', tz: string, filter: NormalizedActivityFilter = {}) => store.summarize!(parseSummaryQuery({ ...filter, by, tz }));
      const jan = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-02-01T00:00:00Z') };
      expect(await summary('day', 'Asia/Kolkata', jan)).toEqual([
        { key: '2026-01-01', count: 1, byStatus: { success: 1 } },
        { key: '2026-01-02', count: 2, byStatus: { success: 1, failure: 1 } },
      ]);
      expect(await summary('day', 'UTC', jan)).toEqual([{ key: '2026-01-01', count: 3, byStatus: { success: 2, failure: 1 } }]);
      expect(await summary('hour', 'Asia/Kolkata', jan)).toEqual([
        { key: '2026-01-01T17:30:00.000Z', count: 1, byStatus: { success: 1 } },
        { key: '2026-01-01T18:30:00.000Z', count: 2, byStatus: { success: 1, failure: 1 } },
      ]);
      expect((await summary('day', 'America/St_Johns', jan)).map((b) => [b.key, b.count])).toEqual([['2026-01-01', 3]]);
      const march = { from: new Date('2026-03-01T00:00:00Z') };
      expect((await summary('hour', 'Europe/Paris', march)).map((b) => b.key)).toEqual(['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z']);
      expect((await summary('day', 'Europe/Paris', march)).map((b) => [b.key, b.count])).toEqual([['2026-03-29', 2]]);
      expect((await summary('day', 'Asia/Kathmandu')).map((b) => [b.key, b.count])).toEqual([
        ['2025-12-31', 1],
        ['2026-01-01', 1],
        ['2026-01-02', 3],
        ['2026-03-29', 2],
      ]);
    });

    // A zone's units cost time for every year they are worked out over: chosen over the query's
    // range as given, `from=0001&to=9999` (an admin API's parameters) held the event loop for
    // 40 s with a handful of records.
    it('summarizes in a zone over a range of millennia in the time its records need', async (test) => {
      if (!store.summarize || store.capabilities?.zonedSummary !== true) return skipWithReason(test, options.name, 'summaries in a time zone (capabilities.zonedSummary is not set)');
      await store.insert([
        makeRecord(0, { occurredAt: new Date('2026-03-08T06:30:00.000Z') }), // 01:30 EST on March 8 in New York
        makeRecord(1, { occurredAt: new Date('2026-03-08T07:30:00.000Z') }), // 03:30 EDT: the clocks went forward
      ]);
      const query = (by: 'hour' | 'day', from: string, to: string) => store.summarize!(parseSummaryQuery({ by, tz: 'America/New_York', from, to }));
      /** How long both summaries take over a range, and what they found. */
      const timed = async (from: string, to: string) => {
        const started = performance.now();
        const found = [await query('day', from, to), await query('hour', from, to)].map((buckets) => buckets.map((b) => [b.key, b.count]));
        return { ms: performance.now() - started, found };
      };
      // Against the same summaries over the year that holds the records, measured in the same
      // run (not a wall-clock limit a loaded machine could miss): the millennia must not cost
      // much more. Before the range was narrowed, 40 s against a few milliseconds.
      const year = await timed('2026', '2027');
      const millennia = await timed('0001', '9999');
      const again = await timed('2026', '2027');
      expect(millennia.found).toEqual([
        [['2026-03-08', 2]],
        [
          ['2026-03-08T06:00:00.000Z', 1],
          ['2026-03-08T07:00:00.000Z', 1],
        ],
      ]);
      expect(year.found).toEqual(millennia.found);
      const anchor = Math.max(Math.min(year.ms, again.ms), 50);
      expect(millennia.ms / anchor, `from the year 1 to 9999: ${millennia.ms.toFixed(0)} ms; over 2026 alone: ${Math.min(year.ms, again.ms).toFixed(0)} ms`).toBeLessThan(20);
    }, 120_000);

    it('summarizes in a zone exactly through odd changes, historic offsets, before 1970 and before the year 100', async (test) => {
      if (!store.summarize || store.capabilities?.zonedSummary !== true) return skipWithReason(test, options.name, 'summaries in a time zone (capabilities.zonedSummary is not set)');
      const at = (iso: string, i: number, action: string) => makeRecord(i, { occurredAt: new Date(iso), action });
      await store.insert([
        // Lord Howe Island goes from +11 to +10:30 at 02:00 local on 2026-04-05 (15:00Z).
        at('2026-04-04T14:10:00.000Z', 0, 'tz.lordhowe'), // 01:10 (+11)
        at('2026-04-04T15:10:00.000Z', 1, 'tz.lordhowe'), // 01:40 (+10:30), an hour that began at 14:30Z
        at('2026-04-04T15:40:00.000Z', 2, 'tz.lordhowe'), // 02:10 (+10:30)
        // St John's left DST at 00:01 local on 1989-10-29 (02:31Z), back to 23:01 on the 28th.
        at('1989-10-29T02:30:30.000Z', 3, 'tz.stjohns'), // 00:00:30 on the 29th (-2:30)
        at('1989-10-29T02:35:00.000Z', 4, 'tz.stjohns'), // 23:05 on the 28th (-3:30)
        // Monrovia was -0:44:30 until 1972.
        at('1971-06-01T00:40:00.000Z', 5, 'tz.monrovia'), // 23:55:30 on May 31
        at('1971-06-01T00:50:00.000Z', 6, 'tz.monrovia'), // 00:05:30 on June 1
        // Paris was +0:09:21 until 1911.
        at('1900-01-01T23:45:00.000Z', 7, 'tz.paris'), // 23:54:21 on Jan 1
        at('1900-01-01T23:55:00.000Z', 8, 'tz.paris'), // 00:04:21 on Jan 2
        // Kolkata in the year 50: local mean time, +5:53:28.
        at('0050-06-15T18:00:00.000Z', 9, 'tz.year50'), // 23:53:28 on June 15
        at('0050-06-15T18:10:00.000Z', 10, 'tz.year50'), // 00:03:28 on June 16
        // Before 1970 in UTC: a floor, not a division toward zero.
        at('1969-12-31T12:00:00.000Z', 11, 'tz.utc'),
        at('1969-12-31T23:59:59.999Z', 12, 'tz.utc'),
      ]);
      // No from or to: the units are chosen over the whole table, the year 50 to 2026.
      const keys = async (by: 'hour' | 'day', tz: string, action: string, range: NormalizedActivityFilter = {}) =>
        (await store.summarize!(parseSummaryQuery({ ...range, action, by, tz }))).map((b) => [b.key, b.count]);
      expect(await keys('hour', 'Australia/Lord_Howe', 'tz.lordhowe')).toEqual([
        ['2026-04-04T14:00:00.000Z', 1],
        ['2026-04-04T14:30:00.000Z', 1],
        ['2026-04-04T15:30:00.000Z', 1],
      ]);
      const april = { from: new Date('2026-04-01T00:00:00Z'), to: new Date('2026-04-08T00:00:00Z') };
      expect(await keys('hour', 'Australia/Lord_Howe', 'tz.lordhowe', april)).toEqual(await keys('hour', 'Australia/Lord_Howe', 'tz.lordhowe'));
      expect(await keys('day', 'Australia/Lord_Howe', 'tz.lordhowe', april)).toEqual([['2026-04-05', 3]]);
      expect(await keys('day', 'America/St_Johns', 'tz.stjohns')).toEqual([
        ['1989-10-28', 1],
        ['1989-10-29', 1],
      ]);
      expect(await keys('day', 'Africa/Monrovia', 'tz.monrovia')).toEqual([
        ['1971-05-31', 1],
        ['1971-06-01', 1],
      ]);
      expect(await keys('day', 'Europe/Paris', 'tz.paris')).toEqual([
        ['1900-01-01', 1],
        ['1900-01-02', 1],
      ]);
      expect(await keys('day', 'Asia/Kolkata', 'tz.year50')).toEqual([
        ['0050-06-15', 1],
        ['0050-06-16', 1],
      ]);
      expect(await keys('hour', 'Asia/Kolkata', 'tz.year50')).toEqual([
        ['0050-06-15T17:06:32.000Z', 1],
        ['0050-06-15T18:06:32.000Z', 1],
      ]);
      expect(await keys('day', 'UTC', 'tz.year50')).toEqual([['0050-06-15', 2]]);
      expect(await keys('day', 'UTC', 'tz.utc')).toEqual([['1969-12-31', 2]]);
      expect(await keys('hour', 'UTC', 'tz.utc')).toEqual([
        ['1969-12-31T12:00:00.000Z', 1],
        ['1969-12-31T23:00:00.000Z', 1],
      ]);
      // In Kolkata (+5:30) 1969-12-31T23:59:59.999Z is already 1970-01-01.
      expect(await keys('day', 'Asia/Kolkata', 'tz.utc')).toEqual([
        ['1969-12-31', 1],
        ['1970-01-01', 1],
      ]);
    });

    it('refuses a metadata filter through the logger, with UNSUPPORTED, when the store does not take them', async () => {
        const logger = createActivityLogger({ store, onError: () => undefined });
        await store.insert(dataset(3));
        if (takesMetadataFilters(store)) {
          expect((await logger.query({ metadata: { recipeId: 'none' } })).items).toEqual([]);
        } else {
          await expect(logger.query({ metadata: { recipeId: 'r_1' } })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
        }
        await logger.close();
      });

      it('compares metadata by JSON type: the string "1" is not the number 1, nor true', async (test) => {
        if (!takesMetadataFilters(store)) return skipWithReason(test, options.name, 'metadata filters (capabilities.metadataFilter is not set)');
        const records = [
          makeRecord(0, { metadata: { v: 1 } }),
          makeRecord(1, { metadata: { v: '1' } }),
          makeRecord(2, { metadata: { v: true } }),
          makeRecord(3, { metadata: { v: 'true' } }),
          makeRecord(4, { metadata: { v: 1.5 } }),
          makeRecord(5, { metadata: { v: null } }),
          makeRecord(6, { metadata: { v: [1] } }),
          makeRecord(7, { metadata: { w: 1 } }),
          makeRecord(8, { metadata: { v: 'Abc' } }),
          makeRecord(9, { metadata: { v: false } }),
          makeRecord(10, {}),
          makeRecord(11, { metadata: { v: { a: 1 } } }),
        ];
        await store.insert(records);
        const idsFor = async (value: string | number | boolean) =>
          (await collect(store, { metadata: { v: value } })).map((r) => r.id);
        expect(await idsFor(1)).toEqual([records[0]!.id]);
        expect(await idsFor('1')).toEqual([records[1]!.id]);
        expect(await idsFor(true)).toEqual([records[2]!.id]);
        expect(await idsFor(false)).toEqual([records[9]!.id]);
        expect(await idsFor('true')).toEqual([records[3]!.id]);
        expect(await idsFor(1.5)).toEqual([records[4]!.id]);
        expect(await idsFor('abc')).toEqual([]);
        // Arrays and objects are never equal to a string holding their JSON.
        expect(await idsFor('[1]')).toEqual([]);
        expect(await idsFor('{"a":1}')).toEqual([]);
        expect(await idsFor('Abc')).toEqual([records[8]!.id]);
      });

      it('finds a number by the value it was logged with, integers past 2^53 and extremes included', async (test) => {
        if (!takesMetadataFilters(store)) return skipWithReason(test, options.name, 'metadata filters (capabilities.metadataFilter is not set)');
        // JSON.stringify(2 ** 60) is "1152921504606847000": a store that reads that text as a
        // 64-bit integer must still find it by the number 2 ** 60.
        const values = [2 ** 60, -(2 ** 60), 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e21, 1e-7, 0.1 + 0.2, -1.5, 1.7976931348623157e308];
        const records = values.map((value, i) => makeRecord(i, { metadata: { n: value } }));
        await store.insert(records);
        for (const [i, value] of values.entries()) {
          expect((await collect(store, { metadata: { n: value } })).map((r) => r.id), `metadata.n = ${value}`).toEqual([records[i]!.id]);
        }
      });

      it('tells 0 from the numbers nearest it (5e-324, 1e-40, the smallest normal double)', async (test) => {
        if (!takesMetadataFilters(store)) return skipWithReason(test, options.name, 'metadata filters (capabilities.metadataFilter is not set)');
        // A database that compares a number with an integer as a decimal of some 38 places
        // reads every one of these as 0 (MariaDB did).
        const values = [0, 5e-324, -5e-324, 1e-40, 2.2250738585072014e-308, 1e-38];
        const records = values.map((value, i) => makeRecord(i, { metadata: { n: value } }));
        await store.insert(records);
        for (const [i, value] of values.entries()) {
          expect((await collect(store, { metadata: { n: value } })).map((r) => r.id), `metadata.n = ${value}`).toEqual([records[i]!.id]);
        }
      });

      it('pages through deep result sets in order without skipping or repeating', async () => {
        // Many records share a millisecond, so the id tiebreak matters.
        const records = Array.from({ length: 1200 }, (_, i) => makeRecord(i, { occurredAt: new Date(BASE + Math.floor(i / 7)) }));
        await store.insert(records);
        const seen = await collect(store, {}, 23);
        expect(seen.map((r) => r.id)).toEqual(inPageOrder(records).map((r) => r.id));
        const filtered = await collect(store, { actorId: 'u_1' }, 9);
        expect(filtered.map((r) => r.id)).toEqual(inPageOrder(records.filter((r) => r.actor?.id === 'u_1')).map((r) => r.id));
      });

      it('pages under concurrent inserts without skipping or repeating a record', async () => {
        const records = Array.from({ length: 200 }, (_, i) => makeRecord(i, { occurredAt: new Date(BASE + Math.floor(i / 3)) }));
        await store.insert(records);
        const seen: string[] = [];
        let query = parseActivityQuery({ limit: 15 });
        for (let page = 0; ; page++) {
          // Newer records, records at the cursor's own millisecond, and older ones arrive between pages.
          await store.insert([
            makeRecord(10_000 + page * 3, { occurredAt: new Date(BASE + 1_000_000 + page) }),
            makeRecord(10_001 + page * 3, { occurredAt: new Date(BASE + 66) }),
            makeRecord(10_002 + page * 3, { occurredAt: new Date(BASE - 1000 - page) }),
          ]);
          const result = await store.query(query);
          seen.push(...result.items.map((r) => r.id));
          if (!result.nextCursor) break;
          query = parseActivityQuery({ limit: 15, cursor: result.nextCursor });
        }
        expect(new Set(seen).size).toBe(seen.length);
        for (const record of records) expect(seen).toContain(record.id);
      });

      it('rejects a metadata key that is not an identifier instead of building SQL with it', async (test) => {
        if (!takesMetadataFilters(store)) return skipWithReason(test, options.name, 'metadata filters (capabilities.metadataFilter is not set)');
        await store.insert(dataset(3));
        const query = { ...parseActivityQuery({}), metadata: { "a') or 1=1 --": 'x' } };
        // The memory store has no SQL to protect and finds nothing; a SQL store refuses the key.
        const outcome = await store.query(query).then(
          (page) => page.items.length,
          (error: ActivityLogError) => error.code,
        );
        expect([0, 'INVALID_QUERY']).toContain(outcome);
      });
    });

    describe('hash chains', () => {
      it('pages sealed records in chain order, by chain, time and position (or the logger refuses to verify)', async (test) => {
        if (!store.chainPage) {
          const logger = createActivityLogger({ store, integrity: { key: 'a key of at least sixteen bytes' }, onError: () => undefined });
          await expect(logger.verify()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
          await logger.close();
          return skipWithReason(test, options.name, 'chain pages (the store has no chainPage())');
        }
        const sealed = Array.from({ length: 40 }, (_, i) =>
          makeRecord(i, { integrity: { chain: i % 3 === 0 ? 'chain-b' : 'chain-a', seq: 100 - i, keyId: 'k1', prev: '', hash: String(i) } }),
        );
        await store.insert([...sealed, ...dataset(5).map((record) => ({ ...record, integrity: undefined }))].reverse());
        const order = (records: ActivityRecord[]) => records.map((record) => `${record.integrity!.chain}/${record.integrity!.seq}`);
        const expected = [...sealed].sort((a, b) => (a.integrity!.chain < b.integrity!.chain ? -1 : a.integrity!.chain > b.integrity!.chain ? 1 : a.integrity!.seq - b.integrity!.seq));
        const paged: ActivityRecord[] = [];
        let after: { chain: string; seq: number } | undefined;
        for (;;) {
          const page = await store.chainPage({ after, limit: 7 });
          paged.push(...page);
          if (page.length < 7) break;
          after = { chain: page[6]!.integrity!.chain, seq: page[6]!.integrity!.seq };
        }
        expect(order(paged)).toEqual(order(expected));
        expect(paged).toEqual(expected);
        expect(order(await store.chainPage({ chain: 'chain-b', limit: 100 }))).toEqual(order(expected.filter((r) => r.integrity!.chain === 'chain-b')));
        const from = new Date(BASE + 10_000);
        const to = new Date(BASE + 20_000);
        expect(order(await store.chainPage({ from, to, limit: 100 }))).toEqual(
          order(expected.filter((r) => r.occurredAt.getTime() >= from.getTime() && r.occurredAt.getTime() < to.getTime())),
        );
      });

      it('pages records that share a place (a renumbered chain) in id order, each once', async (test) => {
        if (!store.chainPage) return skipWithReason(test, options.name, 'chain pages (the store has no chainPage())');
        const sealed = Array.from({ length: 12 }, (_, i) => makeRecord(i, { integrity: { chain: 'chain-t', seq: i < 2 ? i + 1 : 3, keyId: 'k1', prev: '', hash: String(i) } }));
        await store.insert([...sealed].reverse());
        const paged: string[] = [];
        let after: { chain: string; seq: number; id?: string } | undefined;
        for (;;) {
          const page = await store.chainPage({ after, limit: 5 });
          paged.push(...page.map((record) => record.id));
          if (page.length < 5) break;
          const last = page[4]!;
          after = { chain: last.integrity!.chain, seq: last.integrity!.seq, id: last.id };
        }
        const byPlaceThenId = [...sealed].sort((a, b) => a.integrity!.seq - b.integrity!.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        expect(paged).toEqual(byPlaceThenId.map((record) => record.id));
        // Without an id, a position is after every record at its place.
        expect((await store.chainPage({ after: { chain: 'chain-t', seq: 3 }, limit: 5 })).length).toBe(0);
        expect((await store.chainPage({ after: { chain: 'chain-t', seq: 2 }, limit: 20 })).map((record) => record.id)).toEqual(byPlaceThenId.slice(2).map((record) => record.id));
      });

      it('keeps checkpoints once each and pages them in chain order', async (test) => {
        if (!store.insertCheckpoints || !store.checkpointPage) return skipWithReason(test, options.name, 'checkpoints (the store has no insertCheckpoints() and checkpointPage())');
        const checkpoint = (chain: string, seq: number) => ({ chain, seq, hash: `h${seq}`, keyId: 'k1', at: new Date(BASE + seq).toISOString(), signature: `s${seq}` });
        await store.insertCheckpoints([checkpoint('b', 2), checkpoint('a', 10), checkpoint('a', 2)]);
        await store.insertCheckpoints([checkpoint('a', 10), { ...checkpoint('a', 20), hash: 'h20' }]);
        expect(await store.checkpointPage({ limit: 10 })).toEqual([checkpoint('a', 2), checkpoint('a', 10), checkpoint('a', 20), checkpoint('b', 2)]);
        expect(await store.checkpointPage({ after: { chain: 'a', seq: 10 }, limit: 2 })).toEqual([checkpoint('a', 20), checkpoint('b', 2)]);
        expect(await store.checkpointPage({ chain: 'b', limit: 10 })).toEqual([checkpoint('b', 2)]);
      });

      it('erases through a rewrite of the records a filter matches, changing nothing else', async (test) => {
        if (!store.erase) return skipWithReason(test, options.name, 'erasure (the store has no erase())');
        const records = dataset(60);
        await store.insert(records);
        // The name, and a personal key's change (an erasure rewrites `changes` too).
        const erased = (record: ActivityRecord): ActivityRecord => ({ ...record, actor: { ...record.actor!, name: '[ERASED]' }, changes: { email: '[ERASED]' } as unknown as ActivityRecord['changes'] });
        const rewritten = await store.erase(parseActivityQuery({ actorId: 'u_1' }), (record) => (record.actor?.name === undefined ? undefined : erased(record)));
        const expected = records.map((record) => (record.actor?.id === 'u_1' && record.actor.name !== undefined ? erased(record) : record));
        expect(rewritten).toBe(expected.filter((record, i) => record !== records[i]).length);
        expect(rewritten).toBeGreaterThan(0);
        expect((await raw.rows()).map(rowToRecord)).toEqual(sortById(expected));
      });
    });

    describe('purge', () => {
      it('deletes records older than "before", in batches, and returns the count', async () => {
        const records = Array.from({ length: 4300 }, (_, i) => makeRecord(i, { occurredAt: new Date(BASE + i * 1000) }));
        await store.insert(records);
        const before = new Date(BASE + 4200 * 1000);
        expect(await store.purge({ before })).toBe(4200);
        const rows = await raw.rows();
        expect(rows).toHaveLength(100);
        for (const row of rows) expect(row.occurred_at).toBeGreaterThanOrEqual(before.getTime());
        expect(await store.purge({ before })).toBe(0);
      });

      it('purges only one tenant or one action when asked', async () => {
        const records = dataset(300);
        const reference = memoryStore();
        await reference.insert(records);
        await store.insert(records);
        const cases = [
          { before: new Date(BASE + 40 * HOUR), tenantId: 't_1' },
          { before: new Date(BASE + 60 * HOUR), action: 'recipe.*' },
          { before: new Date(BASE + 50 * HOUR), action: 'user.signup', tenantId: 't_2' },
        ];
        for (const options of cases) expect(await store.purge(options)).toBe(await reference.purge(options));
        expect((await raw.rows()).map(rowToRecord)).toEqual(sortById(reference.all()));
      });

      it('deletes at most "limit" records, the oldest first', async () => {
        const records = Array.from({ length: 30 }, (_, i) => makeRecord(i, { occurredAt: new Date(BASE + i * 1000) }));
        await store.insert(records);
        const before = new Date(BASE + 25 * 1000);
        expect(await store.purge({ before, limit: 7 })).toBe(7);
        expect((await raw.rows()).map((row) => row.id)).toEqual(records.slice(7).map((record) => record.id).sort());
        expect(await store.purge({ before, limit: 100 })).toBe(18);
        expect(await raw.rows()).toHaveLength(5);
      });

      it('leaves alone every record an exception matches, records without a tenant included (capabilities.purgeExcept)', async (test) => {
        if (store.capabilities?.purgeExcept !== true) return skipWithReason(test, options.name, 'purge exceptions (capabilities.purgeExcept is not set)');
        const records = dataset(300);
        const reference = memoryStore();
        await reference.insert(records);
        await store.insert(records);
        const cases = [
          { before: new Date(BASE + 40 * HOUR), except: [{ tenantId: 't_1' }] },
          { before: new Date(BASE + 60 * HOUR), action: 'recipe.*', except: [{ action: 'recipe.update' }, { tenantId: 't_2', action: 'recipe.delete' }] },
          { before: new Date(BASE + 70 * HOUR), tenantId: 't_2', except: [{ action: 'user.*' }], limit: 5 },
          { before: new Date(BASE + 80 * HOUR), except: [{ tenantId: 't_2' }, { action: 'plan.generate' }] },
        ];
        for (const [i, purge] of cases.entries()) {
          const removed = await store.purge(purge);
          expect({ purge, removed }).toEqual({ purge, removed: await reference.purge(purge) });
          expect(removed).toBeGreaterThan(0);
          if (i === 0) {
            // The exception kept t_1's old records, and records of no tenant were not spared.
            const old = (record: ActivityRecord) => record.occurredAt.getTime() < BASE + 40 * HOUR;
            expect(reference.all().some((record) => record.tenantId === 't_1' && old(record))).toBe(true);
            expect(reference.all().some((record) => record.tenantId === undefined && old(record))).toBe(false);
          }
        }
        expect((await raw.rows()).map(rowToRecord)).toEqual(sortById(reference.all()));
      });
    });

    describe('lease', () => {
      it('gives a lease to one holder at a time, renews it for that holder, and frees it at its expiry or with a ttl of 0', async (test) => {
        if (!store.lease) return skipWithReason(test, options.name, 'leases (the store has no lease())');
        expect(await store.lease('job', 'a', 60_000)).toBe(true);
        expect(await store.lease('job', 'b', 60_000)).toBe(false);
        expect(await store.lease('job', 'a', 60_000)).toBe(true);
        expect(await store.lease('other-job', 'b', 60_000)).toBe(true);
        expect(await store.lease('job', 'a', 0)).toBe(true);
        expect(await store.lease('job', 'b', 30)).toBe(true);
        expect(await store.lease('job', 'a', 60_000)).toBe(false);
        await new Promise((resolve) => setTimeout(resolve, 60));
        expect(await store.lease('job', 'a', 60_000)).toBe(true);
      });

      it.skipIf(!can.sharedDatabase)('lets exactly one of several stores on one database take a lease at once', async (test) => {
        if (!store.lease) return skipWithReason(test, options.name, 'leases (the store has no lease())');
        const others = [context.makeSecondStore!(), context.makeSecondStore!(), context.makeSecondStore!()];
        try {
          const results = await Promise.all([store, ...others].map((each, i) => each.lease!('race', `holder-${i}`, 60_000)));
          expect(results.filter(Boolean)).toHaveLength(1);
        } finally {
          for (const other of others) await other.close?.();
        }
      });
    });

    describe.skipIf(!can.sharedDatabase)('several writers', () => {
      it('lets two stores write to one table at once, each record stored once', async () => {
        const other = context.makeSecondStore!();
        try {
          const records = dataset(1000);
          const batches = (from: number, to: number) =>
            Array.from({ length: (to - from) / 100 }, (_, i) => records.slice(from + i * 100, from + (i + 1) * 100));
          // The two writers overlap on records 400-599.
          await Promise.all([
            (async () => { for (const batch of batches(0, 600)) await store.insert(batch); })(),
            (async () => { for (const batch of batches(400, 1000)) await other.insert(batch); })(),
          ]);
          const rows = await raw.rows();
          expect(rows.map(rowToRecord)).toEqual(sortById(records));
          expect((await other.query(parseActivityQuery({ limit: 500 }))).items).toHaveLength(500);
        } finally {
          await other.close?.();
        }
      });
    });

    describe.skipIf(!can.migrations)('migrations', () => {
      it('migrates twice, and from two stores at once, recording the schema version', async () => {
        const other = context.makeSecondStore?.();
        try {
          await Promise.all([store.migrate!(), other?.migrate!(), store.migrate!()]);
          const version = await raw.schemaVersion!();
          expect(version).toBeGreaterThanOrEqual(1);
          await store.migrate!();
          expect(await raw.schemaVersion!()).toBe(version);
          await store.insert(dataset(5));
          expect(await raw.rows()).toHaveLength(5);
        } finally {
          await other?.close?.();
        }
      });

      it('refuses to write to a table marked with a newer schema version', async () => {
        await store.migrate!();
        await raw.setSchemaVersion!(99);
        const other = context.makeSecondStore?.() ?? store;
        try {
          const error = await other.insert(dataset(2)).catch((e: unknown) => e);
          expect(isActivityLogError(error, 'SCHEMA_VERSION')).toBe(true);
          expect((error as Error).message).toMatch(/version 99/);
          expect(await raw.rows()).toHaveLength(0);
        } finally {
          if (other !== store) await other.close?.();
        }
      });
    });

    describe.skipIf(!can.transactions)('logInTransaction', () => {
      it('writes the activity when the caller commits, and not when it rolls back', async () => {
        const logger = createActivityLogger({ store, onError: () => undefined });
        const committed = await context.transaction!((trx) =>
          logger.logInTransaction(trx, { action: 'recipe.update', actor: { type: 'user', id: 'u_1' }, metadata: { kept: true } }),
        );
        const failure = await context
          .transaction!(async (trx) => {
            await logger.logInTransaction(trx, { id: 'rolled-back', action: 'recipe.delete' });
            throw new Error('business change failed');
          })
          .catch((error: Error) => error.message);
        expect(failure).toBe('business change failed');
        const rows = await raw.rows();
        expect(rows.map((row) => row.id)).toEqual([committed.id]);
        expect(await store.get(committed.id)).toEqual(committed);
        await logger.close();
      });
    });

    describe('what a database cannot hold', () => {
      it('stores NUL and lone surrogates as U+FFFD in every text field and key, the same in every store, and finds them by the text logged', async () => {
        const errors: ActivityLogError[] = [];
        const logger = createActivityLogger({ store, redact: false, onError: (error) => errors.push(error) });
        const hostile = {
          id: 'text-hostile',
          action: 'text.hostile',
          actor: { type: 'user\u0000', id: 'u\u0000', name: 'a\u0000b' },
          target: { type: 'recipe', id: 'r\ud800', name: 'x\udc00y' },
          tenantId: 't\u0000',
          metadata: { email: 'a\u0000@x', ['k\ud800']: ['\ud83d', 'ok 😀', { ['\u0000']: 'n\udfff' }] },
          changes: { before: { field: 'a\u0000' }, after: { field: 'b\ud800' } },
          error: { name: 'E\u0000', message: 'm\ud800' },
          context: { userAgent: 'UA\u0000', route: '/r\ud800', requestId: 'req-1' },
        };
        logger.log(hostile);
        for (let i = 0; i < 99; i++) logger.log({ id: `text-ok-${i}`, action: 'text.ok', actor: { type: 'user', id: `u${i}` } });
        await logger.flush();
        expect(errors).toEqual([]);
        expect(logger.stats()).toMatchObject({ written: 100, invalid: 0, failed: 0 });
        const expected = {
          id: 'text-hostile',
          action: 'text.hostile',
          status: 'success',
          actor: { type: 'user\ufffd', id: 'u\ufffd', name: 'a\ufffdb' },
          target: { type: 'recipe', id: 'r\ufffd', name: 'x\ufffdy' },
          tenantId: 't\ufffd',
          metadata: { email: 'a\ufffd@x', ['k\ufffd']: ['\ufffd', 'ok 😀', { ['\ufffd']: 'n\ufffd' }] },
          changes: { field: { before: 'a\ufffd', after: 'b\ufffd' } },
          error: { name: 'E\ufffd', message: 'm\ufffd' },
          context: { userAgent: 'UA\ufffd', route: '/r\ufffd', requestId: 'req-1' },
        };
        const { occurredAt: _occurredAt, ...read } = (await store.get('text-hostile'))!;
        expect(read).toEqual(expected);
        const row = (await raw.rows()).find((candidate) => candidate.id === 'text-hostile')!;
        expect([row.actor_type, row.actor_id, row.actor_name, row.target_id, row.target_name, row.tenant_id]).toEqual(['user\ufffd', 'u\ufffd', 'a\ufffdb', 'r\ufffd', 'x\ufffdy', 't\ufffd']);
        expect(row.metadata).toEqual(expected.metadata);
        // A filter on what was logged finds what was stored.
        expect((await logger.query({ actorId: 'u\u0000', tenantId: 't\u0000' })).items.map((item) => item.id)).toEqual(['text-hostile']);
        if (takesMetadataFilters(store)) expect((await logger.query({ metadata: { email: 'a\u0000@x' } })).items.map((item) => item.id)).toEqual(['text-hostile']);
        expect(await logger.get('text-\u0000')).toBeUndefined();
        await logger.close();
      });

      it('stores keys as data: a __proto__ key of metadata, bound metadata and changes is kept, and a __proto__ metadata filter is refused, not dropped', async () => {
        const logger = createActivityLogger({ store, onError: () => {} });
        const child = logger.with({ metadata: JSON.parse('{"__proto__":"bound","shared":1}') as Record<string, unknown> });
        child.log({
          id: 'proto-keys',
          action: 'proto.keys',
          tenantId: 'A',
          metadata: JSON.parse('{"__proto__":{"polluted":true},"own":"x"}') as Record<string, unknown>,
          changes: { before: JSON.parse('{"__proto__":"old","title":"a"}'), after: JSON.parse('{"__proto__":"new","title":"a"}') },
        });
        logger.log({ id: 'proto-other', action: 'proto.keys', tenantId: 'A', metadata: { own: 'y' } });
        await logger.flush();
        const record = (await store.get('proto-keys'))!;
        expect(Object.getPrototypeOf(record.metadata)).toBe(Object.prototype);
        expect(Object.hasOwn(record.metadata!, '__proto__')).toBe(true);
        expect(JSON.parse(JSON.stringify(record.metadata))).toEqual(JSON.parse('{"__proto__":{"polluted":true},"shared":1,"own":"x"}'));
        expect(JSON.parse(JSON.stringify(record.changes))).toEqual(JSON.parse('{"__proto__":{"before":"old","after":"new"}}'));
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        await expect(logger.query({ tenantId: 'A', metadata: JSON.parse('{"__proto__":"zzz"}') })).rejects.toMatchObject({ code: 'INVALID_QUERY', message: expect.stringContaining('__proto__') });
        if (store.count) await expect(logger.count({ tenantId: 'A', metadata: JSON.parse('{"__proto__":"zzz"}') })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
        if (store.summarize) await expect(logger.summarize({ by: 'action', metadata: JSON.parse('{"__proto__":"zzz"}') })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
        await logger.close();
      });

      it.skipIf(!can.contentRefusal)('writes the rest of a batch its database refuses for one record, and reports that one as RECORD_REJECTED naming the field', async () => {
        await context.refuseActorName!('poison');
        const errors: ActivityLogError[] = [];
        const logger = createActivityLogger({ store, batchSize: 100, onError: (error) => errors.push(error) });
        for (let i = 0; i < 100; i++) logger.log({ id: `refuse-${String(i).padStart(3, '0')}`, action: 'load.event', actor: { type: 'user', id: `u${i}`, name: i === 42 ? 'poison' : 'fine' } });
        await logger.flush();
        expect(logger.stats()).toMatchObject({ written: 99, invalid: 1, failed: 0, retries: 0 });
        const ids = (await raw.rows()).map((row) => row.id);
        expect(ids).toHaveLength(99);
        expect(ids).not.toContain('refuse-042');
        const rejected = errors.filter((error) => error.code === 'RECORD_REJECTED');
        expect(rejected.map((error) => error.details?.id)).toEqual(['refuse-042']);
        expect(rejected[0]!.details?.field).toBe('actor.name');
        expect(rejected[0]!.message).toMatch(/actor\.name/);
        expect(String(rejected[0]!.details?.reason).length).toBeGreaterThan(0);
        expect(errors.filter((error) => error.code !== 'RECORD_REJECTED')).toEqual([]);
        await logger.close();
      });
    });

    describe('faults', () => {
      it.skipIf(!options.unreachableStore)('does not throw from the factory for an unreachable database; the logger retries and reports', async () => {
        const unreachable = options.unreachableStore!();
        await expect(unreachable.insert(dataset(1))).rejects.toBeDefined();
        const errors: ActivityLogError[] = [];
        const logger = createActivityLogger({
          store: unreachable,
          retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
          onError: (error) => errors.push(error),
        });
        logger.log({ action: 'recipe.create' });
        await logger.flush();
        expect(logger.stats()).toMatchObject({ failed: 1, retries: 2, written: 0 });
        expect(errors.map((error) => error.code)).toEqual(['STORE_FAILED']);
        await logger.close();
      });

      it.skipIf(!can.killConnections)('reconnects after its connection is killed and writes every event exactly once', async () => {
        const errors: ActivityLogError[] = [];
        const logger = createActivityLogger({
          store,
          batchSize: 25,
          flushIntervalMs: 5,
          retry: { maxAttempts: 30, baseDelayMs: 10, maxDelayMs: 100 },
          onError: (error) => errors.push(error),
        });
        const ids: string[] = [];
        let killed = 0;
        for (let i = 0; i < 400; i++) {
          const id = `evt-${i}`;
          ids.push(id);
          logger.log({ id, action: 'recipe.view', actor: { type: 'user', id: `u_${i % 5}` } });
          if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
          if (i === 150 || i === 300) killed += await context.killConnections!();
        }
        await logger.flush();
        expect(killed).toBeGreaterThan(0);
        expect(logger.stats()).toMatchObject({ written: 400, failed: 0 });
        expect(errors).toEqual([]);
        const rows = await raw.rows();
        expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
        await logger.close();
      });
    });
  });
}

/**
 * A raw reader for a setup that has none: every record, read back through the store's own
 * `query()`, page by page, as rows.
 */
function readerThroughStore(store: ActivityStore): RawReader {
  return {
    async rows() {
      const records: ActivityRecord[] = [];
      let query = parseActivityQuery({ limit: 500 });
      for (;;) {
        const page = await store.query(query);
        records.push(...page.items);
        if (!page.nextCursor) return sortById(records).map(recordToRow);
        query = parseActivityQuery({ limit: 500, cursor: page.nextCursor });
      }
    },
  };
}

/** Checks that a logger over `store` refuses `call` with `UNSUPPORTED`. */
async function expectUnsupported(store: ActivityStore, call: (logger: ActivityLogger) => Promise<unknown>): Promise<void> {
  const logger = createActivityLogger({ store, onError: () => undefined });
  await expect(call(logger)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  await logger.close();
}

/** Skips the running test, saying why, so that no skip is silent. */
function skipWithReason(test: { skip: (note?: string) => never }, name: string, reason: string): never {
  console.info(`[store conformance] ${name}: skipping ${reason}`);
  return test.skip(reason);
}

/** Whether a store takes metadata filters; a store without the capability must never see one. */
function takesMetadataFilters(store: ActivityStore): boolean {
  return store.capabilities?.metadataFilter === true;
}

/** The queries a store can answer: all of them, or those without a metadata filter. */
function queriesFor(store: ActivityStore): ActivityQuery[] {
  const search = store.capabilities?.searchFilters === true;
  return QUERIES.filter(
    (query) =>
      (takesMetadataFilters(store) || query.metadata === undefined) && (search || SEARCH_FILTERS.every((name) => query[name] === undefined)),
  );
}

// ---- data -------------------------------------------------------------------------------

/** A record as the logger would produce it, with a time-ordered id. */
function makeRecord(i: number, overrides: Partial<ActivityRecord> = {}): ActivityRecord {
  const record: ActivityRecord = {
    id: uuidv7(BASE + i),
    occurredAt: new Date(BASE + i * 1000),
    action: 'recipe.update',
    status: 'success',
    actor: { type: 'user', id: 'u_1' },
    ...overrides,
  };
  return record;
}

/** A deterministic, varied data set: every filter finds some records and misses others. */
function dataset(n: number): ActivityRecord[] {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const actions = ['recipe.create', 'recipe.update', 'recipe.delete', 'recipes.list', 'recipe_x.view', 'user.signup', 'plan.generate'];
  const statuses = ['success', 'success', 'failure', 'denied'] as const;
  const records: ActivityRecord[] = [];
  for (let i = 0; i < n; i++) {
    // Spread over three days, with runs of equal timestamps.
    const occurredAtMs = BASE + Math.floor(random() * 72) * HOUR + (random() < 0.3 ? 0 : Math.floor(random() * 3_600_000));
    const record: ActivityRecord = {
      id: uuidv7(occurredAtMs + i),
      occurredAt: new Date(occurredAtMs),
      action: pick(actions),
      status: pick(statuses),
    };
    const actorRoll = random();
    if (actorRoll < 0.8) {
      record.actor = { type: pick(['user', 'admin', 'service']), id: pick(['u_1', 'u_2', 'u_3', 'U_1']) };
      if (random() < 0.5) record.actor.name = pick(['Ada', 'Zoë 😀', '']);
    } else if (actorRoll < 0.9) {
      record.actor = { type: 'system' };
    }
    if (random() < 0.7) {
      record.target = { type: pick(['recipe', 'plan']), id: pick(['r_1', 'r_2', 'r_3', '42']) };
      if (random() < 0.5) record.target.name = 'Pasta al forno';
    }
    if (random() < 0.6) record.tenantId = pick(['t_1', 't_2']);
    if (random() < 0.8) {
      record.metadata = {
        recipeId: pick(['r_1', 'r_2', '1']),
        n: pick([1, 2, 1.5, '1']),
        flag: pick([true, false]),
        tags: [pick(['a', 'b']), { nested: [1, 2] }],
      };
    }
    if (random() < 0.2) record.changes = { title: { before: 'a', after: 'b' } };
    if (record.status === 'failure') record.error = { name: 'Error', message: 'boom', code: 'E_BOOM' };
    if (random() < 0.5) record.context = { ip: '127.0.0.1', requestId: `req-${i}`, method: 'POST' };
    // Without drawing from random(): the records before these were added stay the same.
    if (record.context && i % 5 === 0) record.context.traceId = `trace-${i % 3}`;
    if (random() < 0.3) {
      // As a logger with `integrity` seals it: the store keeps it as it is.
      record.integrity = { chain: pick(['chain-a', 'chain-b']), seq: i + 1, keyId: 'k1', prev: 'ab'.repeat(32), hash: 'cd'.repeat(32) };
      if (random() < 0.5) record.integrity.commitments = { 'actor.name': 'ef'.repeat(32) };
      if (random() < 0.5) record.integrity.salts = { 'actor.name': '01'.repeat(11) };
      else if (random() < 0.5) record.integrity.seed = 'AQ'.repeat(11);
    }
    records.push(record);
  }
  return records;
}

/** The queries the memory comparison runs: every filter alone, then combined. */
const QUERIES: ActivityQuery[] = [
  {},
  { actorType: 'user' },
  { actorType: 'system' },
  { actorId: 'u_1' },
  { actorId: 'U_1' },
  { action: 'recipe.update' },
  { action: 'recipe.*' },
  { action: 'recipe_x.*' },
  { action: 'user.*' },
  { status: 'failure' },
  { status: 'denied' },
  { targetType: 'recipe' },
  { targetId: '42' },
  { targetType: 'plan', targetId: 'r_2' },
  { tenantId: 't_1' },
  { from: new Date(BASE + 24 * HOUR) },
  { to: new Date(BASE + 24 * HOUR) },
  { from: new Date(BASE + 10 * HOUR), to: new Date(BASE + 11 * HOUR) },
  { metadata: { recipeId: 'r_1' } },
  { metadata: { n: 1 } },
  { metadata: { n: '1' } },
  { metadata: { n: 1.5 } },
  { metadata: { flag: true } },
  { metadata: { flag: false, recipeId: 'r_2' } },
  { metadata: { missing: 'x' } },
  { actorId: 'u_2', action: 'recipe.*', status: 'success', from: new Date(BASE + 5 * HOUR) },
  { tenantId: 't_2', targetType: 'recipe', metadata: { recipeId: '1' }, to: new Date(BASE + 60 * HOUR) },
  { actorType: 'admin', status: 'failure', tenantId: 't_1' },
  { excludeAction: 'recipe.*' },
  { excludeAction: 'user.signup', action: 'user.*' },
  { requestId: 'req-10' },
  { requestId: 'req-none' },
  { traceId: 'trace-1' },
  { traceId: 'trace-2', status: 'success' },
  { search: 'pasta' },
  { search: 'ADA' },
  { search: 'Zoë' },
  { search: 'recipe.up' },
  { search: 'recipe_' },
  { search: 'al forno', targetType: 'plan', excludeAction: 'recipe.delete' },
  { excludeAction: 'recipe.*', excludeActionStatus: 'failure' },
];

/** Every record a query finds, page by page. */
async function collect(store: ActivityStore, query: ActivityQuery, limit = 17): Promise<ActivityRecord[]> {
  const found: ActivityRecord[] = [];
  let parsed = parseActivityQuery({ ...query, limit });
  for (;;) {
    const page = await store.query(parsed);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    found.push(...page.items);
    if (!page.nextCursor) return found;
    parsed = parseActivityQuery({ ...query, limit, cursor: page.nextCursor });
  }
}

function inPageOrder(records: ActivityRecord[]): ActivityRecord[] {
  return [...records].sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime() || (a.id < b.id ? 1 : -1));
}

function sortById(records: ActivityRecord[]): ActivityRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** A raw row as a record, so writes can be compared with what was inserted. */
function rowToRecord(row: RawRow): ActivityRecord {
  const record: ActivityRecord = {
    id: row.id,
    occurredAt: new Date(row.occurred_at),
    action: row.action,
    status: row.status as ActivityRecord['status'],
  };
  if (row.actor_type !== null) {
    record.actor = { type: row.actor_type };
    if (row.actor_id !== null) record.actor.id = row.actor_id;
    if (row.actor_name !== null) record.actor.name = row.actor_name;
  }
  if (row.target_type !== null && row.target_id !== null) {
    record.target = { type: row.target_type, id: row.target_id };
    if (row.target_name !== null) record.target.name = row.target_name;
  }
  if (row.tenant_id !== null) record.tenantId = row.tenant_id;
  if (row.metadata !== null) record.metadata = row.metadata as ActivityRecord['metadata'];
  if (row.changes !== null) record.changes = row.changes as ActivityRecord['changes'];
  if (row.error !== null) record.error = row.error as ActivityRecord['error'];
  if (row.context !== null) record.context = row.context as ActivityRecord['context'];
  if (row.integrity_chain !== null && row.integrity_chain !== undefined) {
    const proof = (row.integrity_proof ?? {}) as { seed?: string; salts?: Record<string, string>; commitments?: Record<string, string> };
    record.integrity = { chain: row.integrity_chain, seq: Number(row.integrity_seq), keyId: row.integrity_key!, prev: row.integrity_prev!, hash: row.integrity_hash! };
    if (proof.seed !== undefined) record.integrity.seed = proof.seed;
    if (proof.salts !== undefined) record.integrity.salts = proof.salts;
    if (proof.commitments !== undefined) record.integrity.commitments = proof.commitments;
  }
  return record;
}

/** Flattens a record into a row: how the memory store's "raw" view is built. */
export function recordToRow(record: ActivityRecord): RawRow {
  return {
    id: record.id,
    occurred_at: record.occurredAt.getTime(),
    action: record.action,
    status: record.status,
    actor_type: record.actor?.type ?? null,
    actor_id: record.actor?.id ?? null,
    actor_name: record.actor?.name ?? null,
    target_type: record.target?.type ?? null,
    target_id: record.target?.id ?? null,
    target_name: record.target?.name ?? null,
    tenant_id: record.tenantId ?? null,
    metadata: record.metadata ?? null,
    changes: record.changes ?? null,
    error: record.error ?? null,
    context: record.context ?? null,
    integrity_chain: record.integrity?.chain ?? null,
    integrity_seq: record.integrity?.seq ?? null,
    integrity_key: record.integrity?.keyId ?? null,
    integrity_prev: record.integrity?.prev ?? null,
    integrity_hash: record.integrity?.hash ?? null,
    integrity_proof: proofOf(record.integrity),
  };
}

function proofOf(integrity: ActivityRecord['integrity']): unknown {
  if (!integrity || (integrity.commitments === undefined && integrity.salts === undefined && integrity.seed === undefined)) return null;
  const proof: Record<string, unknown> = {};
  if (integrity.seed !== undefined) proof.seed = integrity.seed;
  if (integrity.salts !== undefined) proof.salts = integrity.salts;
  if (integrity.commitments !== undefined) proof.commitments = integrity.commitments;
  return proof;
}
