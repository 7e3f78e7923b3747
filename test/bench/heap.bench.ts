/**
 * What an app's heap gains from the library (issue #14): an express app with a SQLite store,
 * the request middleware, one log() per request and the admin API with the viewer mounted,
 * against the same app without them, each in its own process on the built package (dist/),
 * measured after full collections: once the app has started (and served one request), and
 * after 10,000 requests (every event written). Variants interleaved over rounds; medians.
 *                                                                      target: <= 5 MiB
 *
 *   npm run build && npx tsx test/bench/heap.bench.ts     (about a minute)
 *   BENCH_REPEAT=5 ...                                     (more rounds)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.BENCH_REPEAT ?? 3);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const MiB = 1024 * 1024;
const app = fileURLToPath(new URL('./heap-app.mjs', import.meta.url));

interface Measured {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  written: number;
}

function measure(child: ChildProcess): Promise<Measured> {
  return new Promise((resolve) => {
    const onMessage = (message: { measured?: Measured }) => {
      if (!message.measured) return;
      child.off('message', onMessage);
      resolve(message.measured);
    };
    child.on('message', onMessage);
    child.send('measure');
  });
}

/** `count` GET requests over 16 keep-alive connections. */
async function load(port: number, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const id = next++;
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: `/recipes/${id}`, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
}

async function run(variant: 'bare' | 'activity', dir: string): Promise<{ start: Measured; after: Measured }> {
  const child = fork(app, [variant, dir], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { ready?: number }) => (message.ready ? resolve(message.ready) : reject(new Error('no port'))));
    child.once('exit', (code) => reject(new Error(`app exited with ${code}`)));
  });
  await load(port, 1);
  const start = await measure(child);
  await load(port, REQUESTS);
  const after = await measure(child);
  child.send('close');
  await new Promise((resolve) => child.once('exit', resolve));
  if (variant === 'activity' && after.written !== REQUESTS + 1) throw new Error(`wrote ${after.written} of ${REQUESTS + 1} events`);
  return { start, after };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-heap-'));
  try {
    const added = { start: [] as number[], after: [] as number[], startExternal: [] as number[], afterExternal: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const roundDir = mkdtempSync(join(dir, `r${round}-`));
      const order = round % 2 === 0 ? (['bare', 'activity'] as const) : (['activity', 'bare'] as const);
      const results: Partial<Record<'bare' | 'activity', { start: Measured; after: Measured }>> = {};
      for (const variant of order) results[variant] = await run(variant, roundDir);
      const { bare, activity } = results as Record<'bare' | 'activity', { start: Measured; after: Measured }>;
      added.start.push(activity.start.heapUsed - bare.start.heapUsed);
      added.after.push(activity.after.heapUsed - bare.after.heapUsed);
      added.startExternal.push(activity.start.external + activity.start.arrayBuffers - bare.start.external - bare.start.arrayBuffers);
      added.afterExternal.push(activity.after.external + activity.after.arrayBuffers - bare.after.external - bare.after.arrayBuffers);
      console.log(
        `  round ${round + 1}: bare ${mib(bare.start.heapUsed)} -> ${mib(bare.after.heapUsed)}, with activity-log ${mib(activity.start.heapUsed)} -> ${mib(activity.after.heapUsed)}`,
      );
    }
    const line = (name: string, value: number, target?: number) =>
      console.log(`  ${name.padEnd(64)} ${mib(value).padStart(10)}${target === undefined ? '' : value <= target ? '   meets target (<= 5 MiB)' : '   MISSES target (<= 5 MiB)'}`);
    console.log(`\nheap an express app gains from activity-log (SQLite store, middleware, viewer), median of ${ROUNDS}`);
    line('V8 heap at start (after one request)', median(added.start), 5 * MiB);
    line(`V8 heap after ${REQUESTS} requests (every event written)`, median(added.after), 5 * MiB);
    line('external + array buffers at start', median(added.startExternal));
    line(`external + array buffers after ${REQUESTS} requests`, median(added.afterExternal));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
