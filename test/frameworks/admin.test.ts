import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { isActivityLogError } from '../../src/errors.js';
import type { ActivityRecord } from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { activityLogsRouter } from '../../adapters/frameworks/express.js';
import { activityLogsPlugin } from '../../adapters/frameworks/fastify.js';
import { activityLogsApp } from '../../adapters/frameworks/hono.js';
import { countingStore } from '../helpers.js';
import { FRAMEWORKS, startApp, type RunningApp } from './apps.js';

const BASE = Date.UTC(2026, 0, 10, 12, 0, 0);
const ACTIONS = ['recipe.create', 'recipe.update', 'user.login'] as const;
const STATUSES = ['success', 'failure', 'denied'] as const;

/** 30 records, one a minute back from BASE, spread over actions, statuses, actors, targets and two tenants. */
function seedRecords(): ActivityRecord[] {
  return Array.from({ length: 30 }, (_, i) => ({
    id: `rec-${String(i).padStart(2, '0')}`,
    occurredAt: new Date(BASE - i * 60_000 - (i >= 20 ? 86_400_000 : 0)),
    action: ACTIONS[i % 3]!,
    status: STATUSES[i % 3 === 0 ? 0 : i % 5 === 0 ? 2 : i % 2]!,
    actor: { type: i % 4 === 0 ? 'admin' : 'user', id: `u_${i % 5}` },
    target: { type: i % 2 === 0 ? 'recipe' : 'plan', id: `t_${i % 6}`, ...(i === 3 ? { name: '=HYPERLINK("http://evil")' } : {}) },
    tenantId: i % 2 === 0 ? 't1' : 't2',
    ...(i === 3 ? { metadata: { note: '+SUM(A1)', other: '-1', at: '@cmd', tab: '\tx', cr: '\ry' } } : {}),
    ...(i === 4 ? { actor: { type: 'user', id: 'u_4', name: '@evil' } } : {}),
  }));
}

for (const framework of FRAMEWORKS) {
  describe(`${framework} admin logs API`, () => {
    let inner: MemoryStore;
    let store: ReturnType<typeof countingStore>;
    let logger: ActivityLogger<any>;
    let seeded: ActivityRecord[];
    let app: RunningApp;
    const admin = { 'x-role': 'admin' };

    async function open(tenantPinned = false) {
      inner = memoryStore();
      store = countingStore(inner);
      logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
      seeded = seedRecords();
      await inner.insert(seeded);
      app = await startApp(framework, { logger, admin: true, tenantPinned, actor: 'sync' });
    }

    beforeEach(async () => open());
    afterEach(async () => {
      await app.close();
      await logger.close();
    });

    const get = (path: string, headers: Record<string, string> = admin) => fetch(`${app.url}/admin/logs${path}`, { headers });
    const list = async (query: string, headers?: Record<string, string>) => {
      const response = await get(`?${query}`, headers);
      expect(response.status).toBe(200);
      return (await response.json()) as { items: any[]; nextCursor: string | null };
    };
    const ids = (items: { id: string }[]) => items.map((r) => r.id);
    const expected = (pred: (r: ActivityRecord) => boolean) => seeded.filter(pred).map((r) => r.id);

    it('lists newest first as { items, nextCursor }', async () => {
      const page = await list('limit=5');
      expect(ids(page.items)).toEqual(['rec-00', 'rec-01', 'rec-02', 'rec-03', 'rec-04']);
      expect(typeof page.nextCursor).toBe('string');
      expect(page.items[0].occurredAt).toBe(new Date(BASE).toISOString());
    });

    it('applies every filter given as a query parameter', async () => {
      const cases: [string, (r: ActivityRecord) => boolean][] = [
        [`actorType=admin&to=${BASE + 1}`, (r) => r.actor?.type === 'admin'],
        [`actorId=u_2&to=${BASE + 1}`, (r) => r.actor?.id === 'u_2'],
        ['action=recipe.update', (r) => r.action === 'recipe.update'],
        ['action=recipe.*', (r) => r.action.startsWith('recipe.')],
        [`status=denied&to=${BASE + 1}`, (r) => r.status === 'denied'],
        ['targetType=plan', (r) => r.target?.type === 'plan'],
        ['targetId=t_3', (r) => r.target?.id === 't_3'],
        [`tenantId=t2&to=${BASE + 1}`, (r) => r.tenantId === 't2'],
        // Bounded by "to" as well: the API's own audit records of this test are newer than BASE.
        [`from=${new Date(BASE - 5 * 60_000).toISOString()}&to=${BASE + 1}`, (r) => r.occurredAt.getTime() >= BASE - 5 * 60_000],
        [`to=${BASE - 25 * 60_000}`, (r) => r.occurredAt.getTime() < BASE - 25 * 60_000],
        ['action=recipe.*&status=success&tenantId=t1', (r) => r.action.startsWith('recipe.') && r.status === 'success' && r.tenantId === 't1'],
      ];
      for (const [query, predicate] of cases) {
        const page = await list(`${query}&limit=500`);
        expect(ids(page.items), query).toEqual(expected(predicate));
        expect(page.items.length, query).toBeGreaterThan(0);
      }
    });

    it('pages with limit and cursor through every record exactly once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: any[]; nextCursor: string | null } = await list(`limit=7&action=recipe.*${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.items.length).toBeLessThanOrEqual(7);
        seen.push(...ids(page.items));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(expected((r) => r.action.startsWith('recipe.')));
    });

    it('returns one record by id, and 404 for an unknown one', async () => {
      const found = await get('/rec-07');
      expect(found.status).toBe(200);
      expect(await found.json()).toMatchObject({ id: 'rec-07', action: seeded[7]!.action });
      const missing = await get('/no-such-id');
      expect(missing.status).toBe(404);
    });

    it('summarizes by action, status and day', async () => {
      const byAction = await (await get('/summary?by=action')).json();
      expect(byAction.by).toBe('action');
      const counts = Object.fromEntries(byAction.buckets.map((b: any) => [b.key, b.count]));
      expect(counts).toEqual({ 'recipe.create': 10, 'recipe.update': 10, 'user.login': 10 });
      const byStatus = await (await get('/summary?by=status&action=recipe.*')).json();
      const total = byStatus.buckets.reduce((sum: number, b: any) => sum + b.count, 0);
      expect(total).toBe(20);
      const byDay = await (await get(`/summary?by=day&to=${BASE + 1}`)).json();
      expect(byDay.buckets.map((b: any) => b.count).sort()).toEqual([10, 20]);
    });

    it('exports NDJSON with filters', async () => {
      const response = await get(`/export?format=ndjson&status=success&to=${BASE + 1}`); // the export's own audit record is newer
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('application/x-ndjson');
      const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line));
      expect(lines.map((r) => r.id)).toEqual(expected((r) => r.status === 'success'));
    });

    it('exports CSV with cells escaped against formula injection', async () => {
      const response = await get('/export?format=csv&actorId=u_3');
      expect(response.headers.get('content-type')).toContain('text/csv');
      const text = await response.text();
      const rows = text.trim().split('\r\n');
      expect(rows[0]).toMatch(/^id,occurredAt,action,status,actorType,actorId/);
      expect(rows).toHaveLength(1 + expected((r) => r.actor?.id === 'u_3').length);
      const row3 = rows.find((row) => row.startsWith('rec-03,'))!;
      expect(row3).toContain(`"'=HYPERLINK(""http://evil"")"`);
      expect(row3).not.toMatch(/,=/);
      // Metadata is a JSON cell starting with "{", so it is not a formula; its text is kept.
      expect(row3).toContain('+SUM(A1)');
      const all = await (await get('/export?format=csv')).text();
      expect(all).toContain(",'@evil,");
      expect(all).not.toMatch(/(^|,)[=+\-@\t]|,\r(?!\n)/m);
    });

    it('answers bad parameters with 400 naming each, and nothing reaches the store', async () => {
      const before = store.reads;
      const cases: [string, string[]][] = [
        ['status=maybe', ['status']],
        [`from=${new Date(BASE).toISOString()}&to=${new Date(BASE - 1000).toISOString()}`, ['from']],
        ['cursor=not-a-cursor', ['cursor']],
        ['limit=100000', ['limit']],
        ['limit=ten', ['limit']],
        ['action=a&action=b', ['action']],
        ['from=yesterday', ['from']],
        ['bogus=1', ['bogus']],
        ['status=maybe&limit=0&action=Bad%20Action', ['status', 'limit', 'action']],
        // An unknown parameter and a bad value of a known one: both named in one answer.
        ['limit=abc&foo=1', ['foo', 'limit']],
        ['status=success&status=failure&limit=ten', ['status', 'limit']],
      ];
      for (const [query, names] of cases) {
        const response = await get(`?${query}`);
        expect(response.status, query).toBe(400);
        const body = await response.json();
        expect(body.error).toBe('invalid_parameters');
        expect(body.parameters.map((p: any) => p.name).sort(), query).toEqual([...names].sort());
        for (const p of body.parameters) expect(p.problem.length).toBeGreaterThan(3);
      }
      expect((await get('/summary?by=week')).status).toBe(400);
      expect((await get('/summary')).status).toBe(400);
      expect((await get('/export?format=xml')).status).toBe(400);
      expect((await get('/export?limit=5')).status).toBe(400);
      expect(store.reads).toBe(before);
    });

    it('refuses callers authorize() rejects with 403 and records it as denied', async () => {
      const refused = await get('?action=recipe.*', { 'x-user': 'u_mallory' });
      expect(refused.status).toBe(403);
      const refusedExport = await get('/export?format=csv', { 'x-user': 'u_mallory' });
      expect(refusedExport.status).toBe(403);
      expect(store.reads).toBe(0);
      await logger.flush();
      const denied = inner.all().filter((r) => r.status === 'denied' && r.action.startsWith('activity.'));
      expect(denied.map((r) => r.action).sort()).toEqual(['activity.export', 'activity.query']);
      for (const r of denied) expect(r.actor).toEqual({ type: 'user', id: 'u_mallory' });
    });

    it('records reads and exports with the filters used', async () => {
      await list('action=recipe.*&status=success', { ...admin, 'x-user': 'u_admin' });
      await (await get('/export?format=ndjson&actorType=admin', { ...admin, 'x-user': 'u_admin' })).text();
      await logger.flush();
      const audit = inner.all().filter((r) => r.action.startsWith('activity.'));
      expect(audit.map((r) => [r.action, r.actor?.id, r.metadata])).toEqual([
        ['activity.export', 'u_admin', { format: 'ndjson', filters: { format: 'ndjson', actorType: 'admin' } }],
        ['activity.query', 'u_admin', { view: 'list', filters: { action: 'recipe.*', status: 'success' } }],
      ]);
    });

    it('pins every read to the caller tenant', async () => {
      await app.close();
      await logger.close();
      await open(true);
      const t1 = { ...admin, 'x-tenant': 't1' };
      const page = await list(`limit=500&to=${BASE + 1}`, t1);
      expect(ids(page.items)).toEqual(expected((r) => r.tenantId === 't1'));
      const filtered = await list('limit=500&action=recipe.*', t1);
      expect(ids(filtered.items)).toEqual(expected((r) => r.tenantId === 't1' && r.action.startsWith('recipe.')));
      expect((await get('?tenantId=t2', t1)).status).toBe(400);
      expect((await get('/rec-01', t1)).status).toBe(404);
      expect((await get('/rec-02', t1)).status).toBe(200);
      const exported = (await (await get(`/export?to=${BASE + 1}`, t1)).text()).trim().split('\n').map((l) => JSON.parse(l));
      expect(exported.every((r) => r.tenantId === 't1')).toBe(true);
      const everything = (await (await get('/export', t1)).text()).trim().split('\n').map((l) => JSON.parse(l));
      expect(everything.every((r) => r.tenantId === 't1')).toBe(true);
      expect(exported).toHaveLength(15);
      const summary = await (await get(`/summary?by=status&to=${BASE + 1}`, t1)).json();
      expect(summary.buckets.reduce((s: number, b: any) => s + b.count, 0)).toBe(15);
      expect((await get('', admin)).status).toBe(403);
    });
  });
}

describe('admin logs API factories', () => {
  const logger = createActivityLogger({ store: memoryStore() });

  it('refuse to build without authorize, for every framework', async () => {
    const expectInvalid = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(isActivityLogError(error, 'INVALID_OPTIONS')).toBe(true);
        expect((error as Error).message).toMatch(/authorize/);
        return;
      }
      throw new Error('expected the factory to throw');
    };
    expectInvalid(() => activityLogsRouter(logger, {} as never));
    expectInvalid(() => activityLogsApp(logger, {} as never));
    const fastify = Fastify();
    const registration = fastify.register(activityLogsPlugin, { logger } as never);
    await expect(registration.ready()).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await fastify.close().catch(() => {});
  });
});
