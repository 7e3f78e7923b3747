import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { activityMiddleware } from '../../adapters/frameworks/hono.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { PaymentDeclined } from './errors.js';
import { closedAfterEach, listenFastify, serveHono } from './servers.js';

/**
 * An error the app's own error handler answers (fastify's `setErrorHandler`, hono's
 * `app.onError`) keeps its details in the log with no extra line: a 5xx answer is one
 * `system.error` with the error's name, message and code; a 4xx answer is recorded by its
 * status alone. (express has its own suite: express-error-placement.test.ts.) Real servers.
 */
const closers = closedAfterEach();

function start(): { store: MemoryStore; logger: ActivityLogger } {
  const store = memoryStore();
  const logger = createActivityLogger({ store, flushIntervalMs: 5 });
  closers.push(() => logger.close());
  return { store, logger };
}

async function fastifyApp(logger: ActivityLogger): Promise<string> {
  const app: FastifyInstance = Fastify({ logger: false });
  await app.register(activityPlugin, { logger, capture: { reads: 'all' } });
  // The app's own handler answers every error itself, without calling anything of ours.
  app.setErrorHandler(async (error, _request, reply) => {
    const status = (error as Error).name === 'NotFound' ? 404 : 500;
    return reply.code(status).send({ error: status === 404 ? 'not found' : 'something went wrong' });
  });
  app.post('/pay', async () => {
    throw new PaymentDeclined();
  });
  app.get('/missing', async () => {
    throw Object.assign(new Error('no such recipe'), { name: 'NotFound' });
  });
  return listenFastify(app, closers);
}

async function honoApp(logger: ActivityLogger): Promise<string> {
  const app = new Hono();
  app.use(activityMiddleware(logger, { capture: { reads: 'all' } }));
  app.onError((error, c) => (error.name === 'NotFound' ? c.json({ error: 'not found' }, 404) : c.json({ error: 'something went wrong' }, 500)));
  app.post('/pay', () => {
    throw new PaymentDeclined();
  });
  app.get('/missing', () => {
    throw Object.assign(new Error('no such recipe'), { name: 'NotFound' });
  });
  return serveHono(app.fetch, closers);
}

for (const [framework, build] of [
  ['fastify', fastifyApp],
  ['hono', honoApp],
] as const) {
  describe(`${framework}: errors the app's own error handler answers`, () => {
    it('records a 5xx answer once, as system.error with the error details', async () => {
      const { store, logger } = start();
      const url = await build(logger);
      const response = await fetch(`${url}/pay`, { method: 'POST', headers: { 'x-request-id': 'pay-1' } });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'something went wrong' });
      await logger.flush();
      const records = store.all();
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        action: 'system.error',
        status: 'failure',
        error: { name: 'PaymentDeclined', message: 'card declined by the bank', code: 'E_DECLINED' },
        context: { requestId: 'pay-1', method: 'POST', route: '/pay' },
      });
    });

    it('records an error answered as a 404 by its status, not as a failure of the app', async () => {
      const { store, logger } = start();
      const url = await build(logger);
      const response = await fetch(`${url}/missing`);
      expect(response.status).toBe(404);
      await logger.flush();
      // Every read is captured here (reads: 'all'): the 404 is a failed read, with no error details.
      const records = store.all();
      expect(records.map((r) => [r.action, r.status, r.metadata?.statusCode, r.error])).toEqual([['http.get', 'failure', 404, undefined]]);
    });
  });
}
