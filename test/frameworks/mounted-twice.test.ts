import { createServer, request as httpRequest } from 'node:http';
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
 * The middleware on an app and again on a sub-app (or a child context): one request is one
 * scope, recorded once under one request id, the one the response echoes.
 */
const closers = closedAfterEach();

const apps: Record<'express' | 'fastify' | 'hono', (logger: ActivityLogger) => Promise<string>> = {
  async express(logger) {
    const sub = express();
    sub.use(expressShim.activityMiddleware(logger));
    sub.post('/recipes', (req, res) => {
      req.activity.log({ action: 'recipe.create' });
      res.status(201).json({ ok: true });
    });
    const app = express();
    app.use(expressShim.activityMiddleware(logger));
    app.use('/api', sub);
    return listenNode(createServer(app), closers);
  },
  async fastify(logger) {
    const app: FastifyInstance = Fastify({ logger: false });
    await app.register(fastifyShim.activityPlugin, { logger });
    await app.register(
      async (child) => {
        await child.register(fastifyShim.activityPlugin, { logger });
        child.post('/recipes', async (request, reply) => {
          request.activity.log({ action: 'recipe.create' });
          return reply.code(201).send({ ok: true });
        });
      },
      { prefix: '/api' },
    );
    return listenFastify(app, closers);
  },
  async hono(logger) {
    const sub = new Hono();
    sub.use(honoShim.activityMiddleware(logger));
    sub.post('/recipes', (c) => {
      c.get('activity').log({ action: 'recipe.create' });
      return c.json({ ok: true }, 201);
    });
    const app = new Hono();
    app.use(honoShim.activityMiddleware(logger));
    app.route('/api', sub);
    return serveHono(app.fetch, closers);
  },
};

describe.each(Object.keys(apps) as (keyof typeof apps)[])('%s: the middleware mounted on an app and on its sub-app', (framework) => {
  it('records the request once, under the one request id the response echoes', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    closers.push(() => logger.close());
    const url = await apps[framework](logger);
    const response = await fetch(`${url}/api/recipes`, { method: 'POST' });
    expect(response.status).toBe(201);
    await logger.flush();
    const records = store.all();
    expect(records.map((record) => record.action).sort()).toEqual(['http.post', 'recipe.create']);
    const ids = new Set(records.map((record) => record.context?.requestId));
    expect(ids.size).toBe(1);
    expect(response.headers.get('x-request-id')).toBe([...ids][0]);
  });
});

/**
 * An app-level refusal before routing (an auth middleware answering 401) has no route
 * template: the record says where by the URL path, without the query string.
 */
const refusing: Record<'express' | 'fastify' | 'hono', (logger: ActivityLogger) => Promise<string>> = {
  async express(logger) {
    const app = express();
    app.use(expressShim.activityMiddleware(logger));
    app.use((_req, res) => void res.status(401).json({ error: 'sign in' }));
    app.get('/private/:id', (_req, res) => void res.json({ ok: true }));
    return listenNode(createServer(app), closers);
  },
  async fastify(logger) {
    const app: FastifyInstance = Fastify({ logger: false });
    await app.register(fastifyShim.activityPlugin, { logger });
    app.addHook('onRequest', async (_request, reply) => reply.code(401).send({ error: 'sign in' }));
    app.get('/private/:id', async () => ({ ok: true }));
    return listenFastify(app, closers);
  },
  async hono(logger) {
    const app = new Hono();
    app.use(honoShim.activityMiddleware(logger));
    app.use(async (c) => c.json({ error: 'sign in' }, 401));
    app.get('/private/:id', (c) => c.json({ ok: true }));
    return serveHono(app.fetch, closers);
  },
};

describe.each(Object.keys(refusing) as (keyof typeof refusing)[])('%s: a refusal before routing', (framework) => {
  it('records the URL path without the query string, and redacts a credential in it', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    closers.push(() => logger.close());
    const url = await refusing[framework](logger);
    expect((await fetch(`${url}/private/42?token=abc&page=2`)).status).toBe(401);
    expect((await fetch(`${url}/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXZhbHVl`)).status).toBe(401);
    await logger.flush();
    const denied = store.all().reverse();
    // fastify routes before its onRequest hooks: there the route template says where.
    const known = framework === 'fastify' ? '/private/:id' : undefined;
    expect(denied.map((record) => [record.action, record.status, record.context?.route])).toEqual([
      ['http.get', 'denied', known],
      ['http.get', 'denied', undefined],
    ]);
    if (known) expect(denied[0]!.metadata).not.toHaveProperty('path');
    else expect(denied[0]!.metadata).toMatchObject({ statusCode: 401, path: '/private/42' });
    expect(denied[1]!.metadata).toMatchObject({ statusCode: 401 });
    expect(String(denied[1]!.metadata?.path)).toMatch(/^\/reset\//);
    expect(String(denied[1]!.metadata?.path)).not.toContain('eyJzdWIiOiI0MiJ9');
  });

  it('records the path as it was sent, percent-encoded, as every framework does', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    closers.push(() => logger.close());
    const url = await refusing[framework](logger);
    expect((await fetch(`${url}/files/caf%C3%A9/my%20notes%2Fdraft?page=2`)).status).toBe(401);
    await logger.flush();
    expect(store.all().map((record) => record.metadata?.path)).toEqual(['/files/caf%C3%A9/my%20notes%2Fdraft']);
  });

  it('records the path alone of an absolute-form request target, never a host the client named', async () => {
    // Found by the acceptance review of #14: `GET http://admin.internal/private/42` was
    // recorded with the path "http://admin.internal/private/42" on express and fastify.
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    closers.push(() => logger.close());
    const url = await refusing[framework](logger);
    const { port } = new URL(url);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, path: 'http://admin.internal/files/42?token=abc' }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode));
      });
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(401);
    await logger.flush();
    expect(store.all().map((record) => record.metadata?.path)).toEqual(['/files/42']);
  });
});

/** A hono app with the activity middleware first, over a memory store. */
function loggedHono() {
  const store = memoryStore();
  const logger = createActivityLogger({ store });
  closers.push(() => logger.close());
  const app = new Hono();
  app.use(honoShim.activityMiddleware(logger));
  return { store, logger, app };
}

/**
 * hono matches every route up front; the one a request ended at may be a middleware mounted on
 * a pattern (`app.use('/admin/*', auth)`): that pattern is not a route template, and the record
 * says where by the path, as for a middleware mounted on every path.
 */
describe('hono: a middleware mounted on a path pattern', () => {
  it('records a refusal or a 404 after it by the URL path, not by the pattern', async () => {
    const { store, logger, app } = loggedHono();
    app.use('/admin/*', async (c, next) => {
      if (c.req.header('authorization') !== 'yes') return c.json({ error: 'sign in' }, 401);
      await next();
    });
    app.get('/admin/users/:id', (c) => c.json({ ok: true }));
    app.all('/hooks/:name', (c) => c.text('ok'));
    const url = await serveHono(app.fetch, closers);
    const answered = async (path: string, init?: RequestInit) => {
      const response = await fetch(`${url}${path}`, init);
      await response.arrayBuffer();
      return [response.status, response.headers.get('x-request-id')] as const;
    };
    const [refusedStatus, refusedId] = await answered('/admin/users/7?token=abc');
    const [unknownStatus, unknownId] = await answered('/admin/nothing?x=1', { method: 'POST' });
    const [missingStatus, missingId] = await answered('/admin/missing', { method: 'POST', headers: { authorization: 'yes' } });
    const [okStatus, okId] = await answered('/admin/users/8', { headers: { authorization: 'yes' } });
    const [allStatus, allId] = await answered('/hooks/deploy', { method: 'POST' });
    expect([refusedStatus, unknownStatus, missingStatus, okStatus, allStatus]).toEqual([401, 401, 404, 200, 200]);
    await logger.flush();
    const byId = (id: string | null) => store.all().find((record) => record.context?.requestId === id);
    expect(byId(refusedId)).toMatchObject({ status: 'denied', metadata: { statusCode: 401, path: '/admin/users/7' } });
    expect(byId(refusedId)?.context?.route).toBeUndefined();
    expect(byId(unknownId)).toMatchObject({ status: 'denied', metadata: { statusCode: 401, path: '/admin/nothing' } });
    expect(byId(unknownId)?.context?.route).toBeUndefined();
    expect(byId(missingId)).toMatchObject({ status: 'failure', metadata: { statusCode: 404, path: '/admin/missing' } });
    expect(byId(missingId)?.context?.route).toBeUndefined();
    // Routes keep their templates, app.all() included, and record no path.
    expect(byId(okId)).toBeUndefined(); // a read, recorded only when it fails (capture.reads: 'errors')
    expect(byId(allId)).toMatchObject({ context: { route: '/hooks/:name' } });
    expect(byId(allId)?.metadata).not.toHaveProperty('path');
  });
});

describe('hono on a runtime other than Node (app.fetch with a web Request)', () => {
  it('records the path percent-encoded too', async () => {
    const { store, logger, app } = loggedHono();
    app.use(async (c) => c.json({ error: 'sign in' }, 401));
    const response = await app.fetch(new Request('http://example.test/files/caf%C3%A9/my%20notes%2Fdraft?page=2'));
    expect(response.status).toBe(401);
    await logger.flush();
    expect(store.all().map((record) => record.metadata?.path)).toEqual(['/files/caf%C3%A9/my%20notes%2Fdraft']);
  });
});
