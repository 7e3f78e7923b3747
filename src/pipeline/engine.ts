import type { ActivityBindings } from '../bindings.js';
import { ActivityLogError } from '../errors.js';
import { ChainTracker } from '../integrity/tracker.js';
import { materialize } from '../materialize.js';
import type { ResolvedOptions } from '../options.js';
import { safeReport } from '../report.js';
import { RetentionScheduler } from '../retention/scheduler.js';
import type { ActivityRecord, NormalizedPurgeOptions } from '../schema.js';
import type { ActivityStore } from '../store.js';
import { Batcher, type Batch } from './batcher.js';
import { BurstReport } from './burst.js';
import { DeferredEvents } from './deferred.js';
import { flushBeforeExit } from './exit-flush.js';
import { pendingEvent, type PendingEvent } from './pending.js';
import { Sleeper, withinTime } from './retry.js';
import { SpoolRelay } from './spool-relay.js';
import { newCounters, type ActivityStats } from './stats.js';
import { BatchWriter } from './writer.js';

/** What close() still gives a store once it stopped making progress (see close()). */
const STALLED_STORE_GRACE_MS = 1000;

/** A deadline `ms` from now, as the time left until it (never below 0). */
function timeLeftOf(ms: number): () => number {
  const deadline = Date.now() + ms;
  return () => Math.max(0, deadline - Date.now());
}

/**
 * The write path behind a logger and its children, one hop per module:
 *
 *   log() ─► accept()            admission: closed? full? (overflow policy, counted, reported once per burst)
 *              │ snapshot + UUIDv7 stamp (pending.ts)
 *              ▼
 *            Batcher             bounded queue ─► batches (validate · text rule · redact · cap) ─► dispatch
 *              ▼
 *            dispatch()          the store is down and there is a spool? ─► SpoolRelay.toSpool
 *              ▼                 else BatchWriter: store.insert, refused records isolated, retries
 *            store.insert
 *
 * Every event that enters ends in exactly one of written, invalid, failed, dropped or spooled.
 */
export class ActivityEngine {
  readonly store: ActivityStore;
  private readonly options: ResolvedOptions;
  private readonly counters = newCounters();
  private lastError: ActivityLogError | undefined;
  private readonly sleeper = new Sleeper();
  private readonly batcher: Batcher;
  private readonly writer: BatchWriter;
  private readonly relay: SpoolRelay | undefined;
  /** Events waiting for their request's actor before they are queued. */
  private readonly deferred = new DeferredEvents();
  private readonly overflow: BurstReport;
  private readonly droppedAfterClose: BurstReport;
  /** The hash chain, with `integrity` on. */
  private readonly chain: ChainTracker | undefined;
  /** The background purges, with `retention` on. */
  private readonly retention: RetentionScheduler | undefined;
  private closed = false;
  /** Set once close() stops waiting: no retry, replay or new batch from then on. */
  private stopping = false;
  private closing: Promise<void> | undefined;
  /** Takes this logger off the list written at `beforeExit` (exit-flush.ts): close() drains it. */
  private readonly forgetAtExit: () => void;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.forgetAtExit = flushBeforeExit(this);
    this.store = options.store;
    const report = (error: ActivityLogError) => this.report(error);
    this.chain = options.integrity ? new ChainTracker(options.integrity, options.store, report) : undefined;
    const withChain = { ...options, chain: this.chain, inFlight: options.store.capabilities?.concurrentInserts === true ? 2 : 1 };
    this.batcher = new Batcher(withChain, this.counters, report, (batch) => this.dispatch(batch));
    this.writer = new BatchWriter(options.store, withChain, this.counters, report, this.sleeper, () => this.batcher.progressed());
    if (options.spool) {
      const highWater = Math.floor(options.maxQueue * options.spool.highWaterMark);
      this.relay = new SpoolRelay(options.spool.spool, this.batcher, this.writer, { ...options, highWater, held: () => this.batcher.held + this.deferred.size }, this.counters, report, this.sleeper);
      // A spool left by an earlier process (a crash, a kill, a deploy) is replayed from the start.
      void this.relay.startReplay();
    }
    if (options.retention) {
      this.retention = new RetentionScheduler(options.retention, options.store, {
        purge: (purge) => this.purge(purge),
        dropPartitions: async (before) => {
          const removed = (await this.store.dropPartitions?.(before)) ?? 0;
          this.counters.purged += removed;
          return removed;
        },
        report,
      });
      this.retention.start();
    }
    this.overflow = new BurstReport(
      (dropped) =>
        new ActivityLogError(
          'QUEUE_FULL',
          `queue full (maxQueue ${options.maxQueue}): ${dropped} events dropped so far in this burst (overflow: ${options.overflow}); the store is slower than the event rate or unavailable. Further drops in this burst are counted in stats().dropped`,
          { details: { dropped, maxQueue: options.maxQueue } },
        ),
      report,
      false,
    );
    this.droppedAfterClose = new BurstReport(
      (dropped) => new ActivityLogError('LOGGER_CLOSED', `log() was called after close(): ${dropped} events dropped`, { details: { dropped } }),
      report,
      true,
    );
  }

  /**
   * All of `log()`'s work, on the caller's path: admission, then the snapshot into the queue.
   * A refused event is counted and reported (once per burst) and never copied. Never throws.
   */
  accept(event: unknown, bindings: ActivityBindings | undefined): void {
    if (!this.admissible()) return;
    this.batcher.push(pendingEvent(event, bindings, this.options.includeStack));
    this.relay?.checkHighWater();
  }

  /**
   * `log()` for an event whose bindings are still being worked out (a request's async
   * `actor()`): snapshotted and stamped now, queued once `bindings` resolves (never rejecting),
   * in the order such events were logged. `flush()` waits for it. Never throws.
   */
  acceptLater(event: unknown, bindings: Promise<ActivityBindings | undefined>): void {
    if (!this.admissible()) return;
    this.deferred.defer(pendingEvent(event, undefined, this.options.includeStack), bindings, (pending) => this.admitDeferred(pending));
    this.relay?.checkHighWater();
  }

  /** Whether an event logged now may enter: not after close(), and only while there is room. */
  private admissible(): boolean {
    if (this.closed) {
      this.counters.dropped++;
      this.droppedAfterClose.note();
      return false;
    }
    return this.roomFor();
  }

  /** Makes room for one more event by the overflow policy; false (counted, reported) when there is none. */
  private roomFor(): boolean {
    const { batcher } = this;
    if (batcher.held + this.deferred.size >= this.options.maxQueue) {
      if (this.options.overflow === 'drop-newest' || !batcher.dropOldest()) {
        this.counters.dropped++;
        this.overflow.note();
        return false;
      }
      this.counters.dropped++;
      this.overflow.note();
    } else {
      this.overflow.end();
    }
    return true;
  }

  /** A deferred event whose bindings are known: into the queue (it had its room when logged). */
  private admitDeferred(pending: PendingEvent): void {
    try {
      this.batcher.push(pending);
      this.relay?.checkHighWater();
    } catch (cause) {
      this.lose(cause);
    }
  }

  /**
   * An event `accept()` could not take because something threw on the way (a bug, by design
   * unreachable): it is counted as dropped and reported, and nothing is thrown.
   */
  lose(cause: unknown): void {
    try {
      this.counters.dropped++;
      this.report(new ActivityLogError('INVALID_EVENT', 'event: could not be recorded', { cause }));
    } catch {
      // Nothing left to do without risking a throw into the caller.
    }
  }

  stats(): ActivityStats {
    const stats: ActivityStats = { ...this.counters, queued: this.batcher.held + this.deferred.size };
    if (this.lastError) stats.lastError = this.lastError;
    return stats;
  }

  flush(): Promise<void> {
    // Events waiting for their request's actor are queued first, then flushed with the rest.
    if (this.deferred.size === 0) return this.batcher.flush();
    return this.deferred.settled().then(() => this.batcher.flush());
  }

  /**
   * Stops accepting, drains, hands what is left to the spool (or counts it as dropped),
   * forwards what the spool holds while the store takes it, then closes the store and the
   * spool. Never rejects. The drain is given up on when the store stops making progress: when
   * no batch has settled for `closeTimeoutMs`. A healthy store with a long backlog is waited
   * for, however long the whole drain takes.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.forgetAtExit();
      // A retention pass stops at the end of its slice, before the store closes under it.
      const retentionStopped = this.retention?.stop();
      // Events waiting for an actor() that is still running: given closeTimeoutMs, then queued
      // as they are (without the actor) rather than lost.
      if (this.deferred.size > 0 && !(await withinTime(this.deferred.settled(), this.options.closeTimeoutMs))) {
        const admitted = this.deferred.admitAll((pending) => this.admitDeferred(pending));
        if (admitted > 0) {
          this.report(
            new ActivityLogError('CALLBACK_FAILED', `close(): actor() or tenant() did not answer within closeTimeoutMs (${this.options.closeTimeoutMs} ms); ${admitted} events are written without them`, {
              details: { count: admitted },
            }),
          );
        }
      }
      this.batcher.progressed();
      const { closeTimeoutMs } = this.options;
      const drained = await this.untilStalled(this.batcher.flush(), closeTimeoutMs);
      // A store that stopped answering (the drain stalled) gets one short grace for all that is
      // left to ask of it (a retention pass, the last checkpoint, its own close()), not
      // closeTimeoutMs for each: close() returns within about closeTimeoutMs + 1 s of the
      // store's last progress, inside a container's shutdown grace period.
      const stalledGrace = () => timeLeftOf(Math.min(closeTimeoutMs, STALLED_STORE_GRACE_MS));
      let storeWait = drained ? () => closeTimeoutMs : stalledGrace();
      this.stopping = true;
      this.batcher.stop();
      this.sleeper.wakeAll();
      await this.relay?.stop();
      if (!drained) for (const batch of this.batcher.unsettled()) await this.abandon(batch);
      if (this.relay) await withinTime(this.relay.replayStopped(), 1000);
      if (this.relay && drained && !(await this.untilStalled(this.relay.drainAtClose(), closeTimeoutMs))) {
        this.relay.abandonDrain();
        // The store stopped answering during the drain of the spool: the same one grace.
        storeWait = stalledGrace();
      }
      if (retentionStopped) await withinTime(retentionStopped, storeWait());
      if (this.chain) await this.lastCheckpoint(this.chain, storeWait());
      await this.closeResource('store', this.store.name, () => this.store.close?.(), storeWait());
      if (this.relay) await this.closeResource('spool', this.relay.name, () => this.relay!.close(), closeTimeoutMs);
      // An insert close() gave up on may still be waited for (retry.attemptTimeoutMs): not by anyone now.
      this.writer.release();
    })();
    return this.closing;
  }

  /**
   * close(): the chain's last checkpoint, while the store is still open. The copy kept outside
   * the database (onCheckpoint) does not wait for the store's, and neither is left to vanish
   * with the process unsaid: each not taken in its time is reported.
   */
  private async lastCheckpoint(tracker: ChainTracker, storeMs: number): Promise<void> {
    const { closeTimeoutMs } = this.options;
    const { sunk, stored, chain, seq } = tracker.close();
    const [handedOn, kept] = await Promise.all([withinTime(sunk, closeTimeoutMs), withinTime(stored, storeMs)]);
    const which = `checkpoint ${seq} of chain ${chain}`;
    if (!handedOn) this.report(new ActivityLogError('CALLBACK_FAILED', `close(): integrity.onCheckpoint did not take ${which} within closeTimeoutMs (${closeTimeoutMs} ms)`, { details: { chain, seq } }));
    if (!kept) this.report(new ActivityLogError('STORE_FAILED', `close(): store "${this.store.name}" did not keep ${which} within ${storeMs} ms`, { details: { chain, seq } }));
  }

  /** Turns one event into a record now, on the caller's path; throws `INVALID_EVENT`. */
  buildRecord(event: unknown, bindings: ActivityBindings | undefined): ActivityRecord {
    const result = materialize(pendingEvent(event, bindings, this.options.includeStack), this.options.materialize);
    if (result.error) throw result.error;
    this.chain?.sealAlone(result.record);
    return result.record;
  }

  /** Deletes what `purge` names, counted in `stats().purged`. */
  async purge(purge: NormalizedPurgeOptions): Promise<number> {
    if (purge.except !== undefined && this.store.capabilities?.purgeExcept !== true) {
      throw new ActivityLogError('UNSUPPORTED', `store "${this.store.name}" cannot purge with exceptions (capabilities.purgeExcept)`);
    }
    const removed = await this.store.purge(purge);
    this.counters.purged += removed;
    return removed;
  }

  /** One retention pass now (see `ActivityLogger.runRetention`). */
  runRetention(): Promise<number | undefined> {
    if (!this.retention) return Promise.reject(new ActivityLogError('INVALID_OPTIONS', 'runRetention: needs the logger option retention: { days, rules }'));
    return this.retention.runOnce();
  }

  /** The logger's redaction rules (change capture redacts the columns they name). */
  get redactor(): ResolvedOptions['materialize']['redactor'] {
    return this.options.materialize.redactor;
  }

  /** The logger's integrity settings, when tamper evidence is on. */
  get integrity(): ResolvedOptions['integrity'] {
    return this.options.integrity;
  }

  report(error: ActivityLogError): void {
    this.lastError = error;
    safeReport(this.options.onError, error);
  }

  /**
   * Where one batch goes: to the spool while the store is down; else to the store, with
   * retries. With a spool, a failure sends the batch there at once and the replayer retries,
   * so the queue keeps moving during an outage. Never rejects.
   */
  private async dispatch(batch: Batch): Promise<void> {
    if (this.stopping) return; // close() settles it
    const { relay, batcher } = this;
    if (relay?.storeDown) return relay.toSpool(batch);
    if (!relay) {
      const outcome = await this.writer.writeWithRetries(batch.records, {
        abandoned: () => batch.settled,
        closing: () => this.stopping,
        // Someone awaiting flush() or close() must not see the process exit under them.
        keepAlive: () => this.closed || batcher.awaited,
      });
      if (outcome === 'abandoned') return;
      batcher.settle(batch, outcome === 'failed' ? 'failed' : outcome.rejected === 0 ? 'written' : { written: outcome.written, invalid: outcome.rejected });
      return;
    }
    try {
      const { written, rejected } = await this.writer.writeOnce(batch.records);
      relay.storeDown = false;
      batcher.settle(batch, rejected === 0 ? 'written' : { written, invalid: rejected });
    } catch (cause) {
      // Once close() stopped waiting, it settles every batch left itself (abandon(): to the
      // spool): this one may be on its way there now, and must not be spooled a second time.
      if (batch.settled || this.stopping) return;
      relay.storeDown = true;
      // Reported once the spool answered, so that the report says where the batch went.
      await relay.toSpool(batch, (spooled) => {
        const count = batch.records.length;
        const where = spooled ? 'it is spooled and will be replayed' : "the spool could not take it either, so it is dropped (see the spool's report)";
        this.report(new ActivityLogError('STORE_FAILED', `store "${this.store.name}" rejected a batch of ${count} events; ${where}`, { cause, details: { count, spooled } }));
      });
      void relay.startReplay();
    }
  }

  /** After a close() that gave up: the batch goes to the spool, or is dropped and reported. */
  private async abandon(batch: Batch): Promise<void> {
    if (this.relay) return this.relay.toSpool(batch);
    this.batcher.settle(batch, 'dropped');
    if (batch.records.length === 0) return;
    this.report(
      new ActivityLogError(
        'STORE_FAILED',
        `close(): store "${this.store.name}" did not take ${batch.records.length} events within closeTimeoutMs (${this.options.closeTimeoutMs} ms); they are dropped`,
        { cause: this.writer.failureOf(batch.records), details: { dropped: batch.records.length } },
      ),
    );
  }

  /**
   * Resolves true when `promise` settles, false once nothing has progressed (no batch settled,
   * no write succeeded) for `stallMs`. The timer keeps the process alive: close() is awaited by
   * whoever is shutting the process down.
   */
  private untilStalled(promise: Promise<unknown>, stallMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = () => {
        const idle = Date.now() - this.batcher.lastProgressAt;
        if (idle >= stallMs) return resolve(false);
        timer = setTimeout(check, stallMs - idle);
      };
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      promise.then(done, done);
      timer = setTimeout(check, stallMs);
    });
  }

  private async closeResource(what: 'store' | 'spool', name: string, close: () => Promise<void> | void | undefined, waitMs: number): Promise<void> {
    try {
      const closing = Promise.resolve(close());
      const closed = await withinTime(closing, waitMs);
      if (!closed) throw new Error(`did not close within ${waitMs} ms`);
      await closing; // settled by now: a rejection is reported like a throw, not taken for a close
    } catch (cause) {
      this.report(new ActivityLogError(what === 'store' ? 'STORE_FAILED' : 'SPOOL_FAILED', `${what} "${name}" failed to close`, { cause }));
    }
  }
}
