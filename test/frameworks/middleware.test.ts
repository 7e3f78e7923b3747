import { afterEach, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityLogError } from '../../src/errors.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { FRAMEWORKS, startApp, type AppOptions, type RunningApp } from './apps.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

for (const framework of FRAMEWORKS) {
  describe(`${framework} middleware`, () => {
    let running: RunningApp[] = [];
    let store: MemoryStore;
    let logger: ActivityLogger<any>;
    let reported: ActivityLogError[];

    afterEach(async () => {
      await Promise.all(running.map((app) => app.close()));
      running = [];
      await logger?.close();
    });

    async function start(options: Omit<AppOptions, 'logger'> = {}, withLogger = true): Promise<RunningApp> {
      store = memoryStore();
      reported = [];
      logger = createActivityLogger({ store, onError: (error) => reported.push(error), flushIntervalMs: 5 });
      const app = await startApp(framework, withLogger ? { ...options, logger } : options);
      running.push(app);
      return app;
    }

    async function records() {
      await logger.flush();
      return store.all();
    }

    it('binds the actor, request context and route template to req.activity', async () => {
      const app = await start({ actor: 'sync' });
      const response = await fetch(`${app.url}/recipes/17`, {
        headers: { 'x-user': 'u_1', 'user-agent': 'test-agent/1.0', 'x-request-id': 'req-abc_1' },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toBe('req-abc_1');
      const [record] = await records();
      expect(record).toMatchObject({
        action: 'recipe.view',
        status: 'success',
        actor: { type: 'user', id: 'u_1' },
        target: { type: 'recipe', id: '17' },
        context: { requestId: 'req-abc_1', method: 'GET', route: '/recipes/:id', userAgent: 'test-agent/1.0', ip: '127.0.0.1' },
      });
    });

    it('generates a request id when none is sent or the one sent is malformed, and echoes it', async () => {
      const app = await start();
      const plain = await fetch(`${app.url}/recipes/1`);
      const generated = plain.headers.get('x-request-id');
      expect(generated).toMatch(UUIDV7);
      for (const bad of ['has spaces in it', 'x'.repeat(129), 'semi;colon', '']) {
        const response = await fetch(`${app.url}/recipes/2`, { headers: { 'x-request-id': bad } });
        const echoed = response.headers.get('x-request-id');
        expect(echoed).toMatch(UUIDV7);
        expect(echoed).not.toBe(generated);
      }
      const stored = await records();
      expect(stored.map((r) => r.context?.requestId).sort()).toEqual(
        stored.map((r) => r.context?.requestId).filter((id) => UUIDV7.test(id ?? '')).sort(),
      );
    });

    it('takes the trace id from a valid W3C traceparent only', async () => {
      const app = await start();
      await fetch(`${app.url}/recipes/1`, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
      await fetch(`${app.url}/recipes/2`, { headers: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' } });
      const byTarget = Object.fromEntries((await records()).map((r) => [r.target?.id, r.context?.traceId]));
      expect(byTarget).toEqual({ '1': '4bf92f3577b34da6a3ce929d0e0e4736', '2': undefined });
    });

    it('caps the user agent at LIMITS.userAgent', async () => {
      const app = await start();
      await fetch(`${app.url}/recipes/1`, { headers: { 'user-agent': 'a'.repeat(2000) } });
      const [record] = await records();
      expect(record!.context!.userAgent).toHaveLength(512);
    });

    it('resolves an async actor once per request', async () => {
      const app = await start({ actor: 'async' });
      await fetch(`${app.url}/recipes/5`, { headers: { 'x-user': 'u_async' } });
      const [record] = await records();
      expect(record!.actor).toEqual({ type: 'user', id: 'u_async' });
    });

    it('records anonymous when actor() returns nothing', async () => {
      const app = await start({ actor: 'sync' });
      await fetch(`${app.url}/recipes/5`);
      const [record] = await records();
      expect(record!.actor).toEqual({ type: 'anonymous' });
    });

    it('contains a throwing actor(): the request succeeds as anonymous and onError gets CALLBACK_FAILED', async () => {
      const app = await start({ actor: 'throws' });
      const response = await fetch(`${app.url}/recipes/5`, { headers: { 'x-user': 'u_1' } });
      expect(response.status).toBe(200);
      const [record] = await records();
      expect(record!.actor).toEqual({ type: 'anonymous' });
      expect(reported.map((e) => e.code)).toEqual(['CALLBACK_FAILED']);
      expect((reported[0]!.cause as Error).message).toBe('actor lookup exploded');
      expect(logger.stats().lastError?.code).toBe('CALLBACK_FAILED');
    });

    it('records 401 and 403 as denied and 5xx as failure, with the route template; successful reads are not recorded', async () => {
      const app = await start({ actor: 'sync' });
      for (const code of [200, 401, 403, 404, 503]) {
        await fetch(`${app.url}/status/${code}`, { headers: { 'x-user': 'u_9' } });
      }
      const stored = (await records()).reverse();
      expect(stored.map((r) => [r.action, r.status, r.metadata?.statusCode])).toEqual([
        ['http.get', 'denied', 401],
        ['http.get', 'denied', 403],
        ['http.get', 'failure', 503],
      ]);
      for (const r of stored) expect(r).toMatchObject({ actor: { id: 'u_9' }, context: { route: '/status/:code', method: 'GET' } });
    });

    it('records writes by default as http.<method>', async () => {
      const app = await start();
      await fetch(`${app.url}/recipes`, { method: 'POST' });
      const [record] = await records();
      expect(record).toMatchObject({ action: 'http.post', status: 'success', metadata: { statusCode: 201 }, context: { route: '/recipes' } });
    });

    it('follows the capture configuration per method and route, and maps routes to actions', async () => {
      const app = await start({
        capture: {
          reads: 'all',
          routes: { 'POST /recipes': 'recipe.create', '/status/:code': false, 'GET /recipes/:id': { action: 'recipe.read' } },
        },
      });
      await fetch(`${app.url}/recipes`, { method: 'POST' });
      await fetch(`${app.url}/status/403`);
      await fetch(`${app.url}/status/500`);
      await fetch(`${app.url}/recipes/3`);
      const stored = (await records()).reverse();
      expect(stored.map((r) => [r.action, r.status])).toEqual([
        ['recipe.create', 'success'],
        ['recipe.view', 'success'],
        ['recipe.read', 'success'],
      ]);
    });

    it('turns automatic capture of reads off entirely with reads: "none"', async () => {
      const app = await start({ capture: { reads: 'none' } });
      await fetch(`${app.url}/status/403`);
      await fetch(`${app.url}/status/500`);
      expect(await records()).toEqual([]);
    });

    it('records an unhandled error once as system.error and leaves the response exactly as the framework sends it', async () => {
      const bare = await start({}, false);
      const expected = await fetch(`${bare.url}/boom`);
      const expectedBody = await expected.text();
      const app = await start({ actor: 'sync' });
      const actual = await fetch(`${app.url}/boom`, { headers: { 'x-user': 'u_2' } });
      expect(actual.status).toBe(expected.status);
      expect(await actual.text()).toBe(expectedBody);
      const strip = (headers: Headers) =>
        [...(headers as unknown as Iterable<[string, string]>)].filter(([name]) => !['date', 'x-request-id', 'keep-alive', 'connection'].includes(name));
      expect(strip(actual.headers)).toEqual(strip(expected.headers));
      const stored = await records();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        action: 'system.error',
        status: 'failure',
        actor: { type: 'user', id: 'u_2' },
        error: { name: 'Error', message: 'kaboom', code: 'E_BOOM' },
        context: { route: '/boom', method: 'GET', requestId: actual.headers.get('x-request-id') },
      });
    });

    it('leaves a thrown 4xx to automatic capture instead of recording system.error', async () => {
      const bare = await start({}, false);
      const expected = await fetch(`${bare.url}/teapot-error`);
      const app = await start({ capture: { reads: 'all' } });
      const actual = await fetch(`${app.url}/teapot-error`);
      expect(actual.status).toBe(expected.status);
      expect(await actual.text()).toBe(await expected.text());
      const stored = await records();
      expect(stored.map((r) => [r.action, r.status, r.metadata?.statusCode])).toEqual([['http.get', 'failure', 418]]);
    });

    it('makes the bound logger currentActivity() through nested awaits, with no bleed between 100 interleaved requests', async () => {
      const app = await start({ actor: 'async' });
      const responses = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const response = await fetch(`${app.url}/recipes/${i}?pause=${(i * 7) % 11}`, {
            headers: { 'x-user': `u_${i}`, 'x-request-id': `rid-${i}` },
          });
          return { i, status: response.status, body: (await response.json()) as { bindings: any }, echoed: response.headers.get('x-request-id') };
        }),
      );
      for (const { i, status, body, echoed } of responses) {
        expect(status).toBe(200);
        expect(echoed).toBe(`rid-${i}`);
        expect(body.bindings.actor).toEqual({ type: 'user', id: `u_${i}` });
        expect(body.bindings.context.requestId).toBe(`rid-${i}`);
        expect(body.bindings.context.route).toBe('/recipes/:id');
      }
      const stored = await records();
      expect(stored).toHaveLength(100);
      for (const r of stored) {
        expect(r.actor?.id).toBe(`u_${r.target!.id}`);
        expect(r.context?.requestId).toBe(`rid-${r.target!.id}`);
      }
    });

    it('keeps currentActivity() in handlers that run after the request body is parsed', async () => {
      const app = await start({ actor: 'sync' });
      const responses = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const response = await fetch(`${app.url}/echo`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-user': `u_${i}`, 'x-request-id': `body-${i}` },
            body: JSON.stringify({ i, padding: 'p'.repeat(100_000) }),
          });
          return { i, status: response.status, body: (await response.json()) as { body: { i: number }; bindings: any } };
        }),
      );
      for (const { i, status, body } of responses) {
        expect(status).toBe(200);
        expect(body.body.i).toBe(i);
        expect(body.bindings.context.requestId).toBe(`body-${i}`);
        expect(body.bindings.actor).toEqual({ type: 'user', id: `u_${i}` });
      }
    });

    it('with asyncContext: false, binds the request logger but not currentActivity(), and still records errors', async () => {
      const app = await start({ actor: 'sync', asyncContext: false });
      // The route logs through the request logger, then calls currentActivity(), which has
      // nothing bound now: a NO_ACTIVITY_CONTEXT error the middleware records like any other.
      const response = await fetch(`${app.url}/recipes/5`, { headers: { 'x-user': 'u_5', 'x-request-id': 'no-als-5' } });
      expect(response.status).toBe(500);
      const stored = await records();
      expect(stored.map((r) => r.action).sort()).toEqual(['recipe.view', 'system.error']);
      for (const record of stored) {
        expect(record).toMatchObject({ actor: { type: 'user', id: 'u_5' }, context: { requestId: 'no-als-5', route: '/recipes/:id' } });
      }
      expect(stored.find((r) => r.action === 'system.error')!.error).toMatchObject({ code: 'NO_ACTIVITY_CONTEXT' });
    });

    it('refuses a non-boolean asyncContext at start-up', async () => {
      await expect(start({ asyncContext: 'yes' as unknown as boolean })).rejects.toMatchObject({
        code: 'INVALID_OPTIONS',
        message: expect.stringContaining('asyncContext must be true or false, got "yes"'),
      });
    });

    it('does not record an unknown route read (404) by default', async () => {
      const app = await start();
      const response = await fetch(`${app.url}/nowhere`);
      expect(response.status).toBe(404);
      expect(response.headers.get('x-request-id')).toMatch(UUIDV7);
      expect(await records()).toEqual([]);
    });
  });
}
