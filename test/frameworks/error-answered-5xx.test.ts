import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { activityMiddleware as expressMiddleware } from '../../adapters/frameworks/express.js';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { activityMiddleware as honoMiddleware } from '../../adapters/frameworks/hono.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';
import { closedAfterEach, listenFastify, listenNode, serveHono } from './servers.js';

/**
 * An error can carry a 4xx status (an upstream client's 404, http-errors) and still be answered
 * with a 500 by the app's own error handler: what the app answered decides, so the request is
 * recorded as `system.error` with the error's details, once, on every framework.
 */
const closers = closedAfterEach();
const upstreamNotFound = () => Object.assign(new Error('upstream said not found'), { status: 404, statusCode: 404 });

function logger() {
  const store = memoryStore();
  const activity = createActivityLogger({ store });
  closers.push(() => activity.close());
  return { activity, store };
}

const servers = {
  express: async (activity: ReturnType<typeof logger>['activity']) => {
    const app = express();
    app.use(expressMiddleware(activity));
    app.get('/orders/:id', () => {
      throw upstreamNotFound();
    });
    app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => void res.status(500).json({ error: 'internal' }));
    return listenNode(app.listen(0, '127.0.0.1'), closers);
  },
  fastify: async (activity: ReturnType<typeof logger>['activity']) => {
    const app = Fastify();
    await app.register(activityPlugin, { logger: activity });
    app.get('/orders/:id', async () => {
      throw upstreamNotFound();
    });
    app.setErrorHandler((_error, _request, reply) => void reply.code(500).send({ error: 'internal' }));
    return listenFastify(app, closers);
  },
  hono: async (activity: ReturnType<typeof logger>['activity']) => {
    const app = new Hono();
    app.use(honoMiddleware(activity));
    app.get('/orders/:id', () => {
      throw upstreamNotFound();
    });
    app.onError((_error, c) => c.json({ error: 'internal' }, 500));
    return serveHono(app.fetch, closers);
  },
};

describe('an error with a 4xx status that the app answers with a 5xx', () => {
  it.each(Object.keys(servers) as (keyof typeof servers)[])('is recorded as system.error with its details (%s)', async (framework) => {
    const { activity, store } = logger();
    const url = await servers[framework](activity);
    expect((await fetch(`${url}/orders/7`)).status).toBe(500);
    await expect.poll(async () => {
      await activity.flush();
      return store.all().length;
    }).toBe(1);
    const [record] = store.all();
    expect(record).toMatchObject({ action: 'system.error', status: 'failure', error: { message: 'upstream said not found' }, context: { route: '/orders/:id' } });
  });
});
