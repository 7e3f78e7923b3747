import express, { type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { activityErrorHandler, activityMiddleware } from '../../adapters/frameworks/express.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';

describe('express activityErrorHandler', () => {
  it('records system.error before an app error handler that answers without next(err), once', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const app = express();
    app.use(activityMiddleware(activity));
    app.get('/boom', () => {
      throw Object.assign(new Error('kaboom'), { code: 'E_BOOM' });
    });
    app.use(activityErrorHandler());
    app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).json({ error: 'internal' });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/boom`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal' });
    await activity.flush();
    const records = store.all();
    expect(records.map((record) => record.action)).toEqual(['system.error']);
    expect(records[0]).toMatchObject({ status: 'failure', error: { name: 'Error', message: 'kaboom', code: 'E_BOOM' }, context: { route: '/boom', method: 'GET' } });
    await new Promise((resolve) => server.close(resolve));
    await activity.close();
  });

  it('without the request logger or its async context, records no system.error but still the failed request', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    // Callbacks run by a timer started outside any request, as a pooled client library may
    // call them: the request's async context is lost there.
    const pending: (() => void)[] = [];
    const drain = setInterval(() => pending.splice(0).forEach((callback) => callback()), 5);
    const app = express();
    app.set('env', 'production');
    app.use(activityMiddleware(activity));
    app.get('/lost', (req: Request, _res: Response, next: NextFunction) => {
      // A logger of the app's own, not derived from req.activity.
      req.activity = activity.with({ metadata: { plan: 'pro' } });
      pending.push(() => next(new Error('lost context')));
    });
    const server = app.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/lost`);
      expect(response.status).toBe(500);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await activity.flush();
      expect(store.all().map((record) => `${record.action}/${record.status}`)).toEqual(['http.get/failure']);
    } finally {
      clearInterval(drain);
      await new Promise((resolve) => server.close(resolve));
      await activity.close();
    }
  });
});
