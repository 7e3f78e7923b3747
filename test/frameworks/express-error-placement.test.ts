import express, { type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { activityMiddleware } from '../../adapters/frameworks/express.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';

/**
 * An app's own error middleware usually answers without next(err): the middleware puts its
 * error recorder in front of it, so the error's details reach the log with no extra line.
 */
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function serve(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const answerInternal = (_error: unknown, _req: Request, res: Response, _next: NextFunction) => void res.status(500).json({ error: 'internal' });
const boom = () => {
  throw Object.assign(new Error('kaboom'), { code: 'E_BOOM' });
};

function logger(): { activity: ActivityLogger; store: ReturnType<typeof memoryStore> } {
  const store = memoryStore();
  const activity = createActivityLogger({ store });
  closers.push(() => activity.close());
  return { activity, store };
}

describe('express: an error the app answers itself', () => {
  it('is recorded with its details, before the app error middleware that answers it, with no extra line', async () => {
    const { activity, store } = logger();
    const app = express();
    app.use(activityMiddleware(activity));
    app.get('/boom', boom);
    app.use(answerInternal);
    const url = await serve(app);
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${url}/boom`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal' });
    }
    await activity.flush();
    const records = store.all();
    expect(records.map((record) => record.action)).toEqual(['system.error', 'system.error']);
    expect(records[0]).toMatchObject({ status: 'failure', error: { name: 'Error', message: 'kaboom', code: 'E_BOOM' }, context: { route: '/boom' } });
  });

  it('is recorded from a router mounted with its own error middleware, and from a sub-app the middleware is mounted in too', async () => {
    const { activity, store } = logger();
    const router = express.Router();
    router.get('/boom', boom);
    router.use(answerInternal);
    const sub = express();
    sub.use(activityMiddleware(activity));
    sub.get('/boom', boom);
    sub.use(answerInternal);
    const app = express();
    app.use(activityMiddleware(activity));
    app.use('/router', router);
    app.use('/sub', sub);
    const url = await serve(app);
    expect((await fetch(`${url}/router/boom`)).status).toBe(500);
    expect((await fetch(`${url}/sub/boom`)).status).toBe(500);
    await activity.flush();
    const errors = store.all().filter((record) => record.action === 'system.error');
    expect(errors.map((record) => record.context?.route).sort()).toEqual(['/router/boom', '/sub/boom']);
    expect(errors.every((record) => record.error?.message === 'kaboom')).toBe(true);
    expect(store.all()).toHaveLength(2);
  });

  it('is recorded from a route that answers it with error middleware of its own (app.get(path, handler, onError))', async () => {
    // Found by the acceptance review of #14: a route's own error middleware runs inside the
    // route, before any recorder placed in the app's or a router's stack, so the error's
    // details were lost and only the 500 was recorded.
    const { activity, store } = logger();
    const seen: string[] = [];
    const onRouteError = (error: Error, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(error.message);
      res.status(500).json({ error: 'route' });
    };
    const router = express.Router();
    router.post('/upload', (_req: Request, _res: Response, next: NextFunction) => next(new Error('upload failed')), onRouteError);
    router.route('/chained').get(boom, onRouteError);
    const app = express();
    app.use(activityMiddleware(activity));
    app.get('/boom', boom, onRouteError);
    app.all('/any', boom, onRouteError);
    app.get('/fine', (_req: Request, res: Response) => void res.json({ ok: true }), onRouteError);
    app.use('/router', router);
    app.use(answerInternal);
    const url = await serve(app);
    for (const [method, path] of [['GET', '/boom'], ['PUT', '/any'], ['POST', '/router/upload'], ['GET', '/router/chained']] as const) {
      const response = await fetch(`${url}${path}`, { method });
      expect({ path, status: response.status, body: await response.json() }).toEqual({ path, status: 500, body: { error: 'route' } });
    }
    expect((await fetch(`${url}/fine`)).status).toBe(200);
    expect(seen).toEqual(['kaboom', 'kaboom', 'upload failed', 'kaboom']);
    await activity.flush();
    const records = store.all().reverse();
    expect(records.map((record) => [record.action, record.context?.route, record.error?.message])).toEqual([
      ['system.error', '/boom', 'kaboom'],
      ['system.error', '/any', 'kaboom'],
      ['system.error', '/router/upload', 'upload failed'],
      ['system.error', '/router/chained', 'kaboom'],
    ]);
  });

  it('names the full route template of an error raised in a router and answered by the app (the router had left)', async () => {
    // Found by the acceptance review of #14: express restores req.baseUrl when an error leaves
    // a router, but not req.route, so an error answered by the app's error middleware was
    // recorded under '/recipes/:id' instead of '/api/recipes/:id' (and a capture rule keyed
    // by the full template did not match it).
    const { activity, store } = logger();
    class NotFound extends Error {}
    const api = express.Router();
    api.get('/recipes/:id', (req: Request) => {
      if (req.params.id === 'missing') throw new NotFound('no such recipe');
      boom();
    });
    api.post('/recipes/:id', () => {
      throw new NotFound('no such recipe');
    });
    const app = express();
    app.use(activityMiddleware(activity, { capture: { routes: { 'POST /api/recipes/:id': 'recipe.update' } } }));
    app.use('/api', api);
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => void res.status(error instanceof NotFound ? 404 : 500).json({ error: error.message }));
    const url = await serve(app);
    expect((await fetch(`${url}/api/recipes/7`)).status).toBe(500);
    expect((await fetch(`${url}/api/recipes/missing`)).status).toBe(404);
    expect((await fetch(`${url}/api/recipes/8`, { method: 'POST' })).status).toBe(404);
    await activity.flush();
    expect(store.all().reverse().map((record) => [record.action, record.status, record.context?.route, record.metadata?.statusCode])).toEqual([
      ['system.error', 'failure', '/api/recipes/:id', undefined],
      // A read answered with a 404 is not recorded (capture.reads: 'errors').
      ['recipe.update', 'failure', '/api/recipes/:id', 404],
    ]);
  });

  it('leaves an error the app answers with a 4xx to automatic capture: it was an answer, not a failure', async () => {
    const { activity, store } = logger();
    class NotFound extends Error {}
    const app = express();
    app.use(activityMiddleware(activity));
    app.post('/recipes/:id', () => {
      throw new NotFound('no such recipe');
    });
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => void res.status(error instanceof NotFound ? 404 : 500).json({ error: error.message }));
    const url = await serve(app);
    expect((await fetch(`${url}/recipes/9`, { method: 'POST' })).status).toBe(404);
    await activity.flush();
    expect(store.all().map((record) => [record.action, record.status, record.metadata?.statusCode])).toEqual([['http.post', 'failure', 404]]);
  });

  it('keeps the order of the app error middleware and records an error once when it is passed on', async () => {
    const { activity, store } = logger();
    const seen: string[] = [];
    const app = express();
    app.set('env', 'production');
    app.use(activityMiddleware(activity));
    app.get('/boom', boom);
    app.use((error: Error, _req: Request, _res: Response, next: NextFunction) => {
      seen.push('first');
      next(error);
    });
    app.use((_error: Error, _req: Request, res: Response, _next: NextFunction) => {
      seen.push('second');
      res.status(503).send('later');
    });
    const url = await serve(app);
    const response = await fetch(`${url}/boom`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('later');
    expect(seen).toEqual(['first', 'second']);
    await activity.flush();
    expect(store.all().map((record) => record.action)).toEqual(['system.error']);
  });
});
