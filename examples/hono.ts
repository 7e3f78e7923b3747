/**
 * activity-log with hono on Node, runnable in a clone: npx tsx examples/hono.ts  (PORT=3000 by default)
 *   curl -X POST -H 'x-user: ada' http://127.0.0.1:3000/recipes/42/publish     → recipe.publish + recipe.notify
 *   curl -X POST http://127.0.0.1:3000/recipes/42/publish                       → 401, recorded as denied
 *   curl -H 'x-user: root' -H 'x-role: admin' http://127.0.0.1:3000/admin/logs  → the log, as JSON
 */
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { createActivityLogger, currentActivity } from '../src/index.js';
import { sqliteStore } from '../adapters/storage/sqlite.js';
import { activityLogsApp, activityMiddleware } from '../adapters/frameworks/hono.js';

const activity = createActivityLogger({ store: sqliteStore({ filename: process.env.DATABASE_FILE ?? 'activity.db' }) });
const app = new Hono();

// Demo sign-in: the caller names itself in headers. Use your real session here.
const userOf = (c: Context) => (c.req.header('x-user') ? { id: c.req.header('x-user')!, admin: c.req.header('x-role') === 'admin' } : undefined);

app.use(activityMiddleware(activity, { actor: (c) => userOf(c) && { type: userOf(c)!.admin ? 'admin' : 'user', id: userOf(c)!.id } }));

/** Deep in the app: the request's actor, request id and route come along without being passed. */
async function notifyFollowers(recipeId: string) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  currentActivity().log({ action: 'recipe.notify', target: { type: 'recipe', id: recipeId }, metadata: { followers: 3 } });
}

app.post('/recipes/:id/publish', async (c) => {
  if (!userOf(c)) return c.json({ error: 'sign in first' }, 401); // recorded automatically
  c.get('activity').log({ action: 'recipe.publish', target: { type: 'recipe', id: c.req.param('id') } });
  await notifyFollowers(c.req.param('id'));
  return c.json({ published: c.req.param('id') });
});

app.route('/admin/logs', activityLogsApp(activity, { authorize: (c) => userOf(c)?.admin === true }));

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`hono example on http://127.0.0.1:${info.port}`);
});

// Shutdown: finish the open requests, then write every pending event.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => void activity.close().then(() => process.exit(0))));
}
