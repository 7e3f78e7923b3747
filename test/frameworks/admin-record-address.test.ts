import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { FRAMEWORKS, startApp, type RunningApp } from './apps.js';

/**
 * A caller may give `log()` its own ids, and `summary`, `export`, `verify` and `history` are
 * ids it takes: `GET /:id` can never reach those records, since the path names an endpoint.
 * `GET /records/:id` reaches every record, on every framework; `GET /:id` still reaches every
 * other one. An endpoint's name percent-encoded (`/%73ummary`) is that endpoint, not a record:
 * a proxy that normalizes the URL must not change what it reads.
 */
const ENDPOINT_NAMES = ['summary', 'export', 'verify', 'history'] as const;
const OTHER_IDS = ['records', 'order:7.v2', 'rec-01'] as const;

const dir = mkdtempSync(join(tmpdir(), 'activity-log-record-address-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const framework of FRAMEWORKS) {
  describe(`${framework} admin API: a record's address`, () => {
    let logger: ActivityLogger<any>;
    let app: RunningApp;

    beforeEach(async () => {
      const store = sqliteStore({ filename: join(dir, `${framework}.db`), tableName: `h1_record_address_${framework}` });
      logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
      // A fresh file per framework; each test of a framework sees the records once.
      if ((await logger.query({ limit: 1 })).items.length === 0) {
        for (const id of [...ENDPOINT_NAMES, ...OTHER_IDS]) logger.log({ id, action: 'recipe.update', target: { type: 'recipe', id: `of-${id}` } });
        await logger.flush();
      }
      app = await startApp(framework, { logger, admin: true });
    });
    afterEach(async () => {
      await app.close();
      await logger.close();
    });

    const get = (path: string) => fetch(`${app.url}/admin/logs${path}`, { headers: { 'x-role': 'admin', accept: 'application/json' } });

    it('reaches a record named like an endpoint, and every other record, at /records/:id', async () => {
      for (const id of [...ENDPOINT_NAMES, ...OTHER_IDS]) {
        const response = await get(`/records/${encodeURIComponent(id)}`);
        expect(response.status, id).toBe(200);
        expect(await response.json(), id).toMatchObject({ id, target: { id: `of-${id}` } });
      }
      // Encoded or with the trailing slash the other endpoints allow, it is the same record.
      expect(await (await get('/records/%73ummary/')).json()).toMatchObject({ id: 'summary' });
    });

    it('keeps GET /:id for every id that is no endpoint, /records alone included', async () => {
      for (const id of OTHER_IDS) {
        const response = await get(`/${encodeURIComponent(id)}`);
        expect(response.status, id).toBe(200);
        expect(await response.json(), id).toMatchObject({ id });
      }
    });

    it('answers an endpoint name, percent-encoded or not, as that endpoint, never as a record', async () => {
      for (const path of ['/summary?by=action', '/%73ummary?by=action', '/%73%75%6D%6D%61%72%79/?by=action']) {
        const response = await get(path);
        expect(response.status, path).toBe(200);
        expect(await response.json(), path).toMatchObject({ by: 'action', buckets: expect.any(Array) });
      }
      const history = await get('/%68istory?targetType=recipe&targetId=of-history');
      expect(history.status).toBe(200);
      const body = await history.json();
      expect(body).toMatchObject({ items: expect.any(Array) });
      expect(body).not.toHaveProperty('id');
    });

    it('answers an unknown record with a 404 and a deeper path with no endpoint', async () => {
      const missing = await get('/records/no-such-id');
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: 'not_found', message: 'no activity record no-such-id' });
      for (const path of ['/records/summary/more', '/summary/records', '/records//summary']) {
        const response = await get(path);
        expect(response.status, path).toBe(404);
        expect((await response.json()).message, path).toMatch(/^no such endpoint/);
      }
    });

    it('leaves a percent-encoded mount path to the framework, as the README says', async () => {
      const response = await fetch(`${app.url}/admin/%6Cogs/summary?by=action`, { headers: { 'x-role': 'admin', accept: 'application/json' } });
      // express matches its mount on the path as sent; fastify and hono route on it decoded, and
      // only fastify's shim is given the path below the prefix.
      const expected = { express: 404, fastify: 200, hono: 404 }[framework];
      expect(response.status).toBe(expected);
      if (framework === 'hono') expect(await response.json()).toMatchObject({ error: 'not_found' });
    });

    it('records a read at /records/:id as one read of that record', async () => {
      expect((await get('/records/verify')).status).toBe(200);
      await logger.flush();
      const reads = await logger.query({ action: 'activity.query', limit: 500 });
      expect(reads.items.some((record) => record.metadata?.view === 'get' && record.metadata?.id === 'verify' && record.metadata?.found === true)).toBe(true);
    });
  });
}
