/**
 * The cost of one log() call on the caller's path, next to pino logging the same object to a
 * no-op destination, in the same process and run. Budget: log() ≤ 0.5 × pino.
 *
 * 1,000,000 calls per side, timed in chunks of 1,000; the figure is the median chunk's cost
 * per call. Between chunks the event loop turns, so the flusher drains the queue as it would
 * in an app (its cost is off the caller's path and not timed here).
 *
 *   npx tsx test/bench/log-call.bench.ts        (BENCH_CALLS to change the count)
 */
import pino from 'pino';
import { createActivityLogger, type ActivityStore } from '../../src/index.js';
import { toPage } from '../../src/for-store-authors.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const CHUNK = 1_000;

/** A store that accepts and forgets: this measures the caller's path, not storage. */
const discardStore: ActivityStore = {
  name: 'discard',
  async insert() {},
  async query(query) {
    return toPage([], query.limit);
  },
  async get() {
    return undefined;
  },
  async purge() {
    return 0;
  },
};

function event(i: number) {
  return {
    action: 'recipe.update',
    status: 'success' as const,
    actor: { type: 'user', id: 'u_1842', name: 'Ada Lovelace' },
    target: { type: 'recipe', id: `r_${i % 1000}` },
    tenantId: 'tenant_7',
    metadata: { servings: 4, slug: 'tomato-soup', tags: ['soup', 'vegan'] },
    context: { requestId: 'req_01HZX3', ip: '203.0.113.9', route: '/recipes/:id', method: 'PUT' },
    changes: { before: { servings: 2 }, after: { servings: 4 } },
  };
}

const events = Array.from({ length: CHUNK }, (_, i) => event(i));
const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Times `calls` calls in chunks; `between` runs untimed after each chunk. For log() it waits for
 * the flusher to empty the queue: in a loop this tight the flusher (several µs an event, off the
 * caller's path) falls behind, the queue fills, and log() would be timed dropping events.
 */
async function measure(call: (value: ReturnType<typeof event>) => void, calls: number, between: () => Promise<unknown> = turn): Promise<number[]> {
  const perCallNs: number[] = [];
  for (let done = 0; done < calls; done += CHUNK) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) call(events[i]!);
    perCallNs.push(Number(process.hrtime.bigint() - start) / CHUNK);
    await between();
  }
  return perCallNs;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

export async function runLogCallBench(): Promise<{ activityUs: number; pinoUs: number; ratio: number }> {
  const activity = createActivityLogger({ store: discardStore, maxQueue: 200_000, batchSize: 1000, onError: () => {} });
  const log = (value: ReturnType<typeof event>) => activity.log(value);
  const pinoLogger = pino({ level: 'info' }, { write() {} });
  const logPino = (value: ReturnType<typeof event>) => pinoLogger.info(value);

  const drained = () => activity.flush();
  await measure(log, 100_000, drained); // warm up both
  await measure(logPino, 100_000);
  // Interleave halves so drift in machine load affects both sides alike.
  const ours = [...(await measure(log, CALLS / 2, drained)), ...[]];
  const theirs = await measure(logPino, CALLS / 2);
  ours.push(...(await measure(log, CALLS / 2, drained)));
  theirs.push(...(await measure(logPino, CALLS / 2)));
  await activity.close();

  const stats = activity.stats();
  const activityUs = median(ours) / 1000;
  const pinoUs = median(theirs) / 1000;
  const ratio = activityUs / pinoUs;
  console.log(`log-call: ${CALLS.toLocaleString('en')} calls per side, 8-field event`);
  console.log(`  activity-log log(): ${activityUs.toFixed(3)} µs/call (median of ${CHUNK}-call chunks)`);
  console.log(`  pino info():        ${pinoUs.toFixed(3)} µs/call`);
  console.log(`  ratio: ${ratio.toFixed(3)} (budget ≤ 0.5) ${ratio <= 0.5 ? 'MET' : 'MISSED'}`);
  console.log(`  (written ${stats.written}, dropped ${stats.dropped}, invalid ${stats.invalid})${stats.dropped > 0 ? ' — INVALID: calls were timed dropping events' : ''}`);
  return { activityUs, pinoUs, ratio };
}

if (import.meta.url === `file://${process.argv[1]}`) await runLogCallBench();
