import { randomUUID } from 'node:crypto';
import { ActivityLogError } from '../errors.js';
import type { NormalizedPurgeOptions } from '../schema.js';
import type { ActivityStore } from '../store.js';
import { MAX_TIMER_MS, type ResolvedRetention } from './options.js';
import { partitionCutoff, retentionPurges } from './plan.js';

/** The delay before the next pass: the interval, give or take a tenth, never past what a timer takes. */
export function nextDelay(intervalMs: number, random: number): number {
  return Math.min(intervalMs * (0.9 + random * 0.2), MAX_TIMER_MS);
}

/** The lease every instance of an app competes for; one pass at a time across them. */
const LEASE = 'activity-log:retention';

/** What a pass reports back: the records it deleted, counted as they go. */
export interface RetentionHooks {
  /** Runs each purge (the logger's: parsed, counted in `stats().purged`). */
  purge(options: NormalizedPurgeOptions): Promise<number>;
  /** Drops the store's partitions older than `before` (counted in `stats().purged` too). */
  dropPartitions(before: Date): Promise<number>;
  /** Reports a failed pass through `onError`. */
  report(error: ActivityLogError): void;
}

/**
 * Runs retention passes on a timer: the first within one interval of start (at a random
 * point, so instances started together do not all come at once), then every interval, with
 * a tenth of jitter. A pass takes the store's lease first (when the store has leases), so
 * one instance purges at a time; it deletes in slices of `batchSize`, renewing the lease
 * between them and stopping between them when the logger closes. Timers never keep the
 * process alive.
 */
export class RetentionScheduler {
  private readonly holder = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number | undefined> | undefined;
  private stopped = false;

  constructor(
    private readonly retention: ResolvedRetention,
    private readonly store: ActivityStore,
    private readonly hooks: RetentionHooks,
  ) {}

  start(): void {
    this.schedule(Math.random() * this.retention.intervalMs);
  }

  /**
   * One pass now, or the pass already running. Resolves to how many records it deleted, or to
   * undefined when another instance holds the lease or the logger is closed. Never rejects: a
   * failure is reported through `onError` (`RETENTION_FAILED`) and tried again at the next pass.
   */
  runOnce(now = Date.now()): Promise<number | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    this.running ??= this.pass(now)
      .catch((cause: unknown) => {
        this.hooks.report(
          new ActivityLogError('RETENTION_FAILED', `retention: a purge on store "${this.store.name}" failed; the next pass tries again`, { cause }),
        );
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stops the timer, waits for a running pass to reach the end of its slice, gives up the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    try {
      await this.store.lease?.(LEASE, this.holder, 0);
    } catch {
      // The lease expires on its own within one interval.
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce().then(() => this.schedule(nextDelay(this.retention.intervalMs, Math.random())));
    }, Math.min(delayMs, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async pass(now: number): Promise<number | undefined> {
    const { batchSize, intervalMs } = this.retention;
    // Held for a whole interval: the instance that purged keeps the job until it stops.
    // Renewed between slices once half of it has gone by, not at every slice (a write and a read each).
    let renewedAt = 0;
    const leased = async () => {
      if (!this.store.lease || Date.now() - renewedAt < intervalMs / 2) return true;
      const held = await this.store.lease(LEASE, this.holder, intervalMs);
      renewedAt = Date.now();
      return held;
    };
    if (!(await leased())) return undefined;
    let removed = 0;
    // Whole partitions first, where every record in them is past every retention.
    const cutoff = partitionCutoff(this.retention, now);
    if (cutoff && this.store.dropPartitions) {
      try {
        removed += await this.hooks.dropPartitions(cutoff);
      } catch (cause) {
        // Reported, and their records deleted by the batches below instead.
        this.hooks.report(
          new ActivityLogError('RETENTION_FAILED', `retention: store "${this.store.name}" could not drop old partitions; their records are deleted in batches instead`, { cause }),
        );
      }
    }
    for (const purge of retentionPurges(this.retention, now)) {
      for (;;) {
        if (this.stopped) return removed;
        const deleted = await this.hooks.purge({ ...purge, limit: batchSize });
        removed += deleted;
        if (deleted < batchSize) break;
        if (!(await leased())) return removed;
      }
    }
    return removed;
  }
}
