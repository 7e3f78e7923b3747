// The server side of frameworks.bench.ts, run in a child process with plain `node` on the BUILT
// package (dist/), the code users run: no TypeScript loader in the measured process (tsx
// would add its loader thread and wrap every function it creates).
//
//   node test/bench/framework-server.mjs <express|fastify|hono> <variant> <dir>
//
// Variants: none | peer | activity | nocontext | sync | middleware | nullstore (see
// frameworks.bench.ts). It reports over IPC: ready(port), then per measured phase started,
// stopped (once everything logged in the phase is written) and report, closed at the end.
import { createWriteStream, openSync, readSync, closeSync, statSync } from 'node:fs';
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
/** Requests the route answered (every variant). */
let handled = 0;
/**
 * The peer request logger's file, and the lines it writes per request: its events are counted
 * from the file, after its stream has written everything out (`drain`).
 */
let peerFile;
let peerLinesPerRequest = 1;
let drainPeer = async () => {};
let peerDestination;
let peerPrint;
/** The sync variant's INSERT: (target id, { ip, userAgent, method, route }, setHeader). */
let anchorInsert;

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
  // The anchor most apps would write by hand: one synchronous INSERT per request, doing exactly
  // the work the middleware does and no more. The same table (made by the store's own
  // migration: the same columns and indexes), the same 21 values per row, among them a context
  // built from each request (ip, user agent, method, route) with a fresh request id, which the
  // response echoes in the same header.
  const Database = (await import('better-sqlite3')).default;
  const { randomUUID } = await import('node:crypto');
  const { sqliteStore } = await fromDist('sqlite.js');
  const filename = join(dir, `anchor-${framework}.db`);
  const schemaOwner = sqliteStore({ filename });
  await schemaOwner.migrate();
  await schemaOwner.close?.();
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insert = db.prepare(`INSERT INTO activity_logs (id, occurred_at, action, status, actor_type, actor_id, actor_name,
    target_type, target_id, target_name, tenant_id, metadata, changes, error, context,
    integrity_chain, integrity_seq, integrity_key, integrity_prev, integrity_hash, integrity_proof)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  let count = 0;
  stats = () => ({ enqueued: count, written: count, dropped: 0, queued: 0 });
  closeLogger = async () => db.close();
  anchorInsert = (id, request, setHeader) => {
    const requestId = randomUUID();
    setHeader('x-request-id', requestId);
    const context = JSON.stringify({ ip: request.ip, userAgent: request.userAgent, requestId, method: request.method, route: request.route });
    insert.run(randomUUID(), Date.now(), 'recipe.view', 'success', 'anonymous', null, null, 'recipe', id, null, null, null, null, null, context, null, null, null, null, null, null);
    count++;
  };
}

if (variant === 'peer') {
  // The request logger users already run: pino-http on express and fastify's own logger, each
  // through pino to an asynchronous file destination; hono's logger() to a file stream.
  peerFile = join(dir, `peer-${framework}.log`);
  if (framework === 'hono') {
    const stream = createWriteStream(peerFile);
    logEvent = undefined;
    peerLinesPerRequest = 2; // '<-- GET /path' and '--> GET /path 200 1ms'
    peerPrint = (line) => stream.write(`${line}\n`);
    drainPeer = async () => {
      while (stream.writableLength > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    };
  } else {
    const pino = (await import('pino')).default;
    const destination = pino.destination({ dest: peerFile, sync: false, mkdir: true });
    peerDestination = destination;
    peerLinesPerRequest = framework === 'fastify' ? 2 : 1; // fastify: 'incoming request' and 'request completed'
    // sonic-boom's flush() answers at once without minLength: wait until its writes are done.
    drainPeer = async () => {
      while (destination._writing || destination._len > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    };
  }
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
  if (variant === 'peer') app.use((await import('pino-http')).default({}, peerDestination));
  app.get('/recipes/:id', (req, res) => {
    handled++;
    logEvent?.(req.params.id, req.activity);
    anchorInsert?.(req.params.id, { ip: req.ip, userAgent: req.get('user-agent'), method: req.method, route: req.route.path }, (name, value) => res.setHeader(name, value));
    res.json(body(req.params.id));
  });
  const server = createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  closeServer = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
} else if (framework === 'fastify') {
  const Fastify = (await import('fastify')).default;
  const app = Fastify({ logger: variant === 'peer' ? { stream: peerDestination } : false });
  if (logger) await app.register((await fromDist('fastify.js')).activityPlugin, { logger, ...middlewareOptions });
  app.get('/recipes/:id', async (request, reply) => {
    handled++;
    logEvent?.(request.params.id, request.activity);
    anchorInsert?.(request.params.id, { ip: request.ip, userAgent: request.headers['user-agent'], method: request.method, route: request.routeOptions.url }, (name, value) => reply.header(name, value));
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
  if (variant === 'peer') app.use((await import('hono/logger')).logger(peerPrint));
  app.get('/recipes/:id', (c) => {
    handled++;
    logEvent?.(c.req.param('id'), logger ? c.get('activity') : undefined);
    anchorInsert?.(c.req.param('id'), { ip: c.env.incoming.socket.remoteAddress, userAgent: c.req.header('user-agent'), method: c.req.method, route: c.req.routePath }, (name, value) => c.env.outgoing.setHeader(name, value));
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
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  return {
    start: () => post('Profiler.start'),
    stop: async (file) => {
      const { profile } = await post('Profiler.stop');
      // The directory named by BENCH_CPU_PROF need not exist yet.
      mkdirSync(process.env.BENCH_CPU_PROF, { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}
const profiler = process.env.BENCH_CPU_PROF ? await startProfiler() : undefined;

/** Newlines in `file` from byte `from` on: the peer's lines written in a phase. */
function linesFrom(file, from) {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    let lines = 0;
    for (let at = from; ; ) {
      const read = readSync(fd, buffer, 0, buffer.length, at);
      if (read === 0) return lines;
      for (let i = buffer.indexOf(10); i !== -1 && i < read; i = buffer.indexOf(10, i + 1)) lines++;
      at += read;
    }
  } finally {
    closeSync(fd);
  }
}
const fileSize = (file) => (file ? statSync(file, { throwIfNoEntry: false })?.size ?? 0 : 0);

/** Waits (at most 20 s) until the logger has settled everything logged so far, and the peer's stream too. */
async function drain() {
  const deadline = Date.now() + 20_000;
  while (stats().queued > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  await drainPeer();
}

// Measurement windows are driven by the parent, which reads the CPU time of all this process's
// threads from /proc around each phase: the phase is the load and then the drain, so the CPU
// of writing what the phase logged (the SQLite writer thread, pino's destination) is in it.
let histogram = monitorEventLoopDelay({ resolution: 1 });
let eluStart = performance.eventLoopUtilization();
let startedAt = performance.now();
let baseline = stats();
let handledAtStart = 0;
let peerOffset = 0;
let stopped;
let phase = 0;
// Phase 1 is the warm-up; 2 and 3 are the first round's fixed-rate and saturated phases.
const profiledPhase = process.env.BENCH_CPU_PROF_PHASE === 'saturated' ? 3 : 2;
process.on('message', async (message) => {
  if (message.type === 'start') {
    if (++phase === profiledPhase) await profiler?.start();
    histogram.disable();
    histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    baseline = stats();
    handledAtStart = handled;
    peerOffset = fileSize(peerFile);
    eluStart = performance.eventLoopUtilization();
    startedAt = performance.now();
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const elu = performance.eventLoopUtilization(eluStart).utilization;
    const durationMs = performance.now() - startedAt;
    histogram.disable();
    await drain();
    stopped = { elu, durationMs, drainMs: performance.now() - startedAt - durationMs, now: stats(), handled: handled - handledAtStart };
    process.send({ type: 'stopped' });
  } else if (message.type === 'report') {
    // After the parent read the CPU times: counting the peer's lines is not part of the phase.
    if (phase === profiledPhase) await profiler?.stop(join(process.env.BENCH_CPU_PROF, `${framework}-${variant}.cpuprofile`));
    const { elu, durationMs, drainMs, now } = stopped;
    const peerEvents = peerFile ? linesFrom(peerFile, peerOffset) / peerLinesPerRequest : undefined;
    process.send({
      type: 'report',
      report: {
        durationMs,
        drainMs,
        elu,
        maxStallMs: histogram.max / 1e6,
        p99StallMs: histogram.percentile(99) / 1e6,
        handled: stopped.handled,
        logged: peerEvents === undefined ? now.enqueued - baseline.enqueued : stopped.handled,
        written: peerEvents ?? now.written - baseline.written,
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
