/**
 * Framework benchmark (issue #4): per framework, a JSON route under load from autocannon in
 * THIS process while the server runs in a child process (framework-server.mjs, plain node on
 * the built package in dist/, as users run it), in three variants:
 *   none      no logging at all
 *   activity  the activity middleware, one req.activity.log() per request into sqliteStore
 *   sync      the anchor: one synchronous better-sqlite3 INSERT per request (indexed table)
 * Phases: a short warm-up, a fixed offered rate (5,000 req/s), then saturation.
 *
 *   npm run build && npx tsx test/bench/frameworks.bench.ts   (about 4 minutes)
 *   BENCH_SECONDS=2 npx tsx test/bench/frameworks.bench.ts
 *   BENCH_FRAMEWORKS=hono,express ...                  (a subset)
 *
 * Only 127.0.0.1 is used. Not a test: it prints numbers and ratios against the targets,
 * including the ones it misses, and exits 0.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Framework = 'express' | 'fastify' | 'hono';
type Variant = 'none' | 'activity' | 'sync' | 'middleware' | 'nullstore';
/**
 * The three variants of the issue, plus two diagnostics that split the cost of `activity`:
 * `middleware` (the middleware, no log() call, nothing stored) and `nullstore` (middleware and
 * one log() per request into a store whose insert does nothing: the core's queue, validation
 * and flusher without SQLite). BENCH_DIAGNOSE=0 leaves them out.
 */
const VARIANTS: Variant[] = process.env.BENCH_DIAGNOSE === '0' ? ['none', 'activity', 'sync'] : ['none', 'activity', 'sync', 'middleware', 'nullstore'];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const FRAMEWORK_LIST = (process.env.BENCH_FRAMEWORKS ?? 'express,fastify,hono').split(',') as Framework[];

interface ServerReport {
  durationMs: number;
  elu: number;
  maxStallMs: number;
  p99StallMs: number;
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
    const onMessage = (message: { type: string } & Record<string, unknown>) => {
      if (message.type === reply) {
        child.off('message', onMessage);
        resolve(message as T);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    if (type) child.send({ type });
  });
}

interface VariantResult {
  fixed: AutocannonResult;
  fixedServer: ServerReport;
  saturated: AutocannonResult;
  saturatedServer: ServerReport;
}

async function measure(autocannon: Autocannon, framework: Framework, variant: Variant, dir: string): Promise<VariantResult> {
  const child = fork(fileURLToPath(new URL('./framework-server.mjs', import.meta.url)), [framework, variant, dir], {
    // BENCH_NODE_FLAGS: extra node flags for the servers (--trace-gc, --max-semi-space-size=...).
    execArgv: (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { port } = await request<{ port: number }>(child, '', 'ready');
    let n = 0;
    const url = `http://127.0.0.1:${port}`;
    const requests = [{ method: 'GET', setupRequest: (req: { path: string }) => ({ ...req, path: `/recipes/${++n % 1000}` }) }];
    // Warm-up: JIT, SQLite page cache, connection pool.
    await autocannon({ url: `${url}/recipes/1`, connections: 20, duration: Math.max(1, Math.round(SECONDS / 3)), requests });

    await request(child, 'start', 'started');
    const fixed = await autocannon({ url: `${url}/recipes/1`, connections: 25, duration: SECONDS, overallRate: RATE, requests });
    const { report: fixedServer } = await request<{ report: ServerReport }>(child, 'stop', 'report');

    await request(child, 'start', 'started');
    const saturated = await autocannon({ url: `${url}/recipes/1`, connections: 50, duration: SECONDS, requests });
    const { report: saturatedServer } = await request<{ report: ServerReport }>(child, 'stop', 'report');
    await request(child, 'close', 'closed');
    // Let it exit on its own (a CPU profile is written at exit), but not for ever.
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000);
      child.once('exit', () => resolve(clearTimeout(timer)));
    });
    return { fixed, fixedServer, saturated, saturatedServer };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');

async function main(): Promise<void> {
  const autocannon = (await import('autocannon' as string)).default as Autocannon;
  const dir = mkdtempSync(join(tmpdir(), 'activity-bench-'));
  if (!existsSync(new URL('../../dist/sqlite.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` first (`npm run bench` does)');
  console.log(`framework benchmark: ${SECONDS}s per phase, fixed rate ${RATE} req/s, store sqliteStore (better-sqlite3, WAL), node ${process.version}`);
  const results: Record<string, Record<Variant, VariantResult>> = {};
  try {
    for (const framework of FRAMEWORK_LIST) {
      results[framework] = {} as Record<Variant, VariantResult>;
      for (const variant of VARIANTS) {
        const result = await measure(autocannon, framework, variant, dir);
        results[framework]![variant] = result;
        const { fixed, fixedServer: fs, saturated, saturatedServer: ss } = result;
        console.log(
          `${framework.padEnd(8)} ${variant.padEnd(9)} fixed: ${fmt(fixed.requests.average, 0)} req/s p50 ${fmt(fixed.latency.p50)} ms p99 ${fmt(fixed.latency.p99)} ms, ` +
            `ELU ${fmt(fs.elu * 100, 1)}%, loop stall max ${fmt(fs.maxStallMs, 1)} ms p99 ${fmt(fs.p99StallMs, 1)} ms, logged ${fs.logged} written ${fs.written}` +
            ` | saturated: ${fmt(saturated.requests.average, 0)} req/s p99 ${fmt(saturated.latency.p99)} ms, stall max ${fmt(ss.maxStallMs, 1)} ms, dropped ${ss.dropped}` +
            (fixed.errors + fixed.non2xx + saturated.errors + saturated.non2xx > 0 ? `, errors ${fixed.errors + saturated.errors} non2xx ${fixed.non2xx + saturated.non2xx}` : ''),
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\ntargets (issue #4):');
  for (const framework of FRAMEWORK_LIST) {
    const r = results[framework]!;
    const p99Without = r.none.fixed.latency.p99;
    const p99With = r.activity.fixed.latency.p99;
    const p99Limit = 1.2 * p99Without + 1;
    const stall = r.activity.fixedServer.maxStallMs;
    const eluDelta = r.activity.fixedServer.elu - r.none.fixedServer.elu;
    const events = r.activity.fixedServer.logged;
    const costUs = (eluDelta * r.activity.fixedServer.durationMs * 1000) / Math.max(1, events);
    const throughputRatio = r.activity.saturated.requests.average / r.none.saturated.requests.average;
    const anchorRatio = r.activity.saturated.requests.average / r.sync.saturated.requests.average;
    const anchorKeeps = r.sync.saturated.requests.average / r.none.saturated.requests.average;
    console.log(`${framework}:`);
    console.log(`  1a p99 at ${RATE} req/s: ${fmt(p99With)} ms with logging vs ${fmt(p99Without)} ms without = ${fmt(p99With / p99Without)}x (limit ${fmt(p99Limit)} ms) ${verdict(p99With <= p99Limit)}`);
    console.log(`  1b max event-loop stall with logging: ${fmt(stall, 1)} ms (limit 10 ms) ${verdict(stall <= 10)}; without logging: ${fmt(r.none.fixedServer.maxStallMs, 1)} ms`);
    console.log(`  2  main-thread cost per logged event: ${fmt(costUs)} µs (ELU ${fmt(r.activity.fixedServer.elu * 100, 1)}% - ${fmt(r.none.fixedServer.elu * 100, 1)}% over ${fmt(r.activity.fixedServer.durationMs / 1000, 1)} s, ${events} events; limit 3 µs) ${verdict(costUs <= 3)}`);
    if (framework === 'express') {
      console.log(`  3  saturation: logging keeps ${fmt(throughputRatio * 100, 1)}% of no-logging throughput (target >= 90%) ${verdict(throughputRatio >= 0.9)}; ${fmt(anchorRatio)}x the sync anchor`);
    } else {
      console.log(`  3  saturation: logging = ${fmt(anchorRatio)}x the sync anchor (target >= 3x) ${verdict(anchorRatio >= 3)}; keeps ${fmt(throughputRatio * 100, 1)}% of no-logging`);
    }
    console.log(`     (sync anchor keeps ${fmt(anchorKeeps * 100, 1)}% of no-logging throughput)`);
    if (r.middleware && r.nullstore) {
      const perRequest = (v: VariantResult) => ((v.fixedServer.elu - r.none.fixedServer.elu) * v.fixedServer.durationMs * 1000) / Math.max(1, v.fixed.requests.total);
      const mw = perRequest(r.middleware);
      const core = perRequest(r.nullstore) - mw;
      const sqlite = perRequest(r.activity) - perRequest(r.nullstore);
      console.log(
        `  split of the main-thread cost per request/event: middleware ${fmt(mw)} µs, log()+queue+validation+flusher ${fmt(core)} µs, SQLite insert ${fmt(sqlite)} µs` +
          `; saturation: middleware only ${fmt((r.middleware.saturated.requests.average / r.none.saturated.requests.average) * 100, 1)}%, null store ${fmt((r.nullstore.saturated.requests.average / r.none.saturated.requests.average) * 100, 1)}% of no-logging; stall max (fixed rate) middleware ${fmt(r.middleware.fixedServer.maxStallMs, 1)} ms, null store ${fmt(r.nullstore.fixedServer.maxStallMs, 1)} ms`,
      );
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
