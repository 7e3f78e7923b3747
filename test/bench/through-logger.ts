import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createActivityLogger, type ActivityEvent, type ActivityLoggerOptions, type ActivityStore } from '../../src/index.js';

/** Events per batch and per burst of log() calls, in every end-to-end benchmark. */
export const BATCH = 1000;

/**
 * Logs n events (`event(i)`) through a logger over `store` with `options`, yielding between
 * bursts as a server would between requests, and waits until every one is stored; events/s.
 * With `delays`, fills in the event loop's p99 and longest delay over the run (ms). One more
 * event (a copy of the first) is written before the clock starts. With `cpu`, fills in the
 * process's CPU time (every thread) per event over the timed run, in µs.
 */
export async function throughLogger(
  store: ActivityStore,
  n: number,
  event: (i: number) => ActivityEvent,
  options: Partial<ActivityLoggerOptions> = {},
  delays?: { p99: number; max: number },
  cpu?: { perEventMicros: number },
): Promise<number> {
  const logger = createActivityLogger({ store, batchSize: BATCH, maxQueue: n + BATCH, onError: (error) => console.error(error), ...options });
  // Outside the timed loop, as the anchors open their connection and prepare their statement
  // before theirs: the store connects, migrates and starts its threads (SQLite's writer thread
  // loads through tsx from a checkout, about 0.6 s) on its first write, once per process.
  logger.log(event(0));
  await logger.flush();
  const histogram = delays ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
  histogram?.enable();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    for (let j = i; j < i + BATCH; j++) logger.log(event(j));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await logger.flush();
  const seconds = (performance.now() - started) / 1000;
  if (cpu) {
    const used = process.cpuUsage(cpuBefore);
    cpu.perEventMicros = (used.user + used.system) / n;
  }
  if (histogram && delays) {
    histogram.disable();
    delays.p99 = histogram.percentile(99) / 1e6;
    delays.max = histogram.max / 1e6;
  }
  const stats = logger.stats();
  if (stats.written !== n + 1) throw new Error(`logger wrote ${stats.written} of ${n} + 1: ${JSON.stringify(stats)}`);
  await logger.close();
  return n / seconds;
}
