import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import { FRAMEWORKS, startApp, type RunningApp } from './apps.js';

/** Sends a request target exactly as given (fetch would normalise it), and reads the answer. */
function rawGet(base: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path: target, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const HOSTILE_PATHS = ['//', '//a:b@c/', '//[::1/', '//evil.example/summary', '//evil.example/', '/summary/x', '/a/b', '///'];

for (const framework of FRAMEWORKS) {
  describe(`${framework} admin API answers 4xx, never 500`, () => {
    let store: MemoryStore;
    let logger: ActivityLogger<any>;
    let app: RunningApp;
    const admin = { 'x-role': 'admin' };

    beforeEach(async () => {
      store = memoryStore();
      logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
      await store.insert([
        { id: 'old-2025', occurredAt: new Date('2025-06-01T00:00:00Z'), action: 'recipe.view', status: 'success' },
        { id: 'new-2026', occurredAt: new Date('2026-03-01T00:00:00Z'), action: 'recipe.view', status: 'success' },
      ]);
      app = await startApp(framework, { logger, admin: true, actor: 'sync' });
    });
    afterEach(async () => {
      await app.close();
      await logger.close();
    });

    it('answers a path it does not know with a JSON 404, signed in or not, and never re-reads it as another host', async () => {
      for (const path of HOSTILE_PATHS) {
        for (const headers of [{}, admin]) {
          const response = await rawGet(app.url, `/admin/logs${path}`, headers);
          expect({ path, status: response.status }).toEqual({ path, status: 404 });
          expect(response.headers['content-type']).toMatch(/application\/json/);
          expect(response.headers['x-content-type-options']).toBe('nosniff');
          expect(response.body).not.toMatch(/TypeError|Invalid URL|at .*\.(ts|js)/);
        }
      }
    });

    it('records a refused read of /%00 with the full path, the mount route and the NUL made storable, beside every other event', async () => {
      for (let i = 0; i < 20; i++) logger.log({ id: `other-${i}`, action: 'other.event' });
      const refused = await rawGet(app.url, '/admin/logs/%00', { 'x-user': 'mallory' });
      expect(refused.status).toBe(403);
      const found = await rawGet(app.url, '/admin/logs/%00', admin);
      expect(found.status).toBe(404);
      await logger.flush();
      const denied = store.all().filter((record) => record.action === 'activity.query' && record.status === 'denied');
      expect(denied).toHaveLength(1);
      expect(denied[0]).toMatchObject({ actor: { type: 'user', id: 'mallory' }, metadata: { view: 'get', path: '/admin/logs/%00' }, context: { route: '/admin/logs/*' } });
      expect(store.all().filter((record) => record.action === 'other.event')).toHaveLength(20);
      // One refusal, one record: no automatic http.get denied beside it.
      expect(store.all().filter((record) => record.action === 'http.get')).toEqual([]);
    });

    it('refuses times outside the years 1 to 9999 with a 400 naming the parameter, and reads from=2026 as the year 2026', async () => {
      const outOfRange = [
        ['to=253402300800000', 'to'],
        ['from=%2B275760-09-13T00:00:00.000Z', 'from'],
        ['from=-62135596800001', 'from'],
        ['to=10000-01-01', 'to'],
        [`cursor=${btoa(JSON.stringify([1, 2 ** 53 - 1, 'x'])).replace(/=+$/, '')}`, 'cursor'],
        ['from=20260315', 'from'],
      ] as const;
      for (const [query, name] of outOfRange) {
        for (const path of ['', '/summary?by=day&', '/export?']) {
          if (name === 'cursor' && path !== '') continue;
          const separator = path === '' ? '?' : '';
          const response = await rawGet(app.url, `/admin/logs${path}${separator}${query}`, admin);
          expect({ query, path, status: response.status }).toEqual({ query, path, status: 400 });
          const body = JSON.parse(response.body) as { parameters: { name: string }[] };
          expect(body.parameters.map((p) => p.name)).toContain(name);
          expect(response.headers['x-content-type-options']).toBe('nosniff');
        }
      }
      // Only the fixtures' action: the requests of this very test are recorded today, which may be in 2026 too.
      const year = JSON.parse((await rawGet(app.url, '/admin/logs?from=2026&action=recipe.view', admin)).body) as { items: { id: string }[] };
      expect(year.items.map((item) => item.id)).toEqual(['new-2026']);
      const until = JSON.parse((await rawGet(app.url, '/admin/logs?to=2026&action=recipe.view', admin)).body) as { items: { id: string }[] };
      expect(until.items.map((item) => item.id)).toEqual(['old-2025']);
      const local = JSON.parse((await rawGet(app.url, '/admin/logs?from=2026-03-01T00:00&action=recipe.view', admin)).body) as { items: { id: string }[] };
      expect(local.items.map((item) => item.id)).toEqual(['new-2026']);
      const epoch = JSON.parse((await rawGet(app.url, `/admin/logs?to=${Date.parse('2026-01-01T00:00:00Z')}&action=recipe.view`, admin)).body) as { items: { id: string }[] };
      expect(epoch.items.map((item) => item.id)).toEqual(['old-2025']);
    });

    it('sends X-Content-Type-Options: nosniff with every JSON and export response', async () => {
      for (const target of ['/admin/logs', '/admin/logs/new-2026', '/admin/logs/nope', '/admin/logs/summary?by=day', '/admin/logs/export', '/admin/logs/export?format=csv', '/admin/logs?limit=x']) {
        const response = await rawGet(app.url, target, admin);
        expect(response.headers['x-content-type-options'], target).toBe('nosniff');
      }
      expect((await rawGet(app.url, '/admin/logs', {})).headers['x-content-type-options']).toBe('nosniff');
    });
  });
}
