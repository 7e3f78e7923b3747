/**
 * Bad input against the admin API and the exports, as properties over generated data: a
 * sensitive value never leaves the logger, the API never answers 500, a tenant never sees
 * another tenant's record, and exported text round-trips without breaking a row or opening a
 * formula. Real components: a SQLite file, the web-standard handler, a real express server.
 */
import Database from 'better-sqlite3';
import express from 'express';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { activityLogsRouter, activityMiddleware } from '../../adapters/frameworks/express.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, DEFAULT_REDACT_TERMS, type ActivityRecord } from '../../src/index.js';
import { createActivityLogsHandler, EXPORT_CSV_COLUMNS } from '../../src/http/index.js';
import { parseCsv, shownText } from './csv.js';
import { storableText } from '../../src/text.js';

const dir = mkdtempSync(join(tmpdir(), 'activity-log-props-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Spellings of sensitive keys, as apps write them. */
const sensitiveKey = fc.constantFrom(
  'password',
  'Password',
  'newPassword',
  'passwd',
  'client_secret',
  'accessToken',
  'refresh-token',
  'Authorization',
  'set-cookie',
  'cookie',
  'apiKey',
  'api_key',
  'X-Api-Key',
  'privateKey',
  'creditCardNumber',
  'card_number',
  'cvv',
  ...DEFAULT_REDACT_TERMS,
);
const plainKey = fc.constantFrom('user', 'profile', 'settings', 'items', 'data', 'nested', 'a', 'b');

/** Metadata with `secret` under a sensitive key at a random depth, inside objects and arrays. */
const metadataHiding = (secret: string) =>
  fc
    .tuple(fc.array(fc.tuple(plainKey, fc.boolean()), { maxLength: 5 }), sensitiveKey, fc.dictionary(plainKey, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }))
    .map(([path, key, around]) => {
      let value: unknown = { ...around, [key]: secret };
      for (const [segment, inArray] of path.reverse()) value = { [segment]: inArray ? [value, 1] : value };
      return value as Record<string, unknown>;
    });

async function readAll(response: Response): Promise<string> {
  return new TextDecoder().decode(new Uint8Array(await response.arrayBuffer()));
}

describe('redaction, end to end (property)', () => {
  it('never stores, exports or serves the value of a sensitive key at any depth', async () => {
    const filename = join(dir, 'redaction.db');
    const activity = createActivityLogger({ store: sqliteStore({ filename }), onError: () => {} });
    const secrets: string[] = [];
    const cases = fc.sample(
      fc.integer({ min: 0, max: 1e9 }).chain((n) => {
        const secret = `SeCrEt${n}x`;
        return fc.record({ secret: fc.constant(secret), metadata: metadataHiding(secret), inChanges: fc.boolean() });
      }),
      { numRuns: 300, seed: 42 },
    );
    for (const { secret, metadata, inChanges } of cases) {
      secrets.push(secret);
      activity.log(
        inChanges
          ? { action: 'user.update', changes: { before: { profile: metadata }, after: { profile: { ...metadata, touched: true } } } }
          : { action: 'user.update', metadata },
      );
    }
    await activity.flush();
    expect(activity.stats()).toMatchObject({ written: cases.length, invalid: 0 });

    // Every column of every row, read with SQLite's own client.
    const db = new Database(filename, { readonly: true });
    const stored = JSON.stringify(db.prepare('select * from activity_logs').all());
    db.close();
    const handler = createActivityLogsHandler(activity, { authorize: () => true, viewer: true });
    const served = [
      await readAll(await handler(new Request('http://x/', { headers: { accept: 'text/html' } }))),
      await readAll(await handler(new Request('http://x/export?format=ndjson'))),
      await readAll(await handler(new Request('http://x/export?format=csv'))),
      await readAll(await handler(new Request('http://x/?limit=500'))),
    ];
    const page = JSON.parse(served[3]!) as { items: ActivityRecord[] };
    for (const record of page.items.slice(0, 20)) served.push(await readAll(await handler(new Request(`http://x/${record.id}`))));
    for (const secret of secrets) {
      expect(stored).not.toContain(secret);
      for (const body of served) expect(body).not.toContain(secret);
    }
    expect(stored).toContain('[REDACTED]');
    await activity.close();
  });
});

describe('the admin API under fuzzed requests (property)', () => {
  it('answers 200, 400, 401, 403 or 404 to any query string and headers, never 500, and stays up', async () => {
    const activity = createActivityLogger({ store: memoryStore(), onError: () => {} });
    for (let i = 0; i < 30; i++) activity.log({ action: 'recipe.update', actor: { type: 'user', id: `u${i}` }, tenantId: `t${i % 3}` });
    await activity.flush();
    const app = express();
    app.use(activityMiddleware(activity, { actor: (req) => (req.headers['x-user'] ? { type: 'user', id: String(req.headers['x-user']) } : undefined) }));
    app.use(
      '/admin/logs',
      activityLogsRouter(activity, {
        authorize: (req) => req.headers['x-role'] !== 'guest',
        tenant: (req) => (req.headers['x-tenant'] === undefined ? 't0' : String(req.headers['x-tenant'])),
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/logs`;
    const params = fc.constantFrom('actorType', 'actorId', 'action', 'status', 'targetType', 'targetId', 'tenantId', 'from', 'to', 'limit', 'cursor', 'by', 'format', 'metadata', 'x', '');
    const value = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('recipe.*', '*', '%', '%zz', '-1', '1e999', '100000', 'NaN', '2026-01-01', 'failure', "' OR 1=1 --", '\u0000'), fc.integer().map(String));
    const query = fc.array(fc.tuple(params, value), { maxLength: 6 }).map((pairs) => new URLSearchParams(pairs).toString());
    const rawQuery = fc.string({ maxLength: 40 }).map((text) => text.replace(/[#\s]/g, ''));
    const path = fc.constantFrom('', '/', '/summary', '/export', '/some-id', '/a/b', '/%2e%2e', '/summary/x');
    const headerValue = fc.string({ maxLength: 30 }).map((text) => text.replace(/[^\x20-\x7e]/g, ''));
    const headers = fc.record(
      { 'x-role': fc.constantFrom('admin', 'guest'), 'x-tenant': fc.oneof(fc.constantFrom('t0', 't1'), headerValue), 'x-request-id': headerValue, traceparent: headerValue, 'x-user': headerValue, accept: fc.constantFrom('application/json', 'text/html', '*/*', 'text/csv') },
      { requiredKeys: [] },
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(path, fc.oneof(query, rawQuery), headers, async (subPath, search, requestHeaders) => {
        const response = await fetch(`${base}${subPath}?${search}`, { headers: requestHeaders as Record<string, string> });
        await response.arrayBuffer();
        statuses.add(response.status);
        expect([200, 400, 401, 403, 404]).toContain(response.status);
      }),
      { numRuns: 400 },
    );
    const alive = await fetch(`${base}/?limit=1`, { headers: { 'x-tenant': 't1' } });
    expect(alive.status).toBe(200);
    expect(statuses.has(400) && statuses.has(200)).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    await activity.close();
  });
});

describe('tenant isolation (property)', () => {
  it('a tenant-pinned handler never returns another tenant’s record, whatever the filters', async () => {
    const activity = createActivityLogger({ store: memoryStore(), onError: () => {} });
    const tenants = ['t1', 't2', 't3', 't4'];
    const records = fc.sample(
      fc.record({
        tenantId: fc.constantFrom(...tenants),
        action: fc.constantFrom('recipe.create', 'recipe.update', 'user.login'),
        status: fc.constantFrom('success', 'failure', 'denied'),
        actorId: fc.constantFrom('u1', 'u2', 'u3'),
      }),
      { numRuns: 400, seed: 7 },
    );
    for (const [i, r] of records.entries()) {
      activity.log({ id: `rec-${i}`, action: r.action, status: r.status as 'success', tenantId: r.tenantId, actor: { type: 'user', id: r.actorId } });
    }
    await activity.flush();
    const handler = createActivityLogsHandler(activity, { authorize: () => true, tenant: (req: Request) => req.headers.get('x-tenant') });
    const filters = fc.record(
      {
        tenantId: fc.constantFrom(...tenants),
        actorId: fc.constantFrom('u1', 'u2', 'u3'),
        action: fc.constantFrom('recipe.*', 'user.login', 'recipe.update'),
        status: fc.constantFrom('success', 'failure', 'denied'),
        limit: fc.integer({ min: 1, max: 40 }).map(String),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...tenants), filters, fc.integer({ min: 0, max: records.length - 1 }), async (caller, filter, probe) => {
        const headers = { 'x-tenant': caller };
        let cursor: string | undefined;
        let pages = 0;
        do {
          const search = new URLSearchParams({ ...filter, ...(cursor ? { cursor } : {}) });
          const response = await handler(new Request(`http://x/?${search}`, { headers }));
          if (filter.tenantId !== undefined && filter.tenantId !== caller) {
            expect(response.status).toBe(400);
            return;
          }
          expect(response.status).toBe(200);
          const page = (await response.json()) as { items: ActivityRecord[]; nextCursor: string | null };
          for (const item of page.items) expect(item.tenantId).toBe(caller);
          cursor = page.nextCursor ?? undefined;
        } while (cursor && ++pages < 20);
        const one = await handler(new Request(`http://x/rec-${probe}`, { headers }));
        expect(one.status).toBe(records[probe]!.tenantId === caller ? 200 : 404);
        const exported = await readAll(await handler(new Request('http://x/export?format=ndjson', { headers })));
        for (const line of exported.split('\n').filter(Boolean)) expect((JSON.parse(line) as ActivityRecord).tenantId).toBe(caller);
      }),
      { numRuns: 120 },
    );
    await activity.close();
  });
});

describe('exports of hostile text (property)', () => {
  it('round-trips newlines, quotes, commas, NUL bytes, invisible characters and formula prefixes through NDJSON and CSV, and never opens a formula', async () => {
    const filename = join(dir, 'export.db');
    const activity = createActivityLogger({ store: sqliteStore({ filename }), onError: () => {} });
    const hostile = fc.string({
      unit: fc.constantFrom(
        'a', 'é', ' ', ',', '"', "'", '\n', '\r', '\r\n', '\t', '\u0000', '=', '+', '-', '@', '=HYPERLINK("x")', '漢', '😀',
        // Invisible or blank characters a spreadsheet skips before a formula, and full-width and small formula signs.
        '\u00a0', '\u200b', '\u200e', '\ufeff', '\u2060', '\u3000', '＝', '＋', '－', '＠', '﹦', '﹢', '\ud800',
      ),
      minLength: 1,
      maxLength: 12,
    });
    const cases = fc.sample(fc.record({ name: hostile, note: hostile, targetName: hostile }), { numRuns: 200, seed: 3 });
    cases.forEach((c, i) =>
      activity.log({ id: `exp-${String(i).padStart(4, '0')}`, action: 'recipe.update', actor: { type: 'user', id: 'u1', name: c.name }, target: { type: 'recipe', id: `r${i}`, name: c.targetName }, metadata: { note: c.note } }),
    );
    await activity.flush();
    expect(activity.stats()).toMatchObject({ written: cases.length, invalid: 0 });
    const handler = createActivityLogsHandler(activity, { authorize: () => true });
    const byId = new Map(cases.map((c, i) => [`exp-${String(i).padStart(4, '0')}`, c]));

    // What is stored is the text rule's form of what was logged (NUL and lone surrogates as U+FFFD).
    const stored = (text: string) => storableText(text);
    // Each export is itself audited (action activity.export) in the same log, and may be stored
    // before the next export reads: the exports ask for the logged records only.
    const ndjson = await readAll(await handler(new Request('http://x/export?format=ndjson&action=recipe.update')));
    const lines = ndjson.split('\n').filter(Boolean);
    expect(lines).toHaveLength(cases.length);
    for (const line of lines) {
      const record = JSON.parse(line) as ActivityRecord;
      const original = byId.get(record.id)!;
      expect([record.actor?.name, record.target?.name, record.metadata?.note]).toEqual([stored(original.name), stored(original.targetName), stored(original.note)]);
      // NDJSON is the record's JSON, byte for byte: no formula guard there.
      expect(line).toBe(JSON.stringify(await activity.get(record.id)));
    }

    await activity.flush(); // the NDJSON export's own record is stored now, and must not be in the CSV
    const rows = parseCsv(await readAll(await handler(new Request('http://x/export?format=csv&action=recipe.update'))));
    expect(rows[0]).toEqual([...EXPORT_CSV_COLUMNS]);
    expect(rows).toHaveLength(cases.length + 1);
    const column = (name: (typeof EXPORT_CSV_COLUMNS)[number]) => EXPORT_CSV_COLUMNS.indexOf(name);
    for (const row of rows.slice(1)) {
      expect(row).toHaveLength(EXPORT_CSV_COLUMNS.length);
      // No cell opens a formula: after whatever blank or invisible characters a spreadsheet
      // skips, a formula character is always behind an apostrophe.
      for (const cell of row) expect(cell).not.toMatch(/^[\s\p{Cf}]*[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20\uFE66\uFE62\uFE63\uFE6B]/u);
      const original = byId.get(row[column('id')]!)!;
      expect(shownText(row[column('actorName')]!)).toBe(stored(original.name));
      expect(shownText(row[column('targetName')]!)).toBe(stored(original.targetName));
      expect((JSON.parse(shownText(row[column('metadata')]!)) as { note: string }).note).toBe(stored(original.note));
    }
    await activity.close();
  });
});
