import { describe, expect, it } from 'vitest';
import { createActivityLogger } from '../../src/logger.js';
import type { ActivityLogError } from '../../src/errors.js';
import { createActivityLogsHandler, csvCell } from '../../src/http/logs-handler.js';
import { memoryStore } from '../../adapters/storage/memory.js';

describe('csvCell', () => {
  it('prefixes cells that a spreadsheet would run as a formula', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('\rx')).toBe(`"'\rx"`);
    // Spreadsheets hide one leading apostrophe, so a text that starts with one keeps it.
    expect(csvCell("'=1")).toBe("''=1");
  });

  it('looks past leading blanks and invisible characters, and knows the full-width and small formula signs', () => {
    for (const text of [' =1+1', ' =1+1', '​=1+1', '﻿=1+1', '⁠@x', '‎+1', '　-1', '  	=1', '＝1+1', '＋1', '－1', '＠SUM(A1)', '﹦1', '﹢1', ' ＝1']) {
      expect(csvCell(text), JSON.stringify(text)).toBe(`'${text}`);
    }
    expect(csvCell(' plain')).toBe(' plain');
    expect(csvCell('a=1')).toBe('a=1');
  });

  it('quotes commas, quotes and line breaks, and leaves plain text alone', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell({ a: 1 })).toBe('"{""a"":1}"');
  });
});

describe('createActivityLogsHandler', () => {
  const setup = (options: Partial<Parameters<typeof createActivityLogsHandler>[1]> = {}, failQuery = false) => {
    const store = memoryStore();
    const reported: ActivityLogError[] = [];
    const logger = createActivityLogger({
      store: failQuery
        ? { ...store, name: 'memory', capabilities: store.capabilities, query: async () => { throw new Error('disk on fire'); } }
        : store,
      onError: (error) => reported.push(error),
    });
    const handler = createActivityLogsHandler(logger, { authorize: () => true, ...options });
    return { store, logger, handler, reported };
  };

  it('refuses to build without authorize', () => {
    const logger = createActivityLogger({ store: memoryStore() });
    expect(() => createActivityLogsHandler(logger, {} as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    expect(() => createActivityLogsHandler(logger, { authorize: 'yes' } as never)).toThrow(/authorize/);
  });

  it('routes below basePath and answers 404 elsewhere', async () => {
    const { handler } = setup({ basePath: '/admin/logs' });
    expect((await handler(new Request('http://x/admin/logs'))).status).toBe(200);
    expect((await handler(new Request('http://x/admin/logs/'))).status).toBe(200);
    expect((await handler(new Request('http://x/admin/logs/a/b'))).status).toBe(404);
  });

  it('names what is wrong with a limit that is a number but not a page size', async () => {
    // Found by the acceptance review of #18: -1 and 1.5 were answered "must be a number".
    const { handler } = setup();
    for (const [path, problem] of [
      ['?limit=-1', 'must be at least 1'],
      ['?limit=1.5', 'must be a whole number'],
      ['?limit=501', 'must be at most 500'],
      ['?limit=ten', 'must be a number, got "ten"'],
      ['/history?targetType=recipe&targetId=r1&limit=-5', 'must be at least 1'],
    ] as const) {
      const response = await handler(new Request(`http://x${path}`));
      expect(response.status, path).toBe(400);
      expect((await response.json()).parameters, path).toEqual([{ name: 'limit', problem }]);
    }
    expect((await handler(new Request('http://x?limit=2'))).status).toBe(200);
  });

  it('is read-only: other methods get 405', async () => {
    const { handler } = setup();
    const response = await handler(new Request('http://x/', { method: 'DELETE' }));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('treats a throwing authorize() as a refusal and reports it', async () => {
    const { handler, reported, logger, store } = setup({
      authorize: () => {
        throw new Error('auth service down');
      },
    });
    expect((await handler(new Request('http://x/'))).status).toBe(403);
    expect(reported.map((e) => e.code)).toEqual(['CALLBACK_FAILED']);
    await logger.flush();
    expect(store.all().map((r) => [r.action, r.status])).toEqual([['activity.query', 'denied']]);
  });

  it('awaits an async authorize()', async () => {
    const { handler } = setup({ authorize: async (req) => (await Promise.resolve((req as Request).headers.get('x-ok'))) === '1' });
    expect((await handler(new Request('http://x/'))).status).toBe(403);
    expect((await handler(new Request('http://x/', { headers: { 'x-ok': '1' } }))).status).toBe(200);
  });

  it('refuses a caller without a tenant when tenant() is configured', async () => {
    const { handler } = setup({ tenant: () => undefined });
    expect((await handler(new Request('http://x/'))).status).toBe(403);
  });

  it('answers 500 and reports when the store fails', async () => {
    const { handler, reported } = setup({}, true);
    const response = await handler(new Request('http://x/'));
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: 'store_failed' });
    expect(reported.some((e) => e.code === 'STORE_FAILED' && (e.cause as Error).message === 'disk on fire')).toBe(true);
  });

  it('answers HEAD of an export with headers only', async () => {
    const { handler } = setup();
    const response = await handler(new Request('http://x/export?format=csv', { method: 'HEAD' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/csv');
    expect(response.body).toBeNull();
  });
});
