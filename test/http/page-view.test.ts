import { afterEach, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { createActivityLogsHandler } from '../../src/http/logs-handler.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import type { ActivityStore } from '../../src/store.js';

/**
 * The admin API as the viewer reads it: one record per page view, time buckets in a zone
 * (`tz`, validated), and the request, trace, free-text and excluded-action filters.
 */
describe('the admin API for the viewer', () => {
  let logger: ActivityLogger<any>;

  async function setup(store: ActivityStore = memoryStore()) {
    logger = createActivityLogger({ store, onError: () => undefined });
    // 2026-01-01 18:29 and 18:31 UTC: two days in Asia/Kolkata (+05:30), one in UTC.
    logger.log({ action: 'recipe.create', occurredAt: new Date('2026-01-01T18:29:00Z'), target: { type: 'recipe', id: 'r_1', name: 'Pasta al forno' }, context: { requestId: 'req-1', traceId: 'trace-9' } });
    logger.log({ action: 'http.request', occurredAt: new Date('2026-01-01T18:29:00.500Z'), context: { requestId: 'req-1', route: '/recipes', method: 'POST' }, metadata: { statusCode: 201 } });
    logger.log({ action: 'recipe.update', occurredAt: new Date('2026-01-01T18:31:00Z'), target: { type: 'recipe', id: 'r_2', name: 'Dal' }, context: { requestId: 'req-2' } });
    await logger.flush();
    const handler = createActivityLogsHandler(logger, { authorize: () => true });
    const get = async (path: string) => {
      const response = await handler(new Request(`http://x${path}`, { headers: { accept: 'application/json' } }));
      return { status: response.status, body: await response.json() };
    };
    const ownReads = async () => {
      await logger.flush();
      return (await logger.query({ action: 'activity.*', limit: 100 })).items.map((r) => [r.action, r.metadata?.view]);
    };
    return { get, ownReads };
  }

  afterEach(async () => {
    await logger?.close();
  });

  it('answers a page view (summary=…) with the page and its chart, recorded as one activity.view', async () => {
    const { get, ownReads } = await setup();
    const { status, body } = await get('/?summary=auto&excludeAction=activity.*');
    expect(status).toBe(200);
    expect(body.items).toHaveLength(3);
    // An open range holding one day: the chart is hourly.
    expect(body.summary).toEqual({
      by: 'hour',
      tz: 'UTC',
      buckets: [{ key: '2026-01-01T18:00:00.000Z', count: 3, byStatus: { success: 3 } }],
    });
    expect(await ownReads()).toEqual([['activity.view', 'page']]);
    // Paging with summary=none: still one record, and no chart.
    const next = await get('/?summary=none&limit=1');
    expect(next.body.summary).toBeUndefined();
    expect(await ownReads()).toEqual([
      ['activity.view', 'page'],
      ['activity.view', 'page'],
    ]);
    // A plain list read is an activity.query, as before.
    await get('/?limit=1');
    expect((await ownReads())[0]).toEqual(['activity.query', 'list']);
  });

  it('buckets days and hours in the zone given as tz, half-hour zones included', async () => {
    const { get } = await setup();
    const zoned = await get('/summary?by=day&tz=Asia/Kolkata&action=recipe.*');
    expect(zoned.body).toEqual({
      by: 'day',
      // Echoed in its canonical spelling: ICU's, which may be the older Asia/Calcutta.
      tz: new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Kolkata' }).resolvedOptions().timeZone,
      buckets: [
        { key: '2026-01-01', count: 1, byStatus: { success: 1 } },
        { key: '2026-01-02', count: 1, byStatus: { success: 1 } },
      ],
    });
    const hours = await get('/?summary=hour&tz=Asia/Kolkata&action=recipe.*');
    expect(hours.body.summary.buckets.map((b: { key: string }) => b.key)).toEqual(['2026-01-01T17:30:00.000Z', '2026-01-01T18:30:00.000Z']);
    expect((await get('/summary?by=day&action=recipe.*')).body.buckets).toEqual([{ key: '2026-01-01', count: 2, byStatus: { success: 2 } }]);
  });

  it('refuses a tz that is no IANA zone with a 400 naming tz', async () => {
    const { get } = await setup();
    for (const path of ['/summary?by=day&tz=Mars/Olympus', '/?tz=%2B05:30', '/summary?by=hour&tz=']) {
      const { status, body } = await get(path);
      expect(status).toBe(400);
      expect(body.parameters).toEqual([{ name: 'tz', problem: expect.stringContaining('must be an IANA time zone') }]);
    }
    const alone = await get('/?tz=UTC');
    expect(alone.status).toBe(400);
    expect(alone.body.parameters).toEqual([{ name: 'tz', problem: expect.stringContaining('give it with "summary"') }]);
    const badSummary = await get('/?summary=week');
    expect(badSummary.body.parameters).toEqual([{ name: 'summary', problem: 'must be one of auto, hour, day, none, got "week"' }]);
  });

  it('filters by requestId, traceId, free text and an excluded action, and names a bad one', async () => {
    const { get } = await setup();
    const actions = async (query: string) => (await get(`/?${query}`)).body.items.map((r: { action: string }) => r.action);
    expect(await actions('requestId=req-1')).toEqual(['http.request', 'recipe.create']);
    expect(await actions('traceId=trace-9')).toEqual(['recipe.create']);
    expect(await actions('search=PASTA')).toEqual(['recipe.create']);
    expect(await actions('search=recipe.&excludeAction=recipe.update')).toEqual(['recipe.create']);
    expect(await actions('excludeAction=activity.*&action=http.*')).toEqual(['http.request']);
    const bad = await get(`/?search=${'x'.repeat(201)}&excludeAction=Activity`);
    expect(bad.status).toBe(400);
    expect(bad.body.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['excludeAction', 'search']);
  });

  it('keeps refused reads of the log in the list when only its successful own reads are left out (the viewer\'s toggle)', async () => {
    const { get } = await setup();
    const refusing = createActivityLogsHandler(logger, { authorize: () => false });
    expect((await refusing(new Request('http://x/?limit=1', { headers: { accept: 'application/json' } }))).status).toBe(403);
    await get('/?limit=1'); // a successful read: activity.query, success
    await logger.flush();
    const listed = async (query: string) => (await get(`/?${query}`)).body.items.map((r: { action: string; status: string }) => `${r.action} ${r.status}`);
    // What the viewer sends with "Hide the log's own reads" on.
    expect(await listed('excludeAction=activity.*&excludeActionStatus=success')).toEqual(['activity.query denied', 'recipe.update success', 'http.request success', 'recipe.create success']);
    expect(await listed('excludeAction=activity.*')).toEqual(['recipe.update success', 'http.request success', 'recipe.create success']);
    const bad = await get('/?excludeActionStatus=success');
    expect(bad.status).toBe(400);
    expect(bad.body.parameters).toEqual([{ name: 'excludeActionStatus', problem: expect.stringContaining('needs "excludeAction"') }]);
  });

  it('echoes the canonical name of a zone, whatever its case', async () => {
    const { get } = await setup();
    const canonical = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Kolkata' }).resolvedOptions().timeZone;
    expect((await get('/summary?by=day&tz=ASIA/KOLKATA')).body.tz).toBe(canonical);
    expect((await get('/?summary=day&tz=asia/kolkata')).body.summary.tz).toBe(canonical);
    expect((await get('/summary?by=day&tz=utc')).body.tz).toBe('UTC');
  });

  it('still shows the page of a page view whose zone the server does not know, with the chart in UTC and a note', async () => {
    const { get } = await setup();
    const { status, body } = await get('/?summary=day&tz=Mars/Olympus&action=recipe.*');
    expect(status).toBe(200);
    expect(body.items).toHaveLength(2);
    expect(body.summary).toEqual({
      by: 'day',
      tz: 'UTC',
      buckets: [{ key: '2026-01-01', count: 2, byStatus: { success: 2 } }],
      note: 'the time zone "Mars/Olympus" is unknown to the server: the chart is in UTC',
    });
  });

  it('charts in UTC, saying why, when the store has summaries but not in a zone', async () => {
    const plain = memoryStore();
    const { get } = await setup({ ...plain, name: 'plain', capabilities: { searchFilters: true } });
    const { body } = await get('/?summary=day&tz=Asia/Kolkata&action=recipe.*');
    expect(body.summary).toEqual({
      by: 'day',
      tz: 'UTC',
      buckets: [{ key: '2026-01-01', count: 2, byStatus: { success: 2 } }],
      note: 'store "plain" cannot summarize in a time zone: the chart is in UTC',
    });
  });

  it('through the logger: refuses a bad tz naming it, and the new filters on a store without them with UNSUPPORTED', async () => {
    await setup();
    await expect(logger.summarize({ by: 'day', tz: 'Mars/Olympus' })).rejects.toMatchObject({ code: 'INVALID_QUERY', message: expect.stringContaining('tz: must be an IANA time zone') });
    await expect(logger.query({ search: '' })).rejects.toMatchObject({ code: 'INVALID_QUERY', message: expect.stringContaining('search: must not be empty') });
    await logger.close();
    const plain = memoryStore();
    logger = createActivityLogger({ store: { ...plain, name: 'plain', capabilities: {} }, onError: () => undefined });
    await expect(logger.query({ search: 'pasta', requestId: 'r' })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: 'store "plain" does not implement the requestId, search filters' });
    await expect(logger.summarize({ by: 'day', tz: 'Asia/Kolkata' })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('time zone') });
    // UTC under any of its names needs nothing of the store.
    expect(await logger.summarize({ by: 'day', tz: 'Etc/UTC' })).toEqual([]);
  });

  it('answers 501, naming the filter, when the store cannot search', async () => {
    const plain = memoryStore();
    const { get } = await setup({ ...plain, name: 'plain', capabilities: { metadataFilter: true } });
    const { status, body } = await get('/?requestId=req-1');
    expect(status).toBe(501);
    expect(body.message).toContain('requestId');
  });
});
