import { createServer } from 'node:http';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import * as expressShim from '../../adapters/frameworks/express.js';
import * as fastifyShim from '../../adapters/frameworks/fastify.js';
import * as honoShim from '../../adapters/frameworks/hono.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { closedAfterEach, listenFastify, listenNode, serveHono } from './servers.js';

/**
 * An error raised before any route matched (an app-level session middleware whose store is
 * down, a request on a path no route serves) is recorded as `system.error` with no route
 * template: like a refusal before routing, its record says where by the URL path, without
 * the query string and redacted like any value. Without it the record said what failed and
 * never where.
 */
const closers = closedAfterEach();

const failing: Record<'express' | 'fastify' | 'hono', (logger: ActivityLogger) => Promise<string>> = {
  async express(logger) {
    const app = express();
    app.use(expressShim.activityMiddleware(logger));
    app.use((_req, _res, next) => next(new Error('session store down')));
    app.get('/private/:id', (_req, res) => void res.json({ ok: true }));
    app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({ error: 'internal' }));
    return listenNode(createServer(app), closers);
  },
  async fastify(logger) {
    const app: FastifyInstance = Fastify({ logger: false });
    await app.register(fastifyShim.activityPlugin, { logger });
    app.addHook('onRequest', async () => {
      throw new Error('session store down');
    });
    app.get('/private/:id', async () => ({ ok: true }));
    app.setErrorHandler((_error, _request, reply) => reply.code(500).send({ error: 'internal' }));
    return listenFastify(app, closers);
  },
  async hono(logger) {
    const app = new Hono();
    app.use(honoShim.activityMiddleware(logger));
    app.use(async () => {
      throw new Error('session store down');
    });
    app.get('/private/:id', (c) => c.json({ ok: true }));
    app.onError((_error, c) => c.json({ error: 'internal' }, 500));
    return serveHono(app.fetch, closers);
  },
};

describe.each(Object.keys(failing) as (keyof typeof failing)[])('%s: an error before any route matched', (framework) => {
  it('is recorded as system.error with the URL path, without its query string, redacted', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    closers.push(() => logger.close());
    const url = await failing[framework](logger);
    // No route serves these paths on any framework: no template can say where.
    const first = await fetch(`${url}/nowhere/42?token=abc&page=2`);
    const second = await fetch(`${url}/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXZhbHVl`);
    expect([first.status, second.status]).toEqual([500, 500]);
    await logger.flush();
    const records = store.all().reverse();
    expect(records.map((record) => [record.action, record.status, record.context?.route, record.error?.message])).toEqual([
      ['system.error', 'failure', undefined, 'session store down'],
      ['system.error', 'failure', undefined, 'session store down'],
    ]);
    expect(records.map((record) => record.context?.requestId)).toEqual([first.headers.get('x-request-id'), second.headers.get('x-request-id')]);
    expect(records[0]!.metadata).toEqual({ path: '/nowhere/42' });
    expect(String(records[1]!.metadata?.path)).toMatch(/^\/reset\//);
    expect(String(records[1]!.metadata?.path)).not.toContain('eyJzdWIiOiI0MiJ9');
  });

  it('records no path for an error on a route: its template says where', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    closers.push(() => logger.close());
    const url = await failing[framework](logger);
    expect((await fetch(`${url}/private/7`)).status).toBe(500);
    await logger.flush();
    const [record] = store.all();
    expect(record).toMatchObject({ action: 'system.error', error: { message: 'session store down' } });
    // fastify routes before its onRequest hooks; express and hono failed before routing.
    if (framework === 'fastify') {
      expect(record!.context?.route).toBe('/private/:id');
      expect(record!.metadata).toBeUndefined();
    } else {
      expect(record!.context?.route).toBeUndefined();
      expect(record!.metadata).toEqual({ path: '/private/7' });
    }
  });
});
