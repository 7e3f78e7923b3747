import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { activityMiddleware } from '../../adapters/frameworks/hono.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';

/**
 * The hono middleware outside @hono/node-server: `app.request()` hands it a plain fetch
 * `Request` with no Node response in `c.env`, as Deno, Bun and edge runtimes do. (On Node the
 * middleware writes the request id onto Node's response; that path is covered over real HTTP
 * in middleware.test.ts.)
 */
describe('hono middleware without a Node response', () => {
  let logger: ActivityLogger<any>;
  afterEach(() => logger?.close());

  function app(): { app: Hono; store: ReturnType<typeof memoryStore> } {
    const store = memoryStore();
    logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
    const hono = new Hono();
    hono.use(activityMiddleware(logger, { trustProxy: true }));
    hono.get('/recipes/:id', (c) => {
      c.get('activity').log({ action: 'recipe.view', target: { type: 'recipe', id: c.req.param('id') } });
      return c.json({ id: c.req.param('id') });
    });
    hono.get('/own-id', (c) => {
      c.header('x-request-id', 'set-by-handler');
      return c.text('ok');
    });
    return { app: hono, store };
  }

  it('echoes the request id through hono and binds the request context', async () => {
    const { app: hono, store } = app();
    const response = await hono.request('/recipes/7', { headers: { 'x-request-id': 'edge-1', 'x-forwarded-for': '203.0.113.9', 'user-agent': 'edge/1' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('edge-1');
    await logger.flush();
    const [record] = store.all();
    expect(record).toMatchObject({
      action: 'recipe.view',
      actor: { type: 'anonymous' },
      context: { requestId: 'edge-1', method: 'GET', route: '/recipes/:id', ip: '203.0.113.9', userAgent: 'edge/1' },
    });
  });

  it('records an error thrown synchronously by next() (a composer other than hono\'s own)', async () => {
    const store = memoryStore();
    logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
    const middleware = activityMiddleware(logger);
    const hono = new Hono();
    let thrown: unknown;
    hono.get('/compose', (c) => {
      // A real hono Context, handed to the middleware by hand with a next() that throws at once.
      try {
        void middleware(c, () => {
          throw new Error('sync next');
        });
      } catch (error) {
        thrown = error;
      }
      return c.text('done');
    });
    expect((await hono.request('/compose')).status).toBe(200);
    expect(thrown).toMatchObject({ message: 'sync next' });
    await logger.flush();
    expect(store.all().map((record) => [record.action, record.status, record.error?.message])).toEqual([['system.error', 'failure', 'sync next']]);
  });

  it("lets a handler's own request id header stand", async () => {
    const { app: hono } = app();
    const response = await hono.request('/own-id', { headers: { 'x-request-id': 'from-client' } });
    expect(response.headers.get('x-request-id')).toBe('set-by-handler');
  });
});
