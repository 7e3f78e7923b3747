import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createActivityLogger, type ActivityEvent, type ActivityLoggerOptions, type ActivityStore } from '../../src/index.js';

/** Events per batch and per burst of log() calls, in every end-to-end benchmark. */
export const BATCH = 1000;

/**
 * Logs n events (`event(i)`) through a logger over `store` with `options`, yielding between
 * bursts as a server would between requests, and waits until every one is stored; events/s.
 * With `delays`, fills in the event loop's p99 and longest delay over the run (ms).
 */
export async function throughLogger(
  store: ActivityStore,
  n: number,
  event: (i: number) => ActivityEvent,
  options: Partial<ActivityLoggerOptions> = {},
  delays?: { p99: number; max: number },
): Promise<number> {
  const logger = createActivityLogger({ store, batchSize: BATCH, maxQueue: n + BATCH, onError: (error) => console.error(error), ...options });
  const histogram = delays ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
  histogram?.enable();
  const started = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    for (let j = i; j < i + BATCH; j++) logger.log(event(j));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await logger.flush();
  const seconds = (performance.now() - started) / 1000;
  if (histogram && delays) {
    histogram.disable();
    delays.p99 = histogram.percentile(99) / 1e6;
    delays.max = histogram.max / 1e6;
  }
  const stats = logger.stats();
  if (stats.written !== n) throw new Error(`logger wrote ${stats.written} of ${n}: ${JSON.stringify(stats)}`);
  await logger.close();
  return n / seconds;
}
