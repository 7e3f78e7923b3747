/**
 * activity-log with fastify, runnable in a clone: npx tsx examples/fastify.ts  (PORT=3000 by default)
 *   curl -X POST -H 'x-user: ada' http://127.0.0.1:3000/recipes/42/publish     → recipe.publish + recipe.notify
 *   curl -X POST http://127.0.0.1:3000/recipes/42/publish                       → 401, recorded as denied
 *   curl -H 'x-user: root' -H 'x-role: admin' http://127.0.0.1:3000/admin/logs  → the log, as JSON
 */
import Fastify, { type FastifyRequest } from 'fastify';
import { createActivityLogger, currentActivity } from '../src/index.js';
import { sqliteStore } from '../adapters/storage/sqlite.js';
import { activityLogsPlugin, activityPlugin } from '../adapters/frameworks/fastify.js';

const activity = createActivityLogger({ store: sqliteStore({ filename: process.env.DATABASE_FILE ?? 'activity.db' }) });
const app = Fastify();

// Demo sign-in: the caller names itself in headers. Use your real session here.
const userOf = (request: FastifyRequest) => {
  const id = request.headers['x-user'];
  return typeof id === 'string' ? { id, admin: request.headers['x-role'] === 'admin' } : undefined;
};

await app.register(activityPlugin, { logger: activity, actor: (request) => userOf(request) && { type: userOf(request)!.admin ? 'admin' : 'user', id: userOf(request)!.id } });

/** Deep in the app: the request's actor, request id and route come along without being passed. */
async function notifyFollowers(recipeId: string) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  currentActivity().log({ action: 'recipe.notify', target: { type: 'recipe', id: recipeId }, metadata: { followers: 3 } });
}

app.post<{ Params: { id: string } }>('/recipes/:id/publish', async (request, reply) => {
  if (!userOf(request)) return reply.code(401).send({ error: 'sign in first' }); // recorded automatically
  request.activity.log({ action: 'recipe.publish', target: { type: 'recipe', id: request.params.id } });
  await notifyFollowers(request.params.id);
  return { published: request.params.id };
});

await app.register(activityLogsPlugin, { prefix: '/admin/logs', logger: activity, authorize: (request) => userOf(request)?.admin === true });

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`fastify example on ${address}`);

// Shutdown: finish the open requests, then write every pending event.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void app.close().then(() => activity.close()).then(() => process.exit(0)));
}
