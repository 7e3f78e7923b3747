import { request as httpRequest, type ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { activityMiddleware as expressMiddleware } from '../../adapters/frameworks/express.js';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { activityMiddleware as honoMiddleware } from '../../adapters/frameworks/hono.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityRecord } from '../../src/schema.js';
import { closedAfterEach, leaveAfterFirstChunk, listenFastify, listenNode, serveHono } from './servers.js';
import { PaymentDeclined } from './errors.js';

/**
 * A client that goes away before the response is complete (a closed tab, a proxy's timeout)
 * must not take the request's record with it: express and fastify end a request on the
 * response's 'finish', which never comes then. Real servers on 127.0.0.1, real sockets
 * destroyed mid-request. The handlers wait until the client has left, then fail or succeed.
 */
const closers = closedAfterEach();

/** Resolves when the response's connection has closed (the client left). */
const clientGone = (res: ServerResponse) => new Promise<void>((resolve) => (res.destroyed ? resolve() : res.once('close', () => resolve())));

type Build = (logger: ActivityLogger) => Promise<string>;

const apps: [string, Build][] = [
  [
    'express',
    async (logger) => {
      const app = express();
      app.use(expressMiddleware(logger));
      app.post('/pay', async (_req, res, next) => {
        await clientGone(res);
        next(new PaymentDeclined());
      });
      app.post('/recipes', async (_req, res) => {
        await clientGone(res);
        res.status(201).json({ id: 'r1' });
      });
      // The app's own error middleware answers, as apps do.
      app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(500).json({ error: 'something went wrong' });
      });
      return listenNode(app.listen(0, '127.0.0.1'), closers);
    },
  ],
  [
    'fastify',
    async (logger) => {
      const app = Fastify({ logger: false });
      await app.register(activityPlugin, { logger });
      app.post('/pay', async (_request, reply) => {
        await clientGone(reply.raw);
        throw new PaymentDeclined();
      });
      app.post('/recipes', async (_request, reply) => {
        await clientGone(reply.raw);
        return reply.code(201).send({ id: 'r1' });
      });
      return listenFastify(app, closers);
    },
  ],
  [
    'hono',
    async (logger) => {
      const app = new Hono<{ Bindings: { outgoing: ServerResponse } }>();
      app.use(honoMiddleware(logger));
      app.post('/pay', async (c) => {
        await clientGone(c.env.outgoing);
        throw new PaymentDeclined();
      });
      app.post('/recipes', async (c) => {
        await clientGone(c.env.outgoing);
        return c.json({ id: 'r1' }, 201);
      });
      return serveHono(app.fetch, closers);
    },
  ],
];

/** Sends a POST and destroys its socket once the request is out; resolves when it is gone. */
async function abortedPost(url: string, path: string, requestId: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const request = httpRequest({ host: hostname, port, method: 'POST', path, headers: { 'content-type': 'application/json', 'x-request-id': requestId } });
  request.on('error', () => {}); // the socket is destroyed on purpose
  request.end('{}');
  await new Promise((resolve) => setTimeout(resolve, 50));
  request.destroy();
}

/** Waits until the store holds `count` records (the handler ends after the client left). */
async function recordsOf(logger: ActivityLogger, store: MemoryStore, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    await logger.flush();
    const records = store.all();
    if (records.length >= count || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function start() {
  const store = memoryStore();
  const logger = createActivityLogger({ store, flushIntervalMs: 5 });
  closers.push(() => logger.close());
  return { store, logger };
}

const summary = (records: ActivityRecord[]) => records.map((r) => [r.action, r.status, r.metadata?.statusCode ?? r.error?.name]).sort();

describe.each(apps)('%s: a client that leaves mid-request', (_framework, build) => {
  it('does not take the request error with it: the error is recorded with its details', async () => {
    const { store, logger } = start();
    await abortedPost(await build(logger), '/pay', 'gone-1');
    // The request (a 499) and the error (on hono, the one its onError answered).
    const records = await recordsOf(logger, store, 2);
    const errors = records.filter((r) => r.action === 'system.error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      status: 'failure',
      error: { name: 'PaymentDeclined', message: 'card declined by the bank', code: 'E_DECLINED' },
      context: { requestId: 'gone-1', method: 'POST', route: '/pay' },
    });
    // Nothing claims the request succeeded.
    expect(records.filter((r) => r.status === 'success')).toEqual([]);
    expect(summary(records)).toEqual([['http.post', 'failure', 499], ['system.error', 'failure', 'PaymentDeclined']]);
  });

  it('still records the request, marked aborted where its response was cut short', async () => {
    const { store, logger } = start();
    await abortedPost(await build(logger), '/recipes', 'gone-2');
    const records = await recordsOf(logger, store, 1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ action: 'http.post', context: { requestId: 'gone-2', route: '/recipes' } });
    // The connection closed before any answer: on hono too, whose handler still returned its
    // 201 (it runs to the end whatever the socket does), written to nobody.
    expect(records[0]).toMatchObject({ status: 'failure', metadata: { statusCode: 499, aborted: true } });
  });
});

describe('express: the client leaves at any moment, the same records', () => {
  it('records an error that came before the client left as one that comes after: the 499 and the error', async () => {
    const { store, logger } = start();
    const app = express();
    app.use(expressMiddleware(logger));
    app.post('/pay', (_req, _res, next) => next(new PaymentDeclined()));
    // The app's error middleware is slow to answer: the client leaves before it does.
    app.use(async (_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      await clientGone(res);
      res.status(500).end();
    });
    await abortedPost(await listenNode(app.listen(0, '127.0.0.1'), closers), '/pay', 'early-error');
    expect(summary(await recordsOf(logger, store, 2))).toEqual([['http.post', 'failure', 499], ['system.error', 'failure', 'PaymentDeclined']]);
  });

  it('records a request whose client left during an earlier middleware, before this one ran', async () => {
    const { store, logger } = start();
    const app = express();
    // A session lookup that outlasts the client.
    app.use(async (_req, res, next) => {
      await clientGone(res);
      next();
    });
    app.use(expressMiddleware(logger));
    app.post('/pay', (_req, _res, next) => next(new PaymentDeclined()));
    app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).end());
    await abortedPost(await listenNode(app.listen(0, '127.0.0.1'), closers), '/pay', 'late-middleware');
    expect(summary(await recordsOf(logger, store, 2))).toEqual([['http.post', 'failure', 499], ['system.error', 'failure', 'PaymentDeclined']]);
  });

  it('does not record the stream error of a download the client stopped (the 499 stands for it)', async () => {
    const { store, logger } = start();
    const app = express();
    app.use(expressMiddleware(logger, { capture: { reads: 'all' } }));
    app.get('/export', (_req, res, next) => {
      // Far more than the socket takes at once: the client leaves mid-stream.
      const source = Readable.from((function* () {
        for (let i = 0; i < 10_000; i++) yield Buffer.alloc(16_384, 120);
      })());
      pipeline(source, res, (error) => error && next(error));
    });
    await leaveAfterFirstChunk(await listenNode(app.listen(0, '127.0.0.1'), closers), 'GET', '/export', 'download');
    const records = await recordsOf(logger, store, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await logger.flush();
    expect(summary(store.all())).toEqual([['http.get', 'failure', 499]]);
    expect(records[0]).toMatchObject({ context: { requestId: 'download' }, metadata: { aborted: true } });
  });
});

describe('fastify: the client leaves at any moment, the same records', () => {
  it('records a request whose client left during an onRequest hook registered before the plugin', async () => {
    const { store, logger } = start();
    const app = Fastify({ logger: false });
    app.addHook('onRequest', async (_request, reply) => clientGone(reply.raw));
    await app.register(activityPlugin, { logger });
    // A DELETE without a body: fastify would wait for a POST body that never comes.
    app.delete('/pay', async () => {
      throw new PaymentDeclined();
    });
    const url = await listenFastify(app, closers);
    const { hostname, port } = new URL(url);
    const request = httpRequest({ host: hostname, port, method: 'DELETE', path: '/pay', headers: { 'x-request-id': 'late-hook' } });
    request.on('error', () => {});
    request.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    request.destroy();
    expect(summary(await recordsOf(logger, store, 2))).toEqual([['http.delete', 'failure', 499], ['system.error', 'failure', 'PaymentDeclined']]);
  });

  it('records inject() answers as answered, when an async onResponse hook runs before the plugin', async () => {
    // light-my-request closes its response before it finishes: that is not a client leaving.
    const { store, logger } = start();
    const app = Fastify({ logger: false });
    app.addHook('onResponse', async () => new Promise((resolve) => setTimeout(resolve, 20)));
    await app.register(activityPlugin, { logger });
    app.post('/recipes', async (_request, reply) => reply.code(201).send({ id: 'r1' }));
    closers.push(() => app.close());
    const response = await app.inject({ method: 'POST', url: '/recipes', headers: { 'x-request-id': 'injected' } });
    expect(response.statusCode).toBe(201);
    expect(summary(await recordsOf(logger, store, 1))).toEqual([['http.post', 'success', 201]]);
  });
});
