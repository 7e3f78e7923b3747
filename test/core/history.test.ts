import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityLogger, type ActivityRecord, type ActivityStore } from '../../src/index.js';
import { MYSQL_URL, mysqlContext, POSTGRES_URL, postgresContext } from '../stores/databases.js';

const T0 = Date.UTC(2026, 2, 1, 12);
const MINUTE = 60_000;

/** Ids in time order by `n`, whatever their timestamps: as UUIDv7s of one process are. */
let sequence = 0;
const nextId = () => `0195f0e0-0000-7000-8000-${String(++sequence).padStart(12, '0')}`;

type Operation = 'insert' | 'update' | 'delete';

/** A record as a capture trigger writes it. */
function captured(minutes: number, operation: Operation, changes: Record<string, [unknown, unknown]>, id = '42', actor = { type: 'user', id: 'u_1', name: 'Ada' }): ActivityRecord {
  return {
    id: nextId(),
    occurredAt: new Date(T0 + minutes * MINUTE),
    action: `recipe.${operation === 'insert' ? 'created' : operation === 'update' ? 'updated' : 'deleted'}`,
    status: 'success',
    actor,
    target: { type: 'recipe', id, name: 'Soup' },
    changes: Object.fromEntries(Object.entries(changes).map(([field, [before, after]]) => [field, { before, after }])),
    metadata: { table: 'recipes', operation },
  };
}

/** A record of the same target without changes (a view, a denied attempt). */
function plain(minutes: number, action = 'recipe.view', id = '42'): ActivityRecord {
  return { id: nextId(), occurredAt: new Date(T0 + minutes * MINUTE), action, status: 'success', actor: { type: 'user', id: 'u_2' }, target: { type: 'recipe', id } };
}

let tables = 0;
const table = () => `history_${process.pid}_${++tables}`;

/** Each store: a fresh one per test, and what removes it. The SQL services run when their URLs are set. */
const stores: [string, () => Promise<{ store: ActivityStore; cleanup?: () => Promise<void> | void }>][] = [
  ['memory store', async () => ({ store: memoryStore() })],
  [
    'sqlite store (a file)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'activity-log-history-'));
      return { store: sqliteStore({ filename: join(dir, 'activity.db') }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
  ...(POSTGRES_URL ? [['postgres store', () => postgresContext(table())] satisfies [string, unknown]] : []),
  ...(MYSQL_URL ? [['mysql store (MariaDB)', () => mysqlContext(table())] satisfies [string, unknown]] : []),
];

describe.each(stores)('history() and stateAt() on the %s', (_name, makeStore) => {
  let cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  async function logger(): Promise<ActivityLogger> {
    const { store, cleanup } = await makeStore();
    const activity = createActivityLogger({ store });
    if (cleanup) cleanups.push(cleanup);
    cleanups.push(() => activity.close());
    return activity;
  }

  const recipe = { type: 'recipe', id: 42 };

  it('lists the records of the target that carry changes, newest first, captured and logged alike', async () => {
    const activity = await logger();
    const insert = captured(0, 'insert', { title: [null, 'Soup'], servings: [null, 2] });
    const update = captured(5, 'update', { servings: [2, 4] });
    await activity.store.insert([insert, plain(1), update, plain(6, 'recipe.view', '43'), captured(7, 'update', { title: ['x', 'y'] }, '43')]);
    activity.log({ action: 'recipe.update', actor: { type: 'admin', id: 'a_1' }, target: { type: 'recipe', id: 42 }, changes: { before: { title: 'Soup' }, after: { title: 'Broth' } }, occurredAt: T0 + 10 * MINUTE });
    activity.log({ action: 'recipe.update', target: { type: 'ingredient', id: 42 }, changes: { before: { a: 1 }, after: { a: 2 } }, occurredAt: T0 + 11 * MINUTE });
    await activity.flush();

    const page = await activity.history(recipe);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items.map((item) => item.action)).toEqual(['recipe.update', 'recipe.updated', 'recipe.created']);
    expect(page.items[0]!.changes).toEqual({ title: { before: 'Soup', after: 'Broth' } });
    expect(page.items[1]!.id).toBe(update.id);
    expect(page.items[2]!.id).toBe(insert.id);
    // A record's own target (with its name) is accepted as the target.
    expect((await activity.history({ type: 'recipe', id: '42', name: 'Soup' } as { type: string; id: string })).items).toHaveLength(3);
  });

  it('fills each page with versions across the records without changes between them, and resumes right after the last one scanned', async () => {
    const activity = await logger();
    const records: ActivityRecord[] = [];
    const versions: string[] = [];
    for (let i = 0; i < 10; i++) {
      const version = captured(i * 10, i === 0 ? 'insert' : 'update', { n: [i - 1, i] });
      versions.unshift(version.id);
      records.push(version, plain(i * 10 + 1), plain(i * 10 + 2), plain(i * 10 + 3));
    }
    // Three hundred reads after the last version: more than one scan of the store.
    for (let i = 0; i < 300; i++) records.push(plain(200 + i));
    await activity.store.insert(records);

    const pages = [await activity.history(recipe, { limit: 3 })];
    while (pages.at(-1)!.nextCursor) pages.push(await activity.history(recipe, { limit: 3, cursor: pages.at(-1)!.nextCursor }));
    expect(pages.map((page) => page.items.length)).toEqual([3, 3, 3, 1]);
    expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual(versions);

    // The cursor points just before the next version: nothing of the target lies between.
    const after = await activity.query({ targetType: 'recipe', targetId: '42', cursor: pages[0]!.nextCursor, limit: 1 });
    expect(after.items[0]!.id).toBe(versions[3]);

    // Exactly `limit` versions left: the page says there is no next one.
    const whole = await activity.history(recipe, { limit: 10 });
    expect(whole.items).toHaveLength(10);
    expect(whole.nextCursor).toBeUndefined();
  });

  it('keeps to the from/to range, from inclusive and to exclusive', async () => {
    const activity = await logger();
    const a = captured(0, 'insert', { n: [null, 0] });
    const b = captured(10, 'update', { n: [0, 1] });
    const c = captured(20, 'update', { n: [1, 2] });
    await activity.store.insert([a, b, c]);
    const ids = async (from: number, to: number) => (await activity.history(recipe, { from: T0 + from * MINUTE, to: new Date(T0 + to * MINUTE) })).items.map((item) => item.id);
    expect(await ids(10, 20)).toEqual([b.id]);
    expect(await ids(0, 21)).toEqual([c.id, b.id, a.id]);
  });

  it('is empty for a target without changes', async () => {
    const activity = await logger();
    await activity.store.insert([plain(0), plain(1)]);
    expect(await activity.history(recipe)).toEqual({ items: [] });
    expect(await activity.stateAt(recipe, T0 + MINUTE)).toBeUndefined();
  });

  it('rejects bad input with INVALID_QUERY naming the field and the rule', async () => {
    const activity = await logger();
    const reason = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: Error & { code?: string }) => `${error.code} ${error.message}`);
    expect(await reason(activity.history({ type: 'recipe' } as never))).toMatch(/^INVALID_QUERY .*target\.id: must be a string or a finite number, got undefined/);
    expect(await reason(activity.history({ type: '', id: 1 }))).toMatch(/target\.type: must not be empty/);
    expect(await reason(activity.history(undefined as never))).toMatch(/target: must be an object \{ type, id \}/);
    expect(await reason(activity.history(recipe, { limit: 0 }))).toMatch(/options\.limit: must be at least 1/);
    expect(await reason(activity.history(recipe, { limit: 501 }))).toMatch(/options\.limit: must be at most 500/);
    expect(await reason(activity.history(recipe, { action: 'recipe.*' } as never))).toMatch(/^INVALID_QUERY history: unknown option "action"; the options are limit, cursor, from, to$/);
    expect(await reason(activity.history(recipe, { from: T0 + 1, to: T0 }))).toMatch(/options\.from: must not be after "to"/);
    expect(await reason(activity.history(recipe, { cursor: 'nope' }))).toMatch(/^INVALID_QUERY cursor: is not a cursor this library issued/);
    expect(await reason(activity.stateAt(recipe, 'yesterday'))).toMatch(/^INVALID_QUERY .*time: must be/);
    expect(await reason(activity.stateAt(recipe, undefined as never))).toMatch(/time: must be/);
    expect(await reason(activity.stateAt({ id: 1 } as never, T0))).toMatch(/target\.type: must be a string/);
  });

  it('rebuilds the columns through insert, updates, delete and a re-insert, at several moments, inclusively', async () => {
    const activity = await logger();
    await activity.store.insert([
      captured(0, 'insert', { title: [null, 'Soup'], servings: [null, 2], secret: [null, '[REDACTED]'] }),
      plain(1),
      captured(10, 'update', { servings: [2, 4] }),
      captured(20, 'update', { title: ['Soup', 'Broth'], secret: ['[REDACTED]', '[REDACTED]'] }),
      captured(30, 'delete', { title: ['Broth', null], servings: [4, null], secret: ['[REDACTED]', null] }),
      captured(40, 'insert', { title: [null, 'Stew'], servings: [null, 6] }),
      captured(50, 'update', { servings: [6, 8] }),
      captured(55, 'update', { title: ['x', 'y'] }, '43'),
    ]);
    const at = (minutes: number) => activity.stateAt(recipe, new Date(T0 + minutes * MINUTE));
    expect(await at(-1)).toBeUndefined();
    expect(await at(0)).toEqual({ title: 'Soup', servings: 2, secret: '[REDACTED]' });
    expect(await at(9)).toEqual({ title: 'Soup', servings: 2, secret: '[REDACTED]' });
    expect(await at(10)).toEqual({ title: 'Soup', servings: 4, secret: '[REDACTED]' });
    expect(await at(25)).toEqual({ title: 'Broth', servings: 4, secret: '[REDACTED]' });
    expect(await at(30)).toBeUndefined();
    expect(await at(39)).toBeUndefined();
    // A fresh state: nothing of the first life shows through.
    expect(await at(40)).toEqual({ title: 'Stew', servings: 6 });
    expect(await at(60)).toEqual({ title: 'Stew', servings: 8 });
    // The time as ISO text and as epoch milliseconds.
    expect(await activity.stateAt(recipe, new Date(T0 + 10 * MINUTE).toISOString())).toEqual({ title: 'Soup', servings: 4, secret: '[REDACTED]' });
    expect(await activity.stateAt({ type: 'recipe', id: '42' }, T0 + 50 * MINUTE)).toEqual({ title: 'Stew', servings: 8 });
  });

  it('merges updates from nothing when capture began after the row existed, and merges the app’s own changes', async () => {
    const activity = await logger();
    await activity.store.insert([captured(0, 'update', { servings: [1, 2] }), captured(10, 'update', { title: ['Old', 'New'] })]);
    activity.log({ action: 'recipe.update', target: { type: 'recipe', id: 42 }, changes: { before: { servings: 2 }, after: { servings: 3 } }, occurredAt: T0 + 20 * MINUTE });
    await activity.flush();
    expect(await activity.stateAt(recipe, T0 + 5 * MINUTE)).toEqual({ servings: 2 });
    expect(await activity.stateAt(recipe, T0 + 15 * MINUTE)).toEqual({ servings: 2, title: 'New' });
    expect(await activity.stateAt(recipe, T0 + 25 * MINUTE)).toEqual({ servings: 3, title: 'New' });
    // A captured insert starts afresh: what was merged before it does not show through.
    await activity.store.insert([captured(30, 'insert', { title: [null, 'Fresh'] }), captured(40, 'update', { servings: [null, 9] })]);
    expect(await activity.stateAt(recipe, T0 + 30 * MINUTE)).toEqual({ title: 'Fresh' });
    expect(await activity.stateAt(recipe, T0 + 40 * MINUTE)).toEqual({ title: 'Fresh', servings: 9 });
  });

  it('applies records of one millisecond in id order', async () => {
    const activity = await logger();
    const insert = captured(0, 'insert', { n: [null, 1] });
    const first = captured(0, 'update', { n: [1, 2] });
    const second = captured(0, 'update', { n: [2, 3] });
    // Stored out of order: the order is the ids', not the insertion's.
    await activity.store.insert([second, insert, first]);
    expect(await activity.stateAt(recipe, T0)).toEqual({ n: 3 });
    expect((await activity.history(recipe)).items.map((item) => item.id)).toEqual([second.id, first.id, insert.id]);
  });

  it('reads back only to the last insert, page by page, however long the record’s past', async () => {
    const { store, cleanup } = await makeStore();
    if (cleanup) cleanups.push(cleanup);
    let reads = 0;
    // The real store, with its reads counted.
    const counted: ActivityStore = Object.assign(Object.create(store) as ActivityStore, {
      query: (query: Parameters<ActivityStore['query']>[0]) => {
        reads++;
        return store.query(query);
      },
    });
    const activity = createActivityLogger({ store: counted });
    cleanups.push(() => activity.close());
    const past: ActivityRecord[] = [captured(0, 'insert', { n: [null, 0] })];
    for (let i = 1; i <= 1000; i++) past.push(captured(i, 'update', { n: [i - 1, i] }));
    past.push(captured(1001, 'delete', { n: [1000, null] }), captured(1002, 'insert', { n: [null, -1] }), captured(1003, 'update', { m: [null, 'x'] }));
    await store.insert(past);
    reads = 0;
    expect(await activity.stateAt(recipe, T0 + 2000 * MINUTE)).toEqual({ n: -1, m: 'x' });
    expect(reads).toBe(1);
    reads = 0;
    expect(await activity.stateAt(recipe, T0 + 1000 * MINUTE)).toEqual({ n: 1000 });
    expect(reads).toBeGreaterThan(1);
  });
});
