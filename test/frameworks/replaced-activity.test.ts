import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { activityMiddleware as expressActivity } from '../../adapters/frameworks/express.js';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { activityMiddleware as honoActivity } from '../../adapters/frameworks/hono.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';

/**
 * Apps that replace the request's logger with one of their own (a child with more bindings),
 * and a hono handler that sets its own request id: the middleware still records errors and
 * automatic events, over real HTTP on 127.0.0.1.
 */
describe('an app that replaces the request logger', () => {
  let logger: ActivityLogger<any>;
  let store: MemoryStore;
  const closers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    await logger?.close();
  });

  function newLogger(): void {
    store = memoryStore();
    logger = createActivityLogger({ store, flushIntervalMs: 5, onError: () => {} });
  }

  async function listen(server: Server): Promise<string> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function actions(): Promise<string[]> {
    await logger.flush();
    return store.all().map((record) => `${record.action}/${record.status}`).sort();
  }

  it.each([true, false])('express (asyncContext: %s): the error is still recorded once, with its details', async (asyncContext) => {
    newLogger();
    const app = express();
    app.set('env', 'production');
    app.use(expressActivity(logger, { asyncContext }));
    app.use((req, _res, next) => {
      req.activity = req.activity.with({ metadata: { plan: 'pro' } });
      next();
    });
    app.get('/boom', () => {
      throw new Error('kaput');
    });
    const url = await listen(createServer(app));
    expect((await fetch(`${url}/boom`)).status).toBe(500);
    expect(await actions()).toEqual(['system.error/failure']);
    expect(store.all()[0]!.error).toMatchObject({ message: 'kaput' });
  });

  it('fastify: errors and automatic events are still recorded', async () => {
    newLogger();
    const app = Fastify({ logger: false });
    await app.register(activityPlugin, { logger, capture: { reads: 'all' } });
    app.addHook('preHandler', async (request) => {
      request.activity = request.activity.with({ metadata: { plan: 'pro' } });
    });
    app.get('/ok', async () => ({ ok: true }));
    app.get('/boom', async () => {
      throw new Error('kaput');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect((await fetch(`${url}/ok`)).status).toBe(200);
    expect((await fetch(`${url}/boom`)).status).toBe(500);
    expect(await actions()).toEqual(['http.get/success', 'system.error/failure']);
  });

  it("hono on @hono/node-server: a handler's own request id header wins", async () => {
    newLogger();
    const app = new Hono();
    app.use(honoActivity(logger));
    app.get('/own-id', (c) => {
      c.header('x-request-id', 'set-by-handler');
      return c.text('ok');
    });
    app.get('/plain', (c) => c.text('ok'));
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    closers.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const own = await fetch(`${url}/own-id`, { headers: { 'x-request-id': 'from-client' } });
    expect(own.headers.get('x-request-id')).toBe('set-by-handler');
    const plain = await fetch(`${url}/plain`, { headers: { 'x-request-id': 'from-client' } });
    expect(plain.headers.get('x-request-id')).toBe('from-client');
  });
});
