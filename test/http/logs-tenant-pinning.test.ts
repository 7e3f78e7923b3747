import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import type { ActivityLogError } from '../../src/errors.js';
import { createActivityLogsHandler, type ActivityLogsOptions } from '../../src/http/logs-handler.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';

/**
 * A tenant-pinned admin API trusts `tenant()` to name the caller's tenant. What it returns
 * when the app's lookup found nothing (`''`, `NaN`, a string no `tenantId` can be) is no
 * tenant: refused like `undefined`, on every endpoint, not read as a tenant of its own.
 */
const dir = mkdtempSync(join(tmpdir(), 'activity-log-tenant-pinning-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('admin logs API: what tenant() returns', () => {
  let logger: ActivityLogger<any>;
  let reported: ActivityLogError[];
  let file = 0;

  beforeEach(async () => {
    reported = [];
    const store = sqliteStore({ filename: join(dir, `pinning-${++file}.db`), tableName: 'h3_tenant_pinning' });
    logger = createActivityLogger({ store, flushIntervalMs: 5, onError: (error) => reported.push(error) });
  });
  afterEach(async () => {
    await logger.close();
  });

  const handlerFor = (tenant: ActivityLogsOptions['tenant'], options: Partial<ActivityLogsOptions> = {}) =>
    createActivityLogsHandler(logger, { authorize: () => true, tenant, viewer: true, ...options });
  const call = (handler: ReturnType<typeof handlerFor>, path: string, accept = 'application/json') =>
    handler(new Request(`http://x${path}`, { headers: { accept } }), undefined, path.split('?')[0]);

  it("refuses '', NaN, Infinity and a string over 255 characters as no tenant, on every endpoint and the page", async () => {
    logger.log({ action: 'doc.update', tenantId: 'NaN', target: { type: 'doc', id: 'd1' }, changes: { before: { a: 1 }, after: { a: 2 } } });
    await logger.flush();
    const [record] = (await logger.query({})).items;
    for (const value of ['', Number.NaN, Number.POSITIVE_INFINITY, 'x'.repeat(256)]) {
      const reasons: string[] = [];
      const handler = handlerFor(() => value, {
        onUnauthorized: (_req, { reason }) => {
          reasons.push(reason);
          return undefined;
        },
      });
      const paths = ['', '/summary?by=status', '/export', '/export?format=csv', '/history?targetType=doc&targetId=d1', `/records/${record!.id}`, `/verify?id=${record!.id}`];
      for (const path of paths) {
        const response = await call(handler, path);
        expect(response.status, `${String(value).slice(0, 10)} ${path}`).toBe(403);
        expect(await response.json()).toEqual({ error: 'forbidden', message: 'no tenant for this caller' });
      }
      // The viewer's page too: it would only call the API, to be refused there.
      expect((await call(handler, '', 'text/html')).status).toBe(403);
      expect(reasons).toEqual(paths.map(() => 'no-tenant').concat('no-tenant'));
    }
    expect(reported.filter((error) => error.code === 'CALLBACK_FAILED').map((error) => error.message)).toContain(
      'activity logs API: tenant() must return a tenant id (1-255 characters, or a finite number), got NaN; the request was refused',
    );
  });

  it('keeps the reads of two callers whose tenant() gives NaN apart (it named a tenant "NaN" they shared)', async () => {
    // Neither caller has the header the app's lookup reads: parseInt('') is NaN for both.
    const handler = handlerFor((req) => Number.parseInt((req as Request).headers.get('x-org') ?? '', 10));
    // Caller one reads a record of theirs by id; caller two then lists the log.
    await call(handler, '/records/secret-report-id');
    await logger.flush();
    const response = await call(handler, '?action=activity.*');
    expect(response.status).toBe(403);
    const reads = (await logger.query({ action: 'activity.*' })).items;
    expect(reads.every((read) => read.status === 'denied' && read.tenantId === undefined)).toBe(true);
  });

  it('reads a tenant as its records store it, so GET /records/:id agrees with the list', async () => {
    // The text rule (README, The event) stores U+0000 as U+FFFD in tenantId as everywhere.
    logger.log({ id: 'nul-tenant-record', action: 'doc.update', tenantId: 'acme\0' });
    logger.log({ id: 'other-tenant-record', action: 'doc.update', tenantId: 'acme' });
    await logger.flush();
    const handler = handlerFor(() => 'acme\0');
    const list = (await (await call(handler, '?action=doc.update')).json()) as { items: { id: string }[] };
    expect(list.items.map((item) => item.id)).toEqual(['nul-tenant-record']);
    expect((await call(handler, '/records/nul-tenant-record')).status).toBe(200);
    expect((await call(handler, '/records/other-tenant-record')).status).toBe(404);
  });

  it("records a pinned caller's request for another tenant, and for a verify of every tenant, as denied", async () => {
    const handler = handlerFor(() => 'acme');
    expect((await call(handler, '?tenantId=acme')).status).toBe(200);
    expect((await call(handler, '?tenantId=globex')).status).toBe(400);
    expect((await call(handler, '/export?format=csv&tenantId=acme&tenantId=globex')).status).toBe(400);
    expect((await call(handler, '/summary?by=status&tenantId=GLOBEX')).status).toBe(400);
    expect((await call(handler, '/verify')).status).toBe(403);
    await logger.flush();
    const refusals = (await logger.query({ status: 'denied' })).items.reverse();
    expect(refusals.map((record) => [record.action, record.tenantId, record.metadata?.view, record.metadata?.reason])).toEqual([
      ['activity.query', 'acme', 'list', 'another tenant'],
      ['activity.export', 'acme', 'export', 'another tenant'],
      ['activity.query', 'acme', 'summary', 'another tenant'],
      ['activity.verify', 'acme', 'verify', 'range of every tenant'],
    ]);
  });
});
