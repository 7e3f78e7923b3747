import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as expressShim from '../../adapters/frameworks/express.js';
import * as fastifyShim from '../../adapters/frameworks/fastify.js';
import * as honoShim from '../../adapters/frameworks/hono.js';
import { captureChanges } from '../../adapters/storage/kysely.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import { closedAfterEach, listenFastify, listenNode, serveHono } from '../frameworks/servers.js';
import { DIALECTS, openDatabase, uniqueName, type CaptureDatabase } from './databases.js';

/**
 * A row written by a route handler through the app's Kysely is recorded with the request's
 * actor (worked out by the middleware's async `actor()` after the route's own authentication)
 * and its context: real servers on 127.0.0.1, real databases.
 */

const closers = closedAfterEach();

type Framework = 'express' | 'fastify' | 'hono';
type Handler = (id: string, title: string) => Promise<void>;
const actorOf = async (session: string | undefined) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return session ? { type: 'user', id: session, name: `User ${session}` } : undefined;
};

const servers: Record<Framework, (logger: ActivityLogger, update: Handler) => Promise<string>> = {
  async express(logger, update) {
    type WithSession = Request & { session?: string };
    const app = express();
    app.use(express.json());
    app.use(expressShim.activityMiddleware(logger, { actor: (req) => actorOf((req as WithSession).session) }));
    const authenticate = (req: Request, _res: Response, next: NextFunction) => {
      (req as WithSession).session = req.get('x-session');
      next();
    };
    app.patch('/recipes/:id', authenticate, async (req, res) => {
      await update(String(req.params.id), String(req.body.title));
      res.json({ ok: true });
    });
    return listenNode(createServer(app), closers);
  },
  async fastify(logger, update) {
    type WithSession = FastifyRequest & { session?: string };
    const app: FastifyInstance = Fastify({ logger: false });
    await app.register(fastifyShim.activityPlugin, { logger, actor: (request) => actorOf((request as WithSession).session) });
    app.patch<{ Params: { id: string }; Body: { title: string } }>(
      '/recipes/:id',
      { preHandler: async (request) => void ((request as WithSession).session = request.headers['x-session'] as string | undefined) },
      async (request) => {
        await update(request.params.id, request.body.title);
        return { ok: true };
      },
    );
    return listenFastify(app, closers);
  },
  async hono(logger, update) {
    const app = new Hono<{ Variables: { session?: string } }>();
    app.use(honoShim.activityMiddleware(logger, { actor: (c) => actorOf(c.get('session')) }));
    app.patch(
      '/recipes/:id',
      async (c, next) => {
        c.set('session', c.req.header('x-session'));
        await next();
      },
      async (c) => {
        const body = (await c.req.json()) as { title: string };
        await update(c.req.param('id'), body.title);
        return c.json({ ok: true });
      },
    );
    return serveHono(app.fetch, closers);
  },
};

const cases: { dialect: (typeof DIALECTS)[number]; framework: Framework }[] = [
  ...(['express', 'fastify', 'hono'] as const).map((framework) => ({ dialect: DIALECTS[0]!, framework })),
  { dialect: DIALECTS[1]!, framework: 'express' },
  { dialect: DIALECTS[2]!, framework: 'fastify' },
];

for (const { dialect: { dialect, available, reason }, framework } of cases) {
  if (!available) console.warn(`[capture] ${dialect} over ${framework} skipped: ${reason}`);
  describe.skipIf(!available)(`captured changes over ${framework} on ${dialect}`, () => {
    let d: CaptureDatabase;
    let activity: ActivityLogger;
    let table: string;
    beforeAll(async () => {
      d = await openDatabase(dialect);
      activity = createActivityLogger({ store: d.store });
      table = uniqueName('cap_http');
      await d.createRecipes(table);
      await captureChanges(d.db, activity, { [table]: { target: 'recipe', name: 'title' } });
      await d.outside(`insert into ${d.q(table)} (id, title) values ${Array.from({ length: 20 }, (_, i) => `(${i + 1}, 'R${i + 1}')`).join(', ')}`);
    });
    afterAll(async () => {
      await activity?.close();
      await d?.cleanup();
    });

    it('records the request’s actor and context on the rows its handler writes, for concurrent requests', async () => {
      const base = await servers[framework](activity, async (id, title) => {
        await d.db.transaction().execute(async (trx) => {
          await trx.updateTable(table).set({ title }).where('id', '=', Number(id)).execute();
        });
      });
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`${base}/recipes/${i + 1}`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json', 'x-session': `s${i + 1}`, 'x-request-id': `rq-${i + 1}` },
            body: JSON.stringify({ title: `Title ${i + 1}` }),
          }),
        ),
      );
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
      await activity.flush();
      const page = await activity.query({ action: 'recipe.updated', limit: 100 });
      expect(page.items).toHaveLength(20);
      for (const record of page.items) {
        const id = record.target!.id;
        expect(record.actor).toEqual({ type: 'user', id: `s${id}`, name: `User s${id}` });
        expect(record.changes).toEqual({ title: { before: `R${id}`, after: `Title ${id}` } });
        expect(record.context).toMatchObject({ requestId: `rq-${id}`, method: 'PATCH', route: '/recipes/:id' });
        expect(record.context?.ip).toMatch(/127\.0\.0\.1/);
      }
    });
  });
}
