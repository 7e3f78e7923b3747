import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { currentActivity } from '../../src/context.js';
import type { ActivityLogger } from '../../src/logger.js';
import type { ActorResult } from '../../src/http/scope.js';
import type { CaptureOptions } from '../../src/http/capture.js';
import * as expressShim from '../../adapters/frameworks/express.js';
import * as fastifyShim from '../../adapters/frameworks/fastify.js';
import * as honoShim from '../../adapters/frameworks/hono.js';

/**
 * The same small app in express, fastify and hono, listening on 127.0.0.1 on a free port, so
 * one suite runs against all three. Every route reads the actor from headers the test sends.
 */

export type ActorMode = 'sync' | 'async' | 'throws' | 'none';

export interface AppOptions {
  /** Without it, the app has no activity middleware at all (to compare responses with). */
  logger?: ActivityLogger<any>;
  actor?: ActorMode;
  capture?: CaptureOptions;
  /** Mount the admin API under /admin/logs, authorised by `x-role: admin`. */
  admin?: boolean;
  /** Pin admin reads to the `x-tenant` header. */
  tenantPinned?: boolean;
  /** The middleware's `asyncContext` option. */
  asyncContext?: boolean;
}

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export type Framework = 'express' | 'fastify' | 'hono';
export const FRAMEWORKS: Framework[] = ['express', 'fastify', 'hono'];

type HeaderSource = (name: string) => string | undefined;

function actorFrom(mode: ActorMode | undefined, header: HeaderSource): ActorResult | Promise<ActorResult> {
  const id = header('x-user');
  switch (mode) {
    case 'sync':
      return id ? { type: 'user', id } : undefined;
    case 'async':
      return sleep(Math.random() * 3).then(() => (id ? { type: 'user', id } : undefined));
    case 'throws':
      throw new Error('actor lookup exploded');
    default:
      return undefined;
  }
}

/** What the ctx route answers: what the request's logger sees after a few nested awaits. */
async function describeScope(pause: number, logFirst = false) {
  await sleep(pause);
  const viaNested = await (async () => {
    await sleep(1);
    await Promise.resolve();
    // The actor is worked out at the request's first event (reading bindings calls no
    // callback): a route that logged none logs one here; flush() waits for it to be queued
    // (after an async actor has answered).
    if (logFirst) currentActivity().log({ action: 'scope.describe' });
    await currentActivity().flush();
    return currentActivity().bindings;
  })();
  return viaNested;
}

export async function startApp(framework: Framework, options: AppOptions = {}): Promise<RunningApp> {
  if (framework === 'express') return startExpress(options);
  if (framework === 'fastify') return startFastify(options);
  return startHono(options);
}

function listen(server: Server): Promise<RunningApp> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

async function startExpress(options: AppOptions): Promise<RunningApp> {
  const app = express();
  // In development express puts the stack in the body, and a sync throw's stack includes
  // every middleware frame (this one's too): compare what production users see.
  app.set('env', 'production');
  const { logger } = options;
  if (logger) {
    app.use(
      expressShim.activityMiddleware(logger, {
        actor: options.actor && options.actor !== 'none' ? (req) => actorFrom(options.actor, (n) => req.get(n)) : undefined,
        capture: options.capture,
        asyncContext: options.asyncContext,
      }),
    );
  }
  app.get('/recipes/:id', async (req, res) => {
    await sleep(Number(req.query.pause ?? 0));
    req.activity.log({ action: 'recipe.view', target: { type: 'recipe', id: req.params.id } });
    res.json({ bindings: await describeScope(Number(req.query.pause ?? 0)) });
  });
  app.post('/recipes', (_req, res) => {
    res.status(201).json({ ok: true });
  });
  app.post('/echo', express.json(), async (req, res) => {
    res.json({ body: req.body, bindings: await describeScope(1, true) });
  });
  app.get('/status/:code', (req, res) => {
    res.status(Number(req.params.code)).json({ code: Number(req.params.code) });
  });
  app.get('/boom', async () => {
    await sleep(1);
    throw Object.assign(new Error('kaboom'), { code: 'E_BOOM' });
  });
  app.get('/teapot-error', () => {
    throw Object.assign(new Error('short and stout'), { status: 418 });
  });
  if (logger && options.admin) {
    app.use(
      '/admin/logs',
      expressShim.activityLogsRouter(logger, {
        authorize: (req) => req.get('x-role') === 'admin',
        tenant: options.tenantPinned ? (req) => req.get('x-tenant') : undefined,
      }),
    );
  }
  return listen(createServer(app));
}

async function startFastify(options: AppOptions): Promise<RunningApp> {
  const app = Fastify({ logger: false });
  const { logger } = options;
  if (logger) {
    await app.register(fastifyShim.activityPlugin, {
      logger,
      actor:
        options.actor && options.actor !== 'none'
          ? (request) => actorFrom(options.actor, (n) => request.headers[n] as string | undefined)
          : undefined,
      capture: options.capture,
      asyncContext: options.asyncContext,
    });
  }
  app.get<{ Params: { id: string }; Querystring: { pause?: string } }>('/recipes/:id', async (request) => {
    await sleep(Number(request.query.pause ?? 0));
    request.activity.log({ action: 'recipe.view', target: { type: 'recipe', id: request.params.id } });
    return { bindings: await describeScope(Number(request.query.pause ?? 0)) };
  });
  app.post('/recipes', async (_request, reply) => reply.code(201).send({ ok: true }));
  app.post('/echo', async (request) => ({ body: request.body, bindings: await describeScope(1, true) }));
  app.get<{ Params: { code: string } }>('/status/:code', async (request, reply) =>
    reply.code(Number(request.params.code)).send({ code: Number(request.params.code) }),
  );
  app.get('/boom', async () => {
    await sleep(1);
    throw Object.assign(new Error('kaboom'), { code: 'E_BOOM' });
  });
  app.get('/teapot-error', async () => {
    throw Object.assign(new Error('short and stout'), { statusCode: 418 });
  });
  if (logger && options.admin) {
    await app.register(fastifyShim.activityLogsPlugin, {
      prefix: '/admin/logs',
      logger,
      authorize: (request) => request.headers['x-role'] === 'admin',
      tenant: options.tenantPinned ? (request) => request.headers['x-tenant'] as string | undefined : undefined,
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

async function startHono(options: AppOptions): Promise<RunningApp> {
  const { HTTPException } = await import('hono/http-exception');
  const app = new Hono();
  const { logger } = options;
  if (logger) {
    app.use(
      honoShim.activityMiddleware(logger, {
        actor: options.actor && options.actor !== 'none' ? (c) => actorFrom(options.actor, (n) => c.req.header(n)) : undefined,
        capture: options.capture,
        asyncContext: options.asyncContext,
      }),
    );
  }
  app.get('/recipes/:id', async (c) => {
    await sleep(Number(c.req.query('pause') ?? 0));
    c.get('activity').log({ action: 'recipe.view', target: { type: 'recipe', id: c.req.param('id') } });
    return c.json({ bindings: await describeScope(Number(c.req.query('pause') ?? 0)) });
  });
  app.post('/recipes', (c) => c.json({ ok: true }, 201));
  app.post('/echo', async (c) => c.json({ body: await c.req.json(), bindings: await describeScope(1, true) }));
  app.get('/status/:code', (c) => c.json({ code: Number(c.req.param('code')) }, Number(c.req.param('code')) as 200));
  app.get('/boom', async () => {
    await sleep(1);
    throw Object.assign(new Error('kaboom'), { code: 'E_BOOM' });
  });
  app.get('/teapot-error', () => {
    throw new HTTPException(418, { message: 'short and stout' });
  });
  if (logger && options.admin) {
    app.route(
      '/admin/logs',
      honoShim.activityLogsApp(logger, {
        authorize: (c) => c.req.header('x-role') === 'admin',
        tenant: options.tenantPinned ? (c) => c.req.header('x-tenant') : undefined,
      }),
    );
  }
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as Server).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}
