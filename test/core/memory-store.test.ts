import { describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityRecord } from '../../src/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';

const T0 = Date.UTC(2026, 0, 1);

function record(i: number, overrides: Partial<ActivityRecord> = {}): ActivityRecord {
  return {
    id: `id-${String(i).padStart(5, '0')}`,
    occurredAt: new Date(T0 + Math.floor(i / 3) * 1000), // three records share each second
    action: ['recipe.create', 'recipe.update', 'user.login'][i % 3]!,
    status: i % 5 === 0 ? 'failure' : 'success',
    actor: { type: i % 2 ? 'user' : 'admin', id: `u${i % 4}` },
    target: { type: 'recipe', id: `r${i % 6}` },
    tenantId: `t${i % 2}`,
    ...overrides,
  };
}

describe('memory store query semantics', () => {
  it('pages newest first with a default limit of 50, and no nextCursor on the last page', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    await activity.store.insert(Array.from({ length: 120 }, (_, i) => record(i)));
    const first = await activity.query();
    expect(first.items).toHaveLength(50);
    expect(first.items[0]?.id).toBe('id-00119');
    const pages = [first];
    while (pages.at(-1)!.nextCursor) pages.push(await activity.query({ cursor: pages.at(-1)!.nextCursor }));
    expect(pages.map((page) => page.items.length)).toEqual([50, 50, 20]);
    expect(pages.at(-1)!.nextCursor).toBeUndefined();
    const ids = pages.flatMap((page) => page.items.map((item) => item.id));
    expect(ids).toEqual(Array.from({ length: 120 }, (_, i) => record(119 - i).id));
  });

  it('never skips or repeats a record when records are inserted between page reads', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    await store.insert(Array.from({ length: 100 }, (_, i) => record(i)));
    const seen: string[] = [];
    let cursor: string | undefined;
    let extra = 1000;
    do {
      const page = await activity.query({ limit: 7, cursor });
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
      // Newer records, and records at the very timestamp of the cursor, arrive between reads.
      await store.insert([record(extra++, { occurredAt: new Date(T0 + 10_000_000) }), record(extra++, { occurredAt: page.items.at(-1)!.occurredAt, id: `id-0000${extra}` })]);
    } while (cursor);
    const original = Array.from({ length: 100 }, (_, i) => record(i).id);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of original) expect(seen).toContain(id);
  });

  it('filters by each field, by action prefix, and by a half-open time range', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    const all = Array.from({ length: 60 }, (_, i) => record(i, { metadata: { recipeId: `r${i % 6}`, n: i % 2 } }));
    await activity.store.insert(all);
    const ids = async (query: Parameters<typeof activity.query>[0]) => (await activity.query({ limit: 500, ...query })).items.map((item) => item.id).sort();
    const expected = (predicate: (r: ActivityRecord) => boolean) => all.filter(predicate).map((r) => r.id).sort();
    expect(await ids({ actorType: 'admin' })).toEqual(expected((r) => r.actor?.type === 'admin'));
    expect(await ids({ actorId: 'u1' })).toEqual(expected((r) => r.actor?.id === 'u1'));
    expect(await ids({ action: 'recipe.update' })).toEqual(expected((r) => r.action === 'recipe.update'));
    expect(await ids({ action: 'recipe.*' })).toEqual(expected((r) => r.action.startsWith('recipe.')));
    expect(await ids({ status: 'failure' })).toEqual(expected((r) => r.status === 'failure'));
    expect(await ids({ targetType: 'recipe', targetId: 'r2' })).toEqual(expected((r) => r.target?.id === 'r2'));
    expect(await ids({ tenantId: 't1' })).toEqual(expected((r) => r.tenantId === 't1'));
    expect(await ids({ metadata: { recipeId: 'r3', n: 1 } })).toEqual(expected((r) => r.metadata?.recipeId === 'r3' && r.metadata?.n === 1));
    expect(await ids({ metadata: { n: '1' } })).toEqual([]); // equality is typed: '1' is not 1
    const from = new Date(T0 + 5000);
    const to = new Date(T0 + 10_000);
    expect(await ids({ from, to })).toEqual(expected((r) => r.occurredAt >= from && r.occurredAt < to));
    expect(await ids({ from, to, actorType: 'user', status: 'success', action: 'recipe.*' })).toEqual(
      expected((r) => r.occurredAt >= from && r.occurredAt < to && r.actor?.type === 'user' && r.status === 'success' && r.action.startsWith('recipe.')),
    );
    expect(await activity.count({ tenantId: 't0' })).toBe(30);
    expect(await activity.summarize({ by: 'status' })).toEqual([
      { key: 'success', count: 48 },
      { key: 'failure', count: 12 },
    ]);
  });

  it('skips a record whose id is already stored, and purges by time, tenant and action', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    await store.insert([record(1), record(2)]);
    await store.insert([record(2), record(3)]);
    expect(store.size).toBe(3);
    await store.insert(Array.from({ length: 30 }, (_, i) => record(i)));
    expect(await activity.purge({ before: new Date(T0 + 3000), tenantId: 't1' })).toBe(4);
    expect(await activity.purge({ before: new Date(T0 + 6000), action: 'user.*' })).toBe(5);
    expect(await activity.purge({ before: new Date(T0 + 6000) })).toBe(9);
    expect(store.size).toBe(12);
    expect(store.all().every((r) => r.occurredAt.getTime() >= T0 + 6000)).toBe(true);
  });

  it('returns copies: changing a returned record does not change the store', async () => {
    const store = memoryStore();
    await store.insert([record(1, { metadata: { a: 1 } })]);
    const [first] = store.all();
    first!.metadata!.a = 2;
    expect((await store.get('id-00001'))?.metadata).toEqual({ a: 1 });
  });
});
