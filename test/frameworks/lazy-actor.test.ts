import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import * as expressShim from '../../adapters/frameworks/express.js';
import * as fastifyShim from '../../adapters/frameworks/fastify.js';
import * as honoShim from '../../adapters/frameworks/hono.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import type { ActivityLogError } from '../../src/errors.js';
import type { ActorResult } from '../../src/http/index.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { closedAfterEach, listenFastify, listenNode, serveHono } from './servers.js';

/**
 * The actor is worked out when it is first needed (the request logger's first log(), or the
 * response's end), so it reads what the app's own per-route authentication set after the
 * middleware ran: no second session lookup inside `actor()`. Real servers on 127.0.0.1.
 */
const closers = closedAfterEach();

interface Session {
  id: string;
}

/** How each test's actor() reads the session the route's own authentication set. */
type ActorOf = (session: Session | undefined) => ActorResult | Promise<ActorResult>;

/**
 * One app per framework: the middleware first, with `actor` reading the session; a route
 * whose own authentication (route middleware, preHandler) reads `x-session` and sets the
 * session, then logs twice; an app-level guard after the middleware that answers 401 to
 * `/private/*` before any route.
 */
const apps: Record<'express' | 'fastify' | 'hono', (logger: ActivityLogger, actorOf: ActorOf) => Promise<string>> = {
  async express(logger, actorOf) {
    type WithSession = Request & { session?: Session };
    const app = express();
    app.use(expressShim.activityMiddleware(logger, { actor: (req) => actorOf((req as WithSession).session) }));
    app.use('/private', (_req, res) => void res.status(401).json({ error: 'sign in' }));
    const authenticate = (req: Request, _res: Response, next: NextFunction) => {
      const id = req.get('x-session');
      if (id) (req as WithSession).session = { id };
      next();
    };
    app.post('/recipes/:id', authenticate, (req, res) => {
      req.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: String(req.params.id) } });
      req.activity.log({ action: 'recipe.publish', target: { type: 'recipe', id: String(req.params.id) } });
      res.json({ ok: true });
    });
    return listenNode(createServer(app), closers);
  },
  async fastify(logger, actorOf) {
    type WithSession = FastifyRequest & { session?: Session };
    const app: FastifyInstance = Fastify({ logger: false });
    await app.register(fastifyShim.activityPlugin, { logger, actor: (request) => actorOf((request as WithSession).session) });
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.startsWith('/private')) return reply.code(401).send({ error: 'sign in' });
    });
    app.post<{ Params: { id: string } }>(
      '/recipes/:id',
      {
        preHandler: async (request) => {
          const id = request.headers['x-session'];
          if (typeof id === 'string') (request as WithSession).session = { id };
        },
      },
      async (request) => {
        request.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: request.params.id } });
        request.activity.log({ action: 'recipe.publish', target: { type: 'recipe', id: request.params.id } });
        return { ok: true };
      },
    );
    return listenFastify(app, closers);
  },
  async hono(logger, actorOf) {
    const app = new Hono<{ Variables: { session?: Session } }>();
    app.use(honoShim.activityMiddleware(logger, { actor: (c) => actorOf(c.get('session')) }));
    app.use(async (c, next) => {
      if (c.req.path.startsWith('/private')) return c.json({ error: 'sign in' }, 401);
      await next();
    });
    app.post(
      '/recipes/:id',
      async (c, next) => {
        const id = c.req.header('x-session');
        if (id) c.set('session', { id });
        await next();
      },
      (c) => {
        c.get('activity').log({ action: 'recipe.update', target: { type: 'recipe', id: c.req.param('id') } });
        c.get('activity').log({ action: 'recipe.publish', target: { type: 'recipe', id: c.req.param('id') } });
        return c.json({ ok: true });
      },
    );
    return serveHono(app.fetch, closers);
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const framework of ['express', 'fastify', 'hono'] as const) {
  describe(`${framework}: the actor is resolved when first needed`, () => {
    let store: MemoryStore;
    let logger: ActivityLogger;
    let reported: ActivityLogError[];

    async function start(actorOf: ActorOf): Promise<string> {
      store = memoryStore();
      reported = [];
      logger = createActivityLogger({ store, flushIntervalMs: 5, onError: (error) => reported.push(error) });
      closers.push(() => logger.close());
      return apps[framework](logger, actorOf);
    }

    /** Posts to the route as user u_1; the records' actions and actors, in the order they were logged. */
    async function postedActors(url: string): Promise<[string, unknown][]> {
      const response = await fetch(`${url}/recipes/1`, { method: 'POST', headers: { 'x-session': 'u_1' } });
      expect(response.status).toBe(200);
      await logger.flush();
      return store.all().sort((a, b) => (a.id < b.id ? -1 : 1)).map((record) => [record.action, record.actor]);
    }

    it.each(['sync', 'async'] as const)('reads the session set by the route own authentication, once per request (%s actor)', async (mode) => {
      let calls = 0;
      const url = await start((session) => {
        calls += 1;
        const actor = session && { type: 'user', id: session.id };
        return mode === 'sync' ? actor : sleep(5).then(() => actor);
      });
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetch(`${url}/recipes/${i}`, { method: 'POST', headers: { 'x-session': `u_${i}` } })),
      );
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
      await logger.flush();
      // In the order they were logged (ids are UUIDv7).
      const records = store.all().sort((a, b) => (a.id < b.id ? -1 : 1));
      // Two events of the route and the automatic one, per request, each with its own session.
      expect(records).toHaveLength(60);
      const byRequest = new Map<string, string[]>();
      for (const record of records) {
        const requestId = record.context!.requestId!;
        byRequest.set(requestId, [...(byRequest.get(requestId) ?? []), `${record.action}:${record.actor?.id ?? record.actor?.type}`]);
      }
      expect(byRequest.size).toBe(20);
      for (const actions of byRequest.values()) {
        const user = actions[0]!.split(':')[1]!;
        expect(user).toMatch(/^u_\d+$/);
        // The route's two events in the order they were logged, then the automatic one.
        expect(actions).toEqual([`recipe.update:${user}`, `recipe.publish:${user}`, `http.post:${user}`]);
      }
      for (const record of records.filter((r) => r.target)) expect(record.actor).toEqual({ type: 'user', id: `u_${record.target!.id}` });
      expect(calls).toBe(20);
      expect(reported).toEqual([]);
    });

    it('records a refusal before routing as anonymous, with the path, calling actor() once', async () => {
      let calls = 0;
      const url = await start((session) => {
        calls += 1;
        return session && { type: 'user', id: session.id };
      });
      const response = await fetch(`${url}/private/reports?token=secret`, { headers: { 'x-session': 'u_1' } });
      expect(response.status).toBe(401);
      await logger.flush();
      const [record, ...rest] = store.all();
      expect(rest).toEqual([]);
      expect(record).toMatchObject({ action: 'http.get', status: 'denied', actor: { type: 'anonymous' }, metadata: { statusCode: 401 } });
      expect(record!.metadata!.path).toBe('/private/reports');
      expect(calls).toBe(1);
    });

    it('contains an actor() that rejects: the events are written as anonymous and CALLBACK_FAILED is reported once', async () => {
      const url = await start(async () => {
        await sleep(1);
        throw new Error('session store down');
      });
      expect(await postedActors(url)).toEqual([
        ['recipe.update', { type: 'anonymous' }],
        ['recipe.publish', { type: 'anonymous' }],
        ['http.post', { type: 'anonymous' }],
      ]);
      expect(reported.map((error) => error.code)).toEqual(['CALLBACK_FAILED']);
    });

    // A value the event rules refuse, bound as the actor, made every event of the request
    // fail validation: the route's own log() calls and the automatic record were all dropped.
    it.each([
      ['an empty id', { type: 'user', id: '' }, 'actor.id'],
      ['an id over 255 characters', { type: 'user', id: 'u'.repeat(300) }, 'actor.id'],
    ])('contains an actor() that returns %s: the events are written as anonymous and CALLBACK_FAILED names why', async (_name, value, why) => {
      const url = await start(async () => value as ActorResult);
      expect(await postedActors(url)).toEqual([
        ['recipe.update', { type: 'anonymous' }],
        ['recipe.publish', { type: 'anonymous' }],
        ['http.post', { type: 'anonymous' }],
      ]);
      expect(reported.map((error) => error.code)).toEqual(['CALLBACK_FAILED']);
      expect(reported[0]!.message).toContain(why);
    });

    // The app's user object returned as it is: who acted is kept, its other fields are not.
    it('keeps an actor() returned with fields an actor does not have, leaving them out, and names them', async () => {
      const url = await start(async () => ({ type: 'user', id: 'u_1', name: 'Ada', email: 'ada@example.com', roles: ['admin'] }) as ActorResult);
      const response = await fetch(`${url}/recipes/1`, { method: 'POST', headers: { 'x-session': 'u_1' } });
      expect(response.status).toBe(200);
      await logger.flush();
      expect(store.all().map((record) => record.actor)).toEqual(Array(3).fill({ type: 'user', id: 'u_1', name: 'Ada' }));
      expect(reported.map((error) => error.code)).toEqual(['CALLBACK_FAILED']);
      expect(reported[0]!.message).toContain('("email", "roles")');
    });

    // A display name is the user's own choice: one of 256 characters made every request of
    // its user anonymous, so whoever chose one acted unrecorded.
    it.each([
      ['a name over 255 characters', { type: 'user', id: 'u_1', name: 'N'.repeat(300) }, { type: 'user', id: 'u_1', name: 'N'.repeat(255) }, 'cut to 255'],
      ['a name that is not a string', { type: 'user', id: 'u_1', name: { first: 'Ada' } }, { type: 'user', id: 'u_1' }, 'left out'],
      ['a long name and fields an actor does not have', { type: 'user', id: 'u_1', name: 'N'.repeat(300), email: 'a@b.c' }, { type: 'user', id: 'u_1', name: 'N'.repeat(255) }, 'cut to 255'],
    ])('keeps who acted when actor() returns %s, the name cut or left out, and says so', async (_name, value, kept, said) => {
      const url = await start(async () => value as ActorResult);
      expect(await postedActors(url)).toEqual([
        ['recipe.update', kept],
        ['recipe.publish', kept],
        ['http.post', kept],
      ]);
      expect(reported.every((error) => error.code === 'CALLBACK_FAILED')).toBe(true);
      expect(reported.map((error) => error.message).join('\n')).toContain(said);
    });
  });
}

describe('tenant() with a value the event rules refuse', () => {
  it.each([
    ['an empty string', ''],
    ['a string over 255 characters', 't'.repeat(300)],
    ['NaN', Number.NaN],
    // `false` is none, as for actor() (`user && user.tenantId`): nothing to report.
    ['false', false],
  ])('is %s: the events are written without a tenant, and a value that is not none is reported as CALLBACK_FAILED', async (_name, value) => {
    const store = memoryStore();
    const reported: ActivityLogError[] = [];
    const logger = createActivityLogger({ store, flushIntervalMs: 5, onError: (error) => reported.push(error) });
    closers.push(() => logger.close());
    const app = express();
    app.use(expressShim.activityMiddleware(logger, { actor: () => ({ type: 'user', id: 'u_1' }), tenant: () => value as string | number | false }));
    app.post('/recipes/:id', (req, res) => {
      req.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: String(req.params.id) } });
      res.json({ ok: true });
    });
    const url = await listenNode(createServer(app), closers);
    expect((await fetch(`${url}/recipes/1`, { method: 'POST' })).status).toBe(200);
    await logger.flush();
    const records = store.all();
    expect(records.map((record) => record.action).sort()).toEqual(['http.post', 'recipe.update']);
    for (const record of records) {
      expect(record.actor).toEqual({ type: 'user', id: 'u_1' });
      expect(record.tenantId).toBeUndefined();
    }
    expect(reported.map((error) => error.code)).toEqual(value === false ? [] : ['CALLBACK_FAILED']);
  });
});
