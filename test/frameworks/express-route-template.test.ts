import { createServer } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { activityMiddleware } from '../../adapters/frameworks/express.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/logger.js';
import { closedAfterEach, listenNode } from './servers.js';

/**
 * The route template a request's records name is the route that answered it. express sets
 * `req.route` as a route matches and never unsets it: a route that passes the request on with
 * `next()` (a guard, an "owner only" check, an optional handler) and lets it fall through to
 * express's 404 must not have that 404 recorded under its template, least of all without its
 * router's mount path (`/items/:id` for `/api/items/7`).
 */
const closers = closedAfterEach();

async function serve(build: (app: express.Express, api: express.Router) => void) {
  const store = memoryStore();
  const activity = createActivityLogger({ store });
  closers.push(() => activity.close());
  const app = express();
  app.use(activityMiddleware(activity));
  const api = express.Router();
  app.use('/api', api);
  build(app, api);
  const url = await listenNode(createServer(app), closers);
  const request = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${url}${path}`, init);
    await response.arrayBuffer();
    await activity.flush();
    return { status: response.status, records: store.all().reverse() };
  };
  return { request, store };
}

/** What each record names as the place of the request: its action, route and path. */
const places = (records: { action: string; context?: { route?: string }; metadata?: Record<string, unknown> }[]) =>
  records.map((record) => [record.action, record.context?.route, record.metadata?.path]);

describe('express: the route a request is recorded under', () => {
  it('is none, with the URL path, when a route in a mounted router passed the request on to express 404', async () => {
    const { request } = await serve((_app, api) => {
      api.delete('/items/:id', (req, _res, next) => {
        req.activity.log({ action: 'item.delete_attempt', target: { type: 'item', id: String(req.params.id) } });
        next();
      });
    });
    const { status, records } = await request('/api/items/7', { method: 'DELETE' });
    expect(status).toBe(404);
    // The event logged inside the route names it, with its mount path; the 404 does not.
    expect(places(records)).toEqual([
      ['item.delete_attempt', '/api/items/:id', undefined],
      ['http.delete', undefined, '/api/items/7'],
    ]);
    expect(records[1]).toMatchObject({ status: 'failure', metadata: { statusCode: 404 } });
  });

  it('is none when an app-level route passed the request on to express 404', async () => {
    const { request } = await serve((app) => {
      app.post('/drafts/:id/publish', (_req, _res, next) => next());
    });
    const { status, records } = await request('/drafts/3/publish', { method: 'POST' });
    expect(status).toBe(404);
    expect(places(records)).toEqual([['http.post', undefined, '/drafts/3/publish']]);
  });

  it('is the route that answered, when one route passed the request on to another', async () => {
    const { request } = await serve((_app, api) => {
      api.put('/items/:id', (_req, _res, next) => next());
      api.put('/items/:itemId', (_req, res) => void res.status(204).end());
    });
    const { status, records } = await request('/api/items/7', { method: 'PUT' });
    expect(status).toBe(204);
    expect(places(records)).toEqual([['http.put', '/api/items/:itemId', undefined]]);
  });

  it('is the route that answered, when it went on with next() after answering', async () => {
    const { request } = await serve((app, api) => {
      api.post('/items/:id/archive', (_req, res, next) => {
        res.status(202).json({ queued: true });
        next();
      });
      app.post('/later/:id', (_req, res) => void res.status(201).end());
    });
    const { status, records } = await request('/api/items/7/archive', { method: 'POST' });
    expect(status).toBe(202);
    expect(places(records)).toEqual([['http.post', '/api/items/:id/archive', undefined]]);
  });

  it('is the route when the route itself answered 404 (an item that does not exist)', async () => {
    const { request } = await serve((_app, api) => {
      api.patch('/items/:id', (_req, res) => void res.status(404).json({ error: 'no such item' }));
    });
    const { status, records } = await request('/api/items/404', { method: 'PATCH' });
    expect(status).toBe(404);
    expect(places(records)).toEqual([['http.patch', '/api/items/:id', undefined]]);
  });

  it('is none for an error raised by a later middleware after the route passed the request on', async () => {
    const { request } = await serve((app, api) => {
      api.post('/items/:id', (_req, _res, next) => next());
      app.use((_req, _res, next) => next(new Error('quota service down')));
      app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({ error: 'internal' }));
    });
    const { status, records } = await request('/api/items/9', { method: 'POST' });
    expect(status).toBe(500);
    expect(places(records)).toEqual([['system.error', undefined, '/api/items/9']]);
    expect(records[0]!.error?.message).toBe('quota service down');
  });
});
