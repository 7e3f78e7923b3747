/**
 * activity-log with express, runnable in a clone: npx tsx examples/express.ts  (PORT=3000 by default)
 *   curl -X POST -H 'x-user: ada' http://127.0.0.1:3000/recipes/42/publish     → recipe.publish + recipe.notify
 *   curl -X POST http://127.0.0.1:3000/recipes/42/publish                       → 401, recorded as denied
 *   curl -H 'x-user: root' -H 'x-role: admin' http://127.0.0.1:3000/admin/logs  → the log, as JSON
 */
import express, { type Request } from 'express';
import { createActivityLogger, currentActivity } from '../src/index.js';
import { sqliteStore } from '../adapters/storage/sqlite.js';
import { activityLogsRouter, activityMiddleware } from '../adapters/frameworks/express.js';

const activity = createActivityLogger({ store: sqliteStore({ filename: process.env.DATABASE_FILE ?? 'activity.db' }) });
const app = express();

// Demo sign-in: the caller names itself in headers. Use your real session here.
const userOf = (req: Request) => (req.get('x-user') ? { id: req.get('x-user')!, admin: req.get('x-role') === 'admin' } : undefined);

app.use(activityMiddleware(activity, { actor: (req) => userOf(req) && { type: userOf(req)!.admin ? 'admin' : 'user', id: userOf(req)!.id } }));

/** Deep in the app: the request's actor, request id and route come along without being passed. */
async function notifyFollowers(recipeId: string) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  currentActivity().log({ action: 'recipe.notify', target: { type: 'recipe', id: recipeId }, metadata: { followers: 3 } });
}

app.post('/recipes/:id/publish', async (req, res) => {
  if (!userOf(req)) return void res.status(401).json({ error: 'sign in first' }); // recorded automatically
  req.activity.log({ action: 'recipe.publish', target: { type: 'recipe', id: req.params.id } });
  await notifyFollowers(req.params.id);
  res.json({ published: req.params.id });
});

app.use('/admin/logs', activityLogsRouter(activity, { authorize: (req) => userOf(req)?.admin === true }));

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`express example on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});

// Shutdown: finish the open requests, then write every pending event.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => void activity.close().then(() => process.exit(0))));
}
