// The server side of frameworks.bench.ts, run in a child process with plain `node` on the BUILT
// package (dist/), the code users run: no TypeScript loader in the measured process (tsx
// would add its loader thread and wrap every function it creates).
//
//   node test/bench/framework-server.mjs <express|fastify|hono> <variant> <dir>
//
// Variants: none | activity | sync | middleware | nullstore | nocontext (see frameworks.bench.ts). It
// reports over IPC: ready(port), then started/report per measured phase, closed at the end.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const [framework, variant, dir] = process.argv.slice(2);
const dist = new URL('../../dist/', import.meta.url);
const fromDist = (file) => import(new URL(file, dist).href);

let logEvent;
let stats = () => ({ enqueued: 0, written: 0, dropped: 0, queued: 0 });
let closeLogger = async () => {};
let logger;

if (variant === 'activity' || variant === 'middleware' || variant === 'nullstore' || variant === 'nocontext') {
  const { createActivityLogger } = await fromDist('index.js');
  const { sqliteStore } = await fromDist('sqlite.js');
  const { memoryStore } = await fromDist('memory.js');
  const nullStore = { ...memoryStore(), name: 'null', insert: async () => {} };
  const store = variant === 'activity' || variant === 'nocontext' ? sqliteStore({ filename: join(dir, `${variant}-${framework}.db`) }) : nullStore;
  // BENCH_BATCH_SIZE, BENCH_FLUSH_MS: try another batchSize or flushIntervalMs (the defaults are the library's).
  logger = createActivityLogger({ store, onError: () => {}, ...(process.env.BENCH_BATCH_SIZE ? { batchSize: Number(process.env.BENCH_BATCH_SIZE) } : {}), ...(process.env.BENCH_FLUSH_MS ? { flushIntervalMs: Number(process.env.BENCH_FLUSH_MS) } : {}) });
  stats = () => logger.stats();
  closeLogger = () => logger.close();
  if (variant !== 'middleware') logEvent = (id, activity) => activity.log({ action: 'recipe.view', target: { type: 'recipe', id } });
} else if (variant === 'sync') {
  // The anchor most apps use today: one synchronous INSERT per request into an indexed table.
  const Database = (await import('better-sqlite3')).default;
  const { randomUUID } = await import('node:crypto');
  const db = new Database(join(dir, `anchor-${framework}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS activity_logs (
    id TEXT PRIMARY KEY, occurred_at INTEGER NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL,
    actor_type TEXT, actor_id TEXT, target_type TEXT, target_id TEXT, tenant_id TEXT,
    metadata TEXT, context TEXT)`);
  for (const columns of ['occurred_at', 'actor_type, actor_id, occurred_at', 'action, occurred_at', 'target_type, target_id, occurred_at', 'tenant_id, occurred_at', 'status, occurred_at']) {
    db.exec(`CREATE INDEX IF NOT EXISTS idx_${columns.replace(/[, ]+/g, '_')} ON activity_logs (${columns})`);
  }
  const insert = db.prepare('INSERT INTO activity_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  let count = 0;
  stats = () => ({ enqueued: count, written: count, dropped: 0, queued: 0 });
  closeLogger = async () => db.close();
  logEvent = (id) => {
    insert.run(randomUUID(), Date.now(), 'recipe.view', 'success', 'anonymous', null, 'recipe', id, null, null, '{"method":"GET","route":"/recipes/:id"}');
    count++;
  };
}

// nocontext: the activity variant with the middleware's asyncContext: false (no AsyncLocalStorage).
const middlewareOptions = variant === 'nocontext' ? { asyncContext: false } : {};
const body = (id) => ({ id, name: `Recipe ${id}`, servings: 4, tags: ['quick', 'vegetarian'] });
let port;
let closeServer;
if (framework === 'express') {
  const express = (await import('express')).default;
  const app = express();
  if (logger) app.use((await fromDist('express.js')).activityMiddleware(logger, middlewareOptions));
  app.get('/recipes/:id', (req, res) => {
    logEvent?.(req.params.id, req.activity);
    res.json(body(req.params.id));
  });
  const server = createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  closeServer = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
} else if (framework === 'fastify') {
  const Fastify = (await import('fastify')).default;
  const app = Fastify({ logger: false });
  if (logger) await app.register((await fromDist('fastify.js')).activityPlugin, { logger, ...middlewareOptions });
  app.get('/recipes/:id', async (request) => {
    logEvent?.(request.params.id, request.activity);
    return body(request.params.id);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = app.server.address().port;
  closeServer = () => app.close();
} else {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  if (logger) app.use((await fromDist('hono.js')).activityMiddleware(logger, middlewareOptions));
  app.get('/recipes/:id', (c) => {
    logEvent?.(c.req.param('id'), logger ? c.get('activity') : undefined);
    return c.json(body(c.req.param('id')));
  });
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  port = server.address().port;
  closeServer = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
}

// BENCH_CPU_PROF=dir: a V8 CPU profile of the main thread during the first fixed-rate phase
// (or the first saturated one with BENCH_CPU_PROF_PHASE=saturated), written to dir. The
// profiler itself inflates the ELU of that run.
async function startProfiler() {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  return {
    start: () => post('Profiler.start'),
    stop: async (file) => writeFileSync(file, JSON.stringify((await post('Profiler.stop')).profile)),
  };
}
const profiler = process.env.BENCH_CPU_PROF ? await startProfiler() : undefined;

/**
 * This thread's (the request thread's) time on a CPU and time spent ready but waiting for one,
 * in ms, from /proc/thread-self/schedstat (Linux, nanoseconds); undefined elsewhere. ELU counts
 * both while the loop is busy; on a 2-core machine shared with the load generator and the
 * writer thread the wait is a good part of it.
 */
async function threadTimes() {
  try {
    const { readFileSync } = await import('node:fs');
    const [cpuNs, waitNs] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(' ').map(Number);
    return Number.isFinite(cpuNs) && Number.isFinite(waitNs) ? { cpuMs: cpuNs / 1e6, waitMs: waitNs / 1e6 } : undefined;
  } catch {
    return undefined;
  }
}

// Measurement windows are driven by the parent, so they cover exactly the load.
let histogram = monitorEventLoopDelay({ resolution: 1 });
let eluStart = performance.eventLoopUtilization();
let startedAt = performance.now();
let baseline = stats();
let timesStart;
let phase = 0;
const profiledPhase = process.env.BENCH_CPU_PROF_PHASE === 'saturated' ? 2 : 1;
process.on('message', async (message) => {
  if (message.type === 'start') {
    if (++phase === profiledPhase) await profiler?.start();
    histogram.disable();
    histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    baseline = stats();
    timesStart = await threadTimes();
    eluStart = performance.eventLoopUtilization();
    startedAt = performance.now();
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const elu = performance.eventLoopUtilization(eluStart).utilization;
    const durationMs = performance.now() - startedAt;
    const timesEnd = await threadTimes();
    histogram.disable();
    const now = stats();
    if (phase === profiledPhase) await profiler?.stop(join(process.env.BENCH_CPU_PROF, `${framework}-${variant}.cpuprofile`));
    process.send({
      type: 'report',
      report: {
        durationMs,
        elu,
        cpuMs: timesStart && timesEnd ? timesEnd.cpuMs - timesStart.cpuMs : undefined,
        waitMs: timesStart && timesEnd ? timesEnd.waitMs - timesStart.waitMs : undefined,
        maxStallMs: histogram.max / 1e6,
        p99StallMs: histogram.percentile(99) / 1e6,
        logged: now.enqueued - baseline.enqueued,
        written: now.written - baseline.written,
        dropped: now.dropped - baseline.dropped,
        queuedAtEnd: now.queued,
      },
    });
  } else if (message.type === 'close') {
    await closeServer();
    await closeLogger();
    process.send({ type: 'closed' });
    process.disconnect();
  }
});
process.send({ type: 'ready', port });
