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
 * `authorize` lets a caller in with `true` only: anything else, a truthy value included, is a
 * 403 recorded as `denied` (README, The admin logs API). A JavaScript app's
 * `authorize: (req) => req.user` or `(req) => req.user && req.user.role` returns the user or
 * their role, truthy for every signed-in user: read as "yes", it served the whole log to all
 * of them.
 */
const closers = closedAfterEach();

/** What `authorize` returns, by the request's `x-grant` header. */
const GRANTS: Record<string, unknown> = {
  true: true,
  false: false,
  role: 'viewer',
  user: { id: 42, role: 'viewer' },
  one: 1,
  asyncTrue: Promise.resolve(true),
  asyncRole: Promise.resolve('viewer'),
};
const grant = (header: unknown) => GRANTS[String(header)];

const mounts: Record<'express' | 'fastify' | 'hono', (logger: ActivityLogger) => Promise<string>> = {
  async express(logger) {
    const app = express();
    app.use(expressShim.activityMiddleware(logger));
    app.use('/admin/logs', expressShim.activityLogsRouter(logger, { authorize: ((req: express.Request) => grant(req.get('x-grant'))) as never }));
    return listenNode(createServer(app), closers);
  },
  async fastify(logger) {
    const app: FastifyInstance = Fastify({ logger: false });
    await app.register(fastifyShim.activityPlugin, { logger });
    await app.register(fastifyShim.activityLogsPlugin, { prefix: '/admin/logs', logger, authorize: ((request: { headers: Record<string, unknown> }) => grant(request.headers['x-grant'])) as never });
    return listenFastify(app, closers);
  },
  async hono(logger) {
    const app = new Hono();
    app.use(honoShim.activityMiddleware(logger));
    app.route('/admin/logs', honoShim.activityLogsApp(logger, { authorize: ((c: { req: { header(name: string): string | undefined } }) => grant(c.req.header('x-grant'))) as never }));
    return serveHono(app.fetch, closers);
  },
};

describe.each(Object.keys(mounts) as (keyof typeof mounts)[])('%s: the admin API with an authorize() that returns something else than a boolean', (framework) => {
  it('lets in true only, and answers anything else, truthy or not, with a 403 recorded as denied', async () => {
    const store = memoryStore();
    const reported: string[] = [];
    const logger = createActivityLogger({ store, onError: (error) => reported.push(`${error.code}: ${error.message}`) });
    closers.push(() => logger.close());
    const url = await mounts[framework](logger);
    const statuses: Record<string, number> = {};
    for (const name of Object.keys(GRANTS)) {
      const response = await fetch(`${url}/admin/logs`, { headers: { 'x-grant': name, accept: 'application/json' } });
      statuses[name] = response.status;
      if (response.status === 403) expect(await response.json()).toMatchObject({ error: 'forbidden' });
      else await response.arrayBuffer();
    }
    expect(statuses).toEqual({ true: 200, false: 403, role: 403, user: 403, one: 403, asyncTrue: 200, asyncRole: 403 });
    await logger.flush();
    const reads = store.all().filter((record) => record.action === 'activity.query');
    expect(reads.filter((record) => record.status === 'denied')).toHaveLength(5);
    expect(reads.filter((record) => record.status === 'success')).toHaveLength(2);
    // The truthy ones are reported by their type, never their value (it may be a credential).
    expect(reported.sort()).toEqual([
      'CALLBACK_FAILED: activity logs API: authorize() must return true or false, got a truthy number; the request was refused',
      'CALLBACK_FAILED: activity logs API: authorize() must return true or false, got a truthy object; the request was refused',
      'CALLBACK_FAILED: activity logs API: authorize() must return true or false, got a truthy string; the request was refused',
      'CALLBACK_FAILED: activity logs API: authorize() must return true or false, got a truthy string; the request was refused',
    ]);
  });
});
