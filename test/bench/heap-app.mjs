// The app side of heap.bench.ts, in a child process with plain `node --expose-gc` on the BUILT
// package (dist/), as users run it: an express app with one JSON route, and, in the `activity`
// variant, what a typical app adds: the request middleware, a SQLite store, one log() per
// request, and the admin logs API with the viewer mounted.
//
//   node --expose-gc test/bench/heap-app.mjs <bare|activity> <dir>
//
// Over IPC: ready(port); then, on each 'measure', the live heap after a full collection
// (heapUsed, external, arrayBuffers), once every event logged so far is written.
import { createServer } from 'node:http';
import { join } from 'node:path';

const [variant, dir] = process.argv.slice(2);
const dist = new URL('../../dist/', import.meta.url);
const fromDist = (file) => import(new URL(file, dist).href);

const express = (await import('express')).default;
const app = express();
let activity;
if (variant === 'activity') {
  const { createActivityLogger } = await fromDist('index.js');
  const { sqliteStore } = await fromDist('sqlite.js');
  const { activityMiddleware, activityLogsRouter } = await fromDist('express.js');
  activity = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'heap.db') }) });
  app.use(activityMiddleware(activity, { actor: (req) => ({ type: 'user', id: String(req.headers['x-user'] ?? 'u_1') }) }));
  app.use('/admin/logs', activityLogsRouter(activity, { authorize: () => true }));
}
app.get('/recipes/:id', (req, res) => {
  req.activity?.log({ action: 'recipe.view', target: { type: 'recipe', id: req.params.id }, metadata: { source: 'web' } });
  res.json({ id: req.params.id, name: `Recipe ${req.params.id}`, servings: 4 });
});
const server = createServer(app);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

async function live() {
  await activity?.flush();
  // Two full collections: the second frees what the first's finalizers released.
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc();
  const { heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers, written: activity?.stats().written ?? 0 };
}

process.on('message', async (message) => {
  if (message === 'measure') process.send({ measured: await live() });
  if (message === 'close') {
    server.closeAllConnections();
    server.close();
    await activity?.close();
    process.exit(0);
  }
});
process.send({ ready: server.address().port });
