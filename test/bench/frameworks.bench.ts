/**
 * Framework benchmark (issues #4, #14): per framework, a JSON route under load from autocannon
 * in THIS process while each variant's server runs in a child process of its own
 * (framework-server.mjs, plain node on the built package in dist/, as users run it):
 *   none      bare: no logging at all
 *   peer      the request logger users already run: pino-http on express, fastify's own
 *             logger, each through pino to an asynchronous file destination
 *             (pino.destination({ sync: false })), hono's logger() printing to a file stream
 *   activity  the activity middleware, one req.activity.log() per request into sqliteStore
 *   nocontext the same with the middleware's asyncContext: false (no AsyncLocalStorage)
 *   sync      one synchronous better-sqlite3 INSERT per request: the work the middleware does,
 *             by hand (the store's table and indexes, the same 21 values, a context built from
 *             each request with a fresh request id echoed in the response's header)
 * All the variants' servers of a framework run side by side (idle but one), and the variants
 * are interleaved over BENCH_REPEAT rounds (the order rotated every round): each round
 * measures each variant at a fixed offered rate (BENCH_RATE; 2,000 req/s on express, 5,000 on
 * fastify and hono) and at saturation.
 * Figures are medians over the rounds; comparisons (added CPU, ratios) are taken within a round
 * first, so a slower round (another job on the machine) moves all variants together.
 *
 * CPU: the server's time on a CPU, ALL its threads (the sum over /proc/<pid>/task/∗/schedstat:
 * the request thread, the SQLite writer thread, GC and libuv threads), per request answered,
 * over the load and then the drain (until everything the phase logged is written), so the
 * writing is counted. Events: the logger's stats (activity, nocontext), the peer's lines in its
 * file (counted after it flushed), the INSERTs (sync); every one is checked written.
 *
 *   npm run build && npx tsx test/bench/frameworks.bench.ts   (about 8 minutes)
 *   BENCH_SECONDS=2 BENCH_REPEAT=1 ...                 (quicker, noisier; default 4 s, 3 rounds)
 *   BENCH_FRAMEWORKS=hono,express ...                  (a subset)
 *   BENCH_VARIANTS=none,activity ...                   (a subset of variants)
 *   BENCH_DIAGNOSE=1 ...                               (adds the middleware and nullstore variants)
 *   BENCH_CPU_PROF=/tmp/prof [BENCH_CPU_PROF_PHASE=saturated] ...   (a CPU profile per server)
 *   BENCH_NODE_FLAGS=--trace-gc ...                    (node flags for the servers)
 *   BENCH_BATCH_SIZE=..., BENCH_FLUSH_MS=...           (other logger settings)
 *
 * Only 127.0.0.1 is used. Not a test: it prints every figure and its verdict against the
 * targets, the misses too, and exits 0.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Framework = 'express' | 'fastify' | 'hono';
type Variant = 'none' | 'peer' | 'activity' | 'nocontext' | 'sync' | 'middleware' | 'nullstore';
/**
 * The five variants of the issue, plus two diagnostics that split the cost of `activity`:
 * `middleware` (the middleware, no log() call, nothing stored) and `nullstore` (middleware and
 * one log() per request into a store whose insert does nothing: the core's queue, validation
 * and flusher without SQLite). BENCH_DIAGNOSE=1 adds them.
 */
const VARIANTS: Variant[] = process.env.BENCH_VARIANTS
  ? (process.env.BENCH_VARIANTS.split(',') as Variant[])
  : process.env.BENCH_DIAGNOSE === '1'
    ? ['none', 'peer', 'activity', 'nocontext', 'sync', 'middleware', 'nullstore']
    : ['none', 'peer', 'activity', 'nocontext', 'sync'];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** Rounds: each variant's phases run once per round, the variants interleaved. */
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
/**
 * The fixed offered rate, req/s, per framework: one the bare server holds below 60 % of a core
 * on a small machine (express answers a request with about four times fastify's or hono's CPU).
 * BENCH_RATE sets one rate for all.
 */
const RATES: Record<Framework, number> = { express: 2000, fastify: 5000, hono: 5000 };
const rateOf = (framework: Framework): number => Number(process.env.BENCH_RATE ?? RATES[framework]);
const FRAMEWORK_LIST = (process.env.BENCH_FRAMEWORKS ?? 'express,fastify,hono').split(',') as Framework[];

/** What the server reports of one phase. */
interface ServerReport {
  /** The load part of the phase (the drain follows it). */
  durationMs: number;
  drainMs: number;
  elu: number;
  maxStallMs: number;
  p99StallMs: number;
  /** Requests the route answered. */
  handled: number;
  /** Events logged (for the peer: requests answered) and written (for the peer: counted in its file). */
  logged: number;
  written: number;
  dropped: number;
  queuedAtEnd: number;
}

/* ------------------------------------------------------------------ load (parent) side */

interface AutocannonResult {
  latency: { p99: number; p50: number; average: number };
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

function request<T>(child: ChildProcess, type: string, reply: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`server exited with ${code}`));
    const onMessage = (message: { type: string } & Record<string, unknown>) => {
      if (message.type === reply) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as T);
      }
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (type) child.send({ type });
  });
}

/** CPU time of all of a process's threads, and of its main thread, in ms (Linux; undefined elsewhere). */
function processCpu(pid: number): { totalMs: number; mainMs: number } | undefined {
  try {
    let totalNs = 0;
    let mainNs = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let ns: number;
      try {
        ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        continue; // a thread that ended between the listing and the read
      }
      totalNs += ns;
      if (tid === String(pid)) mainNs = ns;
    }
    return { totalMs: totalNs / 1e6, mainMs: mainNs / 1e6 };
  } catch {
    return undefined;
  }
}

interface Phase {
  load: AutocannonResult;
  server: ServerReport;
  /** CPU ms of all the server's threads over the phase (load and drain), and of its main thread. */
  cpuMs: number;
  mainCpuMs: number;
}
/** CPU µs per request answered, all threads or the main thread alone. */
const cpuPerRequest = (phase: Phase, thread: 'all' | 'main' = 'all') =>
  ((thread === 'all' ? phase.cpuMs : phase.mainCpuMs) * 1000) / Math.max(1, phase.server.handled);

interface Server {
  variant: Variant;
  child: ChildProcess;
  url: string;
  fixed: Phase[];
  saturated: Phase[];
}

async function startServer(framework: Framework, variant: Variant, dir: string): Promise<Server> {
  const child = fork(fileURLToPath(new URL('./framework-server.mjs', import.meta.url)), [framework, variant, dir], {
    // BENCH_NODE_FLAGS: extra node flags for the servers (--trace-gc, --max-semi-space-size=...).
    execArgv: (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await request<{ port: number }>(child, '', 'ready');
  return { variant, child, url: `http://127.0.0.1:${port}`, fixed: [], saturated: [] };
}

async function stopServer({ child }: Server): Promise<void> {
  try {
    await request(child, 'close', 'closed');
    // Let it exit on its own (a CPU profile is written at exit), but not for ever.
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000);
      child.once('exit', () => resolve(clearTimeout(timer)));
    });
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** One phase: the load, then the drain; the server's CPU read around both. */
async function runPhase(autocannon: Autocannon, server: Server, options: Record<string, unknown>): Promise<Phase> {
  let n = 0;
  const requests = [{ method: 'GET', setupRequest: (req: { path: string }) => ({ ...req, path: `/recipes/${++n % 1000}` }) }];
  const pid = server.child.pid!;
  await request(server.child, 'start', 'started');
  const before = processCpu(pid);
  const load = await autocannon({ url: `${server.url}/recipes/1`, requests, ...options });
  await request(server.child, 'stop', 'stopped');
  const after = processCpu(pid);
  const { report } = await request<{ report: ServerReport }>(server.child, 'report', 'report');
  return {
    load,
    server: report,
    cpuMs: before && after ? after.totalMs - before.totalMs : NaN,
    mainCpuMs: before && after ? after.mainMs - before.mainMs : NaN,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');
const runs = (values: number[], digits = 0) => values.map((v) => fmt(v, digits)).join('/');

async function measureFramework(autocannon: Autocannon, framework: Framework, dir: string): Promise<Map<Variant, Server>> {
  const servers = new Map<Variant, Server>();
  try {
    for (const variant of VARIANTS) servers.set(variant, await startServer(framework, variant, dir));
    // Warm-up: JIT, SQLite page cache, the peer's file, the connection pool.
    for (const server of servers.values()) await runPhase(autocannon, server, { connections: 20, duration: Math.max(1, Math.round(SECONDS / 2)) });
    for (let round = 0; round < REPEAT; round++) {
      // Interleaved, the order rotated each round: no variant always runs first or last.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      for (const variant of order) {
        const server = servers.get(variant)!;
        server.fixed.push(await runPhase(autocannon, server, { connections: 25, duration: SECONDS, overallRate: rateOf(framework) }));
        server.saturated.push(await runPhase(autocannon, server, { connections: 50, duration: SECONDS }));
      }
      process.stdout.write(`${framework}: round ${round + 1}/${REPEAT} done\n`);
    }
  } finally {
    for (const server of servers.values()) await stopServer(server);
  }
  return servers;
}

/** Everything a variant logged was written, and nothing failed or was dropped. */
function eventCheck(server: Server): string {
  const phases = [...server.fixed, ...server.saturated];
  const logged = sum(phases.map((p) => p.server.logged));
  const written = sum(phases.map((p) => p.server.written));
  const dropped = sum(phases.map((p) => p.server.dropped));
  const errors = sum(phases.map((p) => p.load.errors + p.load.timeouts + p.load.non2xx));
  const status = logged === 0 ? 'no events' : written === logged && dropped === 0 ? 'all written' : 'NOT ALL WRITTEN';
  return `${status} (${logged} logged, ${written} written, ${dropped} dropped${errors ? `, ${errors} request errors/non-2xx` : ''})`;
}

function report(framework: Framework, servers: Map<Variant, Server>): void {
  const RATE = rateOf(framework);
  const none = servers.get('none');
  const rounds = [...Array(REPEAT).keys()];
  /** Per round, the CPU µs per request a variant adds over bare in that round. */
  const added = (server: Server, which: 'fixed' | 'saturated', thread: 'all' | 'main' = 'all') =>
    none ? rounds.map((r) => cpuPerRequest(server[which][r]!, thread) - cpuPerRequest(none[which][r]!, thread)) : [];
  console.log(`\n${framework}`);
  console.log(
    '  variant    sat. req/s  x bare  p99 sat.  p99 fixed  CPU µs/req fixed (main)  sat. (main)  added fixed  added sat.  events',
  );
  for (const server of servers.values()) {
    const { fixed, saturated } = server;
    const satRate = median(saturated.map((p) => p.load.requests.average));
    const ratio = none ? median(rounds.map((r) => saturated[r]!.load.requests.average / none.saturated[r]!.load.requests.average)) : NaN;
    console.log(
      `  ${server.variant.padEnd(10)} ${fmt(satRate, 0).padStart(10)}  ${fmt(ratio).padStart(6)}  ${fmt(median(saturated.map((p) => p.load.latency.p99)), 0).padStart(5)} ms  ` +
        `${fmt(median(fixed.map((p) => p.load.latency.p99)), 0).padStart(6)} ms  ` +
        `${fmt(median(fixed.map((p) => cpuPerRequest(p))), 1).padStart(14)} (${fmt(median(fixed.map((p) => cpuPerRequest(p, 'main'))), 1).padStart(5)})  ` +
        `${fmt(median(saturated.map((p) => cpuPerRequest(p))), 1).padStart(5)} (${fmt(median(saturated.map((p) => cpuPerRequest(p, 'main'))), 1).padStart(5)})  ` +
        `${(server === none ? '' : `+${fmt(median(added(server, 'fixed')), 1)}`).padStart(11)}  ${(server === none ? '' : `+${fmt(median(added(server, 'saturated')), 1)}`).padStart(10)}  ${eventCheck(server)}`,
    );
    console.log(
      `  ${''.padEnd(10)} runs: sat. ${runs(saturated.map((p) => p.load.requests.average))} req/s; fixed p99 ${runs(fixed.map((p) => p.load.latency.p99))} ms; ` +
        `CPU fixed ${runs(fixed.map((p) => cpuPerRequest(p)), 1)} µs, sat. ${runs(saturated.map((p) => cpuPerRequest(p)), 1)} µs; ` +
        `fixed ${runs(fixed.map((p) => p.load.requests.average))} req/s, loop stall max ${fmt(median(fixed.map((p) => p.server.maxStallMs)), 1)} ms`,
    );
  }
  if (none) {
    const load = median(none.fixed.map((p) => p.cpuMs / p.server.durationMs));
    console.log(`  the bare server at ${RATE} req/s: ${fmt(load * 100, 0)}% of a core, all threads (the fixed rate is to be below 60%: ${verdict(load < 0.6)})`);
  }

  const activity = servers.get('activity');
  const peer = servers.get('peer');
  if (!none || !activity || !peer) {
    console.log('  targets need the none, peer and activity variants');
    return;
  }
  console.log('  targets (issue #14):');
  for (const which of ['fixed', 'saturated'] as const) {
    const ours = added(activity, which);
    const theirs = added(peer, which);
    const ratios = rounds.map((r) => ours[r]! / theirs[r]!);
    const ratio = median(ours) / median(theirs);
    console.log(
      `    added CPU per request (${which === 'fixed' ? `at ${RATE} req/s` : 'at saturation'}): this middleware +${fmt(median(ours), 1)} µs vs the peer +${fmt(median(theirs), 1)} µs = ${fmt(ratio)}x ` +
        `(target <= 1, moonshot <= 0.5) ${verdict(ratio <= 1)}${ratio <= 0.5 ? ' (moonshot too)' : ''}; per round ${runs(ratios, 2)}x` +
        `; main thread +${fmt(median(added(activity, which, 'main')), 1)} µs vs +${fmt(median(added(peer, which, 'main')), 1)} µs`,
    );
  }
  const p99 = median(activity.fixed.map((p) => p.load.latency.p99));
  const peerP99 = median(peer.fixed.map((p) => p.load.latency.p99));
  console.log(`    p99 at ${RATE} req/s: ${fmt(p99, 0)} ms vs the peer's ${fmt(peerP99, 0)} ms ${verdict(p99 <= peerP99)}`);
  const satRatio = median(rounds.map((r) => activity.saturated[r]!.load.requests.average / peer.saturated[r]!.load.requests.average));
  console.log(`    saturation throughput: ${fmt(satRatio)}x the peer's (target >= 1) ${verdict(satRatio >= 1)}`);
  const sync = servers.get('sync');
  if (sync) {
    const syncRatio = median(rounds.map((r) => activity.saturated[r]!.load.requests.average / sync.saturated[r]!.load.requests.average));
    console.log(`    (saturation throughput ${fmt(syncRatio)}x the synchronous INSERT's)`);
  }
  const nocontext = servers.get('nocontext');
  if (nocontext) {
    const saved = rounds.map((r) => added(activity, 'fixed')[r]! - added(nocontext, 'fixed')[r]!);
    console.log(`    asyncContext: false saves ${fmt(median(saved), 1)} µs per request at ${RATE} req/s (per round ${runs(saved, 1)})`);
  }
  const middleware = servers.get('middleware');
  const nullstore = servers.get('nullstore');
  if (middleware && nullstore) {
    const mw = median(added(middleware, 'fixed'));
    const core = median(added(nullstore, 'fixed')) - mw;
    const sqlite = median(added(activity, 'fixed')) - median(added(nullstore, 'fixed'));
    console.log(`    split of the added CPU at ${RATE} req/s: middleware ${fmt(mw, 1)} µs, log() and the pipeline ${fmt(core, 1)} µs, SQLite ${fmt(sqlite, 1)} µs`);
  }
}

async function main(): Promise<void> {
  const autocannon = (await import('autocannon' as string)).default as Autocannon;
  const dir = mkdtempSync(join(tmpdir(), 'activity-bench-'));
  if (!existsSync(new URL('../../dist/sqlite.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` first (`npm run bench` does)');
  console.log(
    `framework benchmark: ${SECONDS}s per phase, ${REPEAT} interleaved rounds (medians), fixed rate ${FRAMEWORK_LIST.map((f) => `${f} ${rateOf(f)}`).join(', ')} req/s, variants ${VARIANTS.join(', ')}, node ${process.version}`,
  );
  try {
    for (const framework of FRAMEWORK_LIST) report(framework, await measureFramework(autocannon, framework, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
