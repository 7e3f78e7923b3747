import { afterEach, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityRecord } from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { countingStore } from '../helpers.js';
import { FRAMEWORKS, startApp, type RunningApp } from './apps.js';

const BASE = Date.UTC(2026, 0, 10, 12, 0, 0);

/**
 * The history of recipe 42 in two tenants: in t1, six versions (captured and logged) with two
 * records without changes after each; in t2, two versions of the same target; and the versions
 * of another recipe.
 */
function seedRecords(): ActivityRecord[] {
  const records: ActivityRecord[] = [];
  let n = 0;
  const at = (minutes: number) => new Date(BASE + minutes * 60_000);
  const id = () => `rec-${String(++n).padStart(3, '0')}`;
  for (let i = 0; i < 6; i++) {
    records.push({
      id: id(),
      occurredAt: at(i * 10),
      action: i === 0 ? 'recipe.created' : 'recipe.updated',
      status: 'success',
      actor: i % 2 ? { type: 'database', id: 'postgres' } : { type: 'user', id: 'u_1', name: 'Ada' },
      target: { type: 'recipe', id: '42', name: 'Soup' },
      tenantId: 't1',
      changes: { servings: { before: i === 0 ? null : i, after: i + 1 } },
      metadata: { table: 'recipes', operation: i === 0 ? 'insert' : 'update' },
    });
    for (const k of [1, 2]) records.push({ id: id(), occurredAt: at(i * 10 + k), action: 'recipe.view', status: 'success', target: { type: 'recipe', id: '42' }, tenantId: 't1' });
  }
  for (const tenantId of ['t2', 't2']) {
    records.push({ id: id(), occurredAt: at(100 + n), action: 'recipe.updated', status: 'success', target: { type: 'recipe', id: '42' }, tenantId, changes: { title: { before: 'a', after: 'b' } } });
  }
  records.push({ id: id(), occurredAt: at(200), action: 'recipe.updated', status: 'success', target: { type: 'recipe', id: '43' }, tenantId: 't1', changes: { title: { before: 'a', after: 'b' } } });
  return records;
}

for (const framework of FRAMEWORKS) {
  describe(`${framework} admin logs API: GET /history`, () => {
    let inner: MemoryStore;
    let store: ReturnType<typeof countingStore>;
    let logger: ActivityLogger<any>;
    let seeded: ActivityRecord[];
    let app: RunningApp | undefined;
    const admin = { 'x-role': 'admin', 'x-user': 'u_admin' };

    async function open(tenantPinned = false) {
      inner = memoryStore();
      store = countingStore(inner);
      logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
      seeded = seedRecords();
      await inner.insert(seeded);
      app = await startApp(framework, { logger, admin: true, tenantPinned, actor: 'sync' });
    }

    afterEach(async () => {
      await app?.close();
      await logger.close();
    });

    const get = (path: string, headers: Record<string, string> = admin) => fetch(`${app!.url}/admin/logs/history${path}`, { headers });
    const page = async (query: string, headers?: Record<string, string>) => {
      const response = await get(`?${query}`, headers);
      expect(response.status, query).toBe(200);
      return (await response.json()) as { items: ActivityRecord[]; nextCursor: string | null };
    };
    const versionsOf = (predicate: (r: ActivityRecord) => boolean) =>
      seeded
        .filter((r) => r.changes && predicate(r))
        .sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime())
        .map((r) => r.id);

    it('pages through the versions of one target, newest first, across the records without changes', async () => {
      await open();
      const seen: string[] = [];
      let cursor: string | null = null;
      const sizes: number[] = [];
      do {
        const result: { items: ActivityRecord[]; nextCursor: string | null } = await page(`targetType=recipe&targetId=42&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        sizes.push(result.items.length);
        seen.push(...result.items.map((r) => r.id));
        cursor = result.nextCursor;
      } while (cursor);
      expect(seen).toEqual(versionsOf((r) => r.target?.id === '42'));
      expect(sizes).toEqual([2, 2, 2, 2]);
      const first = await page('targetType=recipe&targetId=42&limit=50');
      expect(first.nextCursor).toBeNull();
      expect(first.items.at(-1)).toMatchObject({ action: 'recipe.created', changes: { servings: { before: null, after: 1 } }, actor: { type: 'user', id: 'u_1', name: 'Ada' } });
    });

    it('records the read as activity.query with view history', async () => {
      await open();
      await page('targetType=recipe&targetId=42');
      await logger.flush();
      const audit = inner.all().filter((r) => r.action.startsWith('activity.'));
      expect(audit.map((r) => [r.action, r.status, r.actor?.id, r.metadata])).toEqual([
        ['activity.query', 'success', 'u_admin', { view: 'history', filters: { targetType: 'recipe', targetId: '42' } }],
      ]);
    });

    it('answers bad parameters with 400 naming each, and nothing reaches the store', async () => {
      await open();
      const cases: [string, string[]][] = [
        ['', ['targetType', 'targetId']],
        ['targetType=recipe', ['targetId']],
        ['targetId=42', ['targetType']],
        ['targetType=recipe&targetId=42&limit=0', ['limit']],
        ['targetType=recipe&targetId=42&limit=ten', ['limit']],
        ['targetType=recipe&targetId=42&cursor=not-a-cursor', ['cursor']],
        ['targetType=recipe&targetId=42&targetId=43', ['targetId']],
        ['targetType=recipe&targetId=42&action=recipe.*', ['action']],
        [`targetType=recipe&targetId=42&from=${BASE}&to=${BASE - 1000}`, ['from']],
      ];
      for (const [query, names] of cases) {
        const response = await get(`?${query}`);
        expect(response.status, query).toBe(400);
        const body = await response.json();
        expect(body.error).toBe('invalid_parameters');
        expect(body.parameters.map((p: { name: string }) => p.name).sort(), query).toEqual([...names].sort());
      }
      expect(store.reads).toBe(0);
    });

    it('refuses callers authorize() rejects with 403, recorded as denied, before reading anything', async () => {
      await open();
      const refused = await get('?targetType=recipe&targetId=42', { 'x-user': 'u_mallory' });
      expect(refused.status).toBe(403);
      expect(store.reads).toBe(0);
      await logger.flush();
      const denied = inner.all().filter((r) => r.status === 'denied');
      expect(denied.map((r) => [r.action, r.actor?.id, r.metadata?.view])).toEqual([['activity.query', 'u_mallory', 'history']]);
    });

    it("pins the history to the caller's tenant", async () => {
      await open(true);
      const t1 = { ...admin, 'x-tenant': 't1' };
      const t2 = { ...admin, 'x-tenant': 't2' };
      expect((await page('targetType=recipe&targetId=42', t1)).items.map((r) => r.id)).toEqual(versionsOf((r) => r.target?.id === '42' && r.tenantId === 't1'));
      expect((await page('targetType=recipe&targetId=42', t2)).items.map((r) => r.id)).toEqual(versionsOf((r) => r.target?.id === '42' && r.tenantId === 't2'));
      const other = await get('?targetType=recipe&targetId=42&tenantId=t2', t1);
      expect(other.status).toBe(400);
      expect((await other.json()).parameters).toEqual([{ name: 'tenantId', problem: 'is fixed to your own tenant' }]);
      expect((await get('?targetType=recipe&targetId=42', admin)).status).toBe(403);
      // Unpinned, tenantId is an ordinary filter, as on the list.
      await app!.close();
      await logger.close();
      await open(false);
      expect((await page('targetType=recipe&targetId=42&tenantId=t2')).items.map((r) => r.id)).toEqual(versionsOf((r) => r.target?.id === '42' && r.tenantId === 't2'));
    });
  });
}
