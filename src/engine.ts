import { ActivityLogError, isActivityLogError } from './errors.js';
import type { ActivityStats } from './logger.js';
import { capture, materialize, type ActivityBindings, type PendingEvent } from './materialize.js';
import type { ResolvedOptions } from './options.js';
import { RingBuffer } from './queue.js';
import { safeReport } from './report.js';
import type { ActivityRecord } from './schema.js';
import type { ActivitySpool } from './spool.js';
import type { ActivityStore } from './store.js';
import { storableJson } from './text.js';

/** A batch taken from the queue: a contiguous range of queue positions, settled once. */
interface Batch {
  /** Queue positions `[startSeq, endSeq)`. */
  startSeq: number;
  endSeq: number;
  /** Events taken from the queue, invalid ones included. */
  taken: number;
  /** The valid events, as records. */
  records: ActivityRecord[];
  settled: boolean;
}

type Outcome = 'written' | 'failed' | 'dropped' | 'spooled';

/** How many of a batch's records ended in each outcome; the batch's invalid events are counted when it is taken. */
type OutcomeCounts = Partial<Record<Outcome | 'invalid', number>>;

/**
 * The engine behind a logger and its children: the bounded queue, the flusher, retries, the
 * spool and its replayer, and the counters. Every event that enters ends in exactly one of
 * written, invalid, failed, dropped or spooled. Batches may settle out of order (a spill to
 * the spool overtakes a slow write), so `flush()` waits on the lowest queue position not yet
 * settled rather than on a count.
 */
export class LoggerEngine {
  readonly store: ActivityStore;
  readonly includeStack: boolean;
  private readonly options: ResolvedOptions;
  private readonly spool: ActivitySpool | undefined;
  private readonly queue: RingBuffer<PendingEvent>;
  private readonly counters = { enqueued: 0, written: 0, invalid: 0, dropped: 0, failed: 0, retries: 0, spooled: 0, replayed: 0 };
  private lastError: ActivityLogError | undefined;
  /** Queue position of the next event. */
  private nextSeq = 0;
  /** Batches taken from the queue and not settled yet. */
  private readonly outstanding = new Set<Batch>();
  /** Events in outstanding batches. */
  private inFlight = 0;
  private readonly spoolWrites = new Set<Promise<void>>();
  private flushWaiters: { target: number; resolve: () => void }[] = [];
  /** The drain loop now running, if one is: set and cleared by the loop itself (see drainLoop). */
  private draining: Promise<void> | undefined;
  private drainRunning = false;
  private spilling: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private drainSoon = false;
  private overflowBurst: { droppedBefore: number } | undefined;
  private closedDropsUnreported = 0;
  /** With a spool: the store failed and has not answered since; batches go to the spool. */
  private storeDown = false;
  /** The store's error since its last successful write, so a drop at close() can say why. */
  private lastStoreFailure: unknown;
  private replaying: Promise<void> | undefined;
  /** Set by close(): stop retrying and replaying, and wake anything sleeping in a backoff. */
  private stopping = false;
  /** When a batch last settled or a write last succeeded: close() gives up on a store that stopped progressing. */
  private lastProgressAt = 0;
  private readonly sleepers = new Set<() => void>();
  closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.store = options.store;
    this.includeStack = options.includeStack;
    this.spool = options.spool?.spool;
    this.queue = new RingBuffer(options.maxQueue);
    // A spool left by an earlier process (a crash, a kill, a deploy) is replayed from the start.
    if (this.spool) void this.startReplay();
  }

  /** True when a newly logged event would be dropped without being looked at. */
  rejectsNewEvents(): boolean {
    return this.closed || (this.options.overflow === 'drop-newest' && this.queue.size + this.inFlight >= this.options.maxQueue);
  }

  /** Counts and reports an event that was not accepted. */
  dropNew(): void {
    this.counters.dropped++;
    if (this.closed) this.noteClosedDrop();
    else this.noteOverflow();
  }

  enqueue(pending: PendingEvent): void {
    if (this.queue.size + this.inFlight >= this.options.maxQueue) {
      if (this.options.overflow === 'drop-oldest' && this.queue.size > 0) {
        this.queue.shift();
        this.counters.dropped++;
        this.noteOverflow();
      } else {
        this.dropNew();
        return;
      }
    }
    pending.seq = this.nextSeq++;
    this.queue.push(pending);
    this.counters.enqueued++;
    this.schedule();
  }

  stats(): ActivityStats {
    const stats: ActivityStats = { ...this.counters, queued: this.queue.size + this.inFlight };
    if (this.lastError) stats.lastError = this.lastError;
    return stats;
  }

  /**
   * Resolves once every event logged before the call has settled. The drain it starts holds
   * the process open (nothing it waits on is unref'd), so a script's `await flush()` settles.
   */
  flush(): Promise<void> {
    const target = this.nextSeq;
    if (this.lowestUnsettled() >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.flushWaiters.push({ target, resolve }));
    void this.startDrain();
    return done;
  }

  /**
   * Stops accepting, drains, hands what is left to the spool (or counts it as dropped), then
   * closes the store and the spool. Never rejects. The drain is given up on when the store
   * stops making progress: when no batch has settled for `closeTimeoutMs`. A healthy store
   * with a long backlog is waited for, however long the whole drain takes.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.clearTimer();
      this.lastProgressAt = Date.now();
      const drained = await this.untilStalled(this.flush(), this.options.closeTimeoutMs);
      this.stopping = true;
      this.wakeSleepers();
      if (!drained) await this.abandonRemaining();
      await withinTime(this.replaying ?? Promise.resolve(), 1000);
      await this.closeResource('store', () => this.store.close?.());
      if (this.spool) await this.closeResource('spool', () => this.spool!.close());
    })();
    return this.closing;
  }

  /** Turns one event into a record now, on the caller's path; throws `INVALID_EVENT`. */
  buildRecord(event: unknown, bindings: ActivityBindings | undefined): ActivityRecord {
    const result = materialize(capture(event, bindings, this.includeStack), this.options.materialize);
    if (result.error) throw result.error;
    return result.record;
  }

  report(error: ActivityLogError): void {
    this.lastError = error;
    safeReport(this.options.onError, error);
  }

  private schedule(): void {
    if (this.spool && !this.spilling && this.queue.size + this.inFlight > this.spoolHighWater()) {
      this.spilling = new Promise<void>((resolve) => unref(setTimeout(resolve, 0)))
        .then(() => this.spillLoop())
        .finally(() => (this.spilling = undefined));
    }
    if (this.drainRunning) return;
    if (this.queue.size >= this.options.batchSize) {
      if (!this.drainSoon) {
        this.drainSoon = true;
        this.clearTimer();
        // Never flush inside log(): the caller's turn of the event loop ends first.
        unref(
          setTimeout(() => {
            this.drainSoon = false;
            void this.startDrain();
          }, 0),
        );
      }
    } else if (!this.timer && !this.drainSoon) {
      this.timer = unref(
        setTimeout(() => {
          this.timer = undefined;
          void this.startDrain();
        }, this.options.flushIntervalMs),
      );
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private startDrain(): Promise<void> {
    // The loop marks itself running on entry and done on exit, synchronously: a loop that finds
    // nothing to do ends before this assignment, and must not leave a finished promise here
    // standing for a running drain.
    if (!this.drainRunning) this.draining = this.drainLoop();
    return this.draining!;
  }

  /**
   * Writes batches one after another, in queue order, while preparing the next: the next
   * batch is validated and redacted while the store is busy with the current one.
   *
   * It ends only when, after its last write, the queue is empty, and it clears `drainRunning` in
   * that same synchronous step: an event logged while the last write was settling is either
   * taken by this loop or finds no drain running and schedules (or, under flush(), starts) its
   * own. Never a flush() waiting on a drain that has already decided to stop.
   */
  private async drainLoop(): Promise<void> {
    this.drainRunning = true;
    this.clearTimer();
    let writing: Promise<void> | undefined;
    for (;;) {
      if (this.queue.size > 0 && !this.stopping) {
        const batch = this.takeBatch();
        if (writing) await writing;
        writing = this.dispatch(batch);
        if (this.overflowBurst && this.queue.size < this.options.maxQueue) this.overflowBurst = undefined;
        continue;
      }
      if (!writing) break;
      await writing;
      writing = undefined;
    }
    this.drainRunning = false;
    if (this.queue.size > 0 && !this.stopping) this.schedule();
  }

  private dispatch(batch: Batch): Promise<void> {
    if (batch.records.length === 0) {
      this.settle(batch, 'written');
      return Promise.resolve();
    }
    if (this.stopping) return Promise.resolve(); // close() settles it (abandonRemaining)
    if (this.spool && this.storeDown) return this.toSpool(batch);
    return this.write(batch);
  }

  /**
   * While the queue stays above the spool's high-water mark (a store slower than the event
   * rate), moves batches to the spool alongside the write in progress, so nothing is dropped.
   */
  private async spillLoop(): Promise<void> {
    while (!this.stopping && this.queue.size > 0 && this.queue.size + this.inFlight > this.spoolHighWater()) {
      const batch = this.takeBatch();
      if (batch.records.length === 0) this.settle(batch, 'written');
      else await this.toSpool(batch);
    }
    void this.startReplay();
  }

  private spoolHighWater(): number {
    return Math.floor(this.options.maxQueue * (this.options.spool?.highWaterMark ?? 1));
  }

  /** Takes the next batch from the queue and materialises it; invalid events are counted and reported here. */
  private takeBatch(): Batch {
    const pending = this.queue.take(this.options.batchSize);
    const batch: Batch = {
      startSeq: pending[0]!.seq,
      endSeq: pending[pending.length - 1]!.seq + 1,
      taken: pending.length,
      records: [],
      settled: false,
    };
    this.outstanding.add(batch);
    this.inFlight += batch.taken;
    for (const event of pending) {
      const result = materialize(event, this.options.materialize);
      if (result.error) {
        this.counters.invalid++;
        this.report(result.error);
      } else {
        batch.records.push(result.record);
      }
    }
    return batch;
  }

  /**
   * `store.insert(records)`, with a batch the store refuses for its content (`RECORD_REJECTED`)
   * split in halves until the refused records are alone: the rest are written, and each
   * refused one is reported with the store's reason. O(refused × log(batch)) inserts; ids make
   * the halves already written a no-op when the whole batch is retried. Any other rejection
   * (a connection, a lock) is thrown, for the caller's retry or spool.
   */
  private async insertIsolating(records: readonly ActivityRecord[]): Promise<{ written: number; rejected: number }> {
    try {
      await this.store.insert(records);
      this.lastProgressAt = Date.now();
      return { written: records.length, rejected: 0 };
    } catch (cause) {
      if (!isActivityLogError(cause, 'RECORD_REJECTED')) throw cause;
      if (records.length === 1) {
        this.lastProgressAt = Date.now();
        this.reportRejected(records[0]!, cause);
        return { written: 0, rejected: 1 };
      }
      const middle = Math.ceil(records.length / 2);
      const first = await this.insertIsolating(records.slice(0, middle));
      const second = await this.insertIsolating(records.slice(middle));
      return { written: first.written + second.written, rejected: first.rejected + second.rejected };
    }
  }

  /** Reports one record the store refused for its content. */
  private reportRejected(record: ActivityRecord, cause: ActivityLogError): void {
    const field = typeof cause.details?.field === 'string' ? cause.details.field : undefined;
    const reason = typeof cause.details?.reason === 'string' ? cause.details.reason : cause.message;
    this.report(
      new ActivityLogError(
        'RECORD_REJECTED',
        `event ${record.id} (${record.action}): ${field ? `${field}: ` : ''}refused by store "${this.store.name}": ${reason}; the other events of its batch were written`,
        { cause, details: { id: record.id, action: record.action, field, reason } },
      ),
    );
  }

  /**
   * Settles a batch once, all its records in one outcome or split between several; a write
   * that completes after close() gave up on it changes nothing.
   */
  private settle(batch: Batch, outcome: Outcome | OutcomeCounts): void {
    if (batch.settled) return;
    batch.settled = true;
    this.lastProgressAt = Date.now();
    if (typeof outcome === 'string') this.counters[outcome] += batch.records.length;
    else for (const [name, count] of Object.entries(outcome) as [Outcome | 'invalid', number][]) this.counters[name] += count;
    this.outstanding.delete(batch);
    this.inFlight -= batch.taken;
    if (this.flushWaiters.length === 0) return;
    const lowest = this.lowestUnsettled();
    const waiting: typeof this.flushWaiters = [];
    for (const waiter of this.flushWaiters) {
      if (waiter.target <= lowest) waiter.resolve();
      else waiting.push(waiter);
    }
    this.flushWaiters = waiting;
  }

  /** The lowest queue position whose event has not settled. */
  private lowestUnsettled(): number {
    let lowest = this.queue.size > 0 ? this.queue.peek()!.seq : this.nextSeq;
    for (const batch of this.outstanding) if (batch.startSeq < lowest) lowest = batch.startSeq;
    return lowest;
  }

  /**
   * Writes one batch and settles it as written, failed or spooled. Without a spool a failure
   * is retried with backoff; with one, the batch goes to the spool at once and the replayer
   * retries, so the queue keeps moving during an outage. Never rejects.
   */
  private async write(batch: Batch): Promise<void> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options;
    const records = batch.records;
    for (let attempt = 1; ; attempt++) {
      try {
        const { written, rejected } = await this.insertIsolating(records);
        this.storeDown = false;
        this.lastStoreFailure = undefined;
        this.settle(batch, rejected === 0 ? 'written' : { written, invalid: rejected });
        return;
      } catch (cause) {
        if (batch.settled) return;
        this.lastStoreFailure = cause;
        if (this.spool) {
          this.storeDown = true;
          this.report(
            new ActivityLogError('STORE_FAILED', `store "${this.store.name}" rejected a batch of ${records.length} events; it is spooled and will be replayed`, {
              cause,
              details: { count: records.length, spooled: true },
            }),
          );
          await this.toSpool(batch);
          void this.startReplay();
          return;
        }
        if (attempt >= maxAttempts || this.stopping) {
          this.settle(batch, 'failed');
          this.report(
            new ActivityLogError(
              'STORE_FAILED',
              `store "${this.store.name}" rejected a batch of ${records.length} events ${attempt} times; they are counted as failed`,
              { cause, details: { count: records.length, attempts: attempt } },
            ),
          );
          return;
        }
        this.counters.retries++;
        // Someone awaiting flush() or close() must not see the process exit under them.
        await this.sleep(backoffDelay(attempt, baseDelayMs, maxDelayMs), this.closed || this.flushWaiters.length > 0);
        if (batch.settled) return;
      }
    }
  }

  /** Settles a batch as spooled, or as dropped when the spool refuses it. */
  private toSpool(batch: Batch): Promise<void> {
    const write = this.appendToSpool(batch).finally(() => this.spoolWrites.delete(write));
    this.spoolWrites.add(write);
    return write;
  }

  private async appendToSpool(batch: Batch): Promise<void> {
    try {
      await this.spool!.append(batch.records);
      this.settle(batch, 'spooled');
    } catch (cause) {
      this.settle(batch, 'dropped');
      this.report(
        cause instanceof ActivityLogError && cause.code === 'SPOOL_FULL'
          ? cause
          : new ActivityLogError('SPOOL_FAILED', `spool "${this.spool!.name}" could not take ${batch.records.length} events; they are dropped`, {
              cause,
              details: { dropped: batch.records.length },
            }),
      );
    }
  }

  /** Forwards spooled batches to the store, oldest first, until the spool is empty. */
  private startReplay(): Promise<void> {
    this.replaying ??= this.replayLoop().finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  private async replayLoop(): Promise<void> {
    const spool = this.spool!;
    let attempt = 0;
    while (!this.stopping) {
      let spooled;
      try {
        spooled = await spool.peek();
      } catch (cause) {
        this.report(new ActivityLogError('SPOOL_FAILED', `spool "${spool.name}" could not be read`, { cause }));
        return;
      }
      if (!spooled) return;
      if (spooled.unreadable !== undefined) {
        this.report(new ActivityLogError('SPOOL_FAILED', `spool "${spool.name}": batch ${spooled.id} could not be read back (${spooled.unreadable}); the replay goes on without it`, { details: { batchId: spooled.id } }));
        try {
          await spool.remove(spooled.id);
        } catch {
          // The spool has set it aside already.
        }
        continue;
      }
      let outcome: { written: number; rejected: number };
      try {
        // Through the same text rule as live events (a spool left by an older release may
        // hold text a store cannot take), and split like a live batch when the store refuses
        // some records for their content: one batch can never hold the replay up.
        outcome = await this.insertIsolating(spooled.records.map(storableRecord));
      } catch {
        this.storeDown = true;
        attempt++;
        await this.sleep(backoffDelay(attempt, this.options.baseDelayMs, this.options.maxDelayMs), false);
        continue;
      }
      // Only now, with the store's commit done, does the batch leave the spool.
      try {
        await spool.remove(spooled.id);
      } catch (cause) {
        this.report(new ActivityLogError('SPOOL_FAILED', `spool "${spool.name}" could not remove a replayed batch`, { cause }));
        return;
      }
      attempt = 0;
      this.storeDown = false;
      this.counters.replayed += outcome.written;
      this.counters.invalid += outcome.rejected;
    }
  }

  /** After a timed-out close: the batches in flight and the queue go to the spool, or are dropped. */
  private async abandonRemaining(): Promise<void> {
    await Promise.all(this.spoolWrites);
    for (const batch of [...this.outstanding]) await this.settleAbandoned(batch);
    while (this.queue.size > 0) await this.settleAbandoned(this.takeBatch());
  }

  private async settleAbandoned(batch: Batch): Promise<void> {
    if (batch.settled) return;
    if (this.spool) return this.toSpool(batch);
    this.settle(batch, 'dropped');
    if (batch.records.length === 0) return;
    this.report(
      new ActivityLogError(
        'STORE_FAILED',
        `close(): store "${this.store.name}" did not take ${batch.records.length} events within closeTimeoutMs (${this.options.closeTimeoutMs} ms); they are dropped`,
        { cause: this.lastStoreFailure, details: { dropped: batch.records.length } },
      ),
    );
  }

  private async closeResource(what: 'store' | 'spool', close: () => Promise<void> | void | undefined): Promise<void> {
    try {
      const closed = await withinTime(Promise.resolve(close()), this.options.closeTimeoutMs);
      if (!closed) throw new Error(`did not close within ${this.options.closeTimeoutMs} ms`);
    } catch (cause) {
      const name = what === 'store' ? this.store.name : this.spool?.name;
      this.report(new ActivityLogError(what === 'store' ? 'STORE_FAILED' : 'SPOOL_FAILED', `${what} "${name}" failed to close`, { cause }));
    }
  }

  /**
   * Resolves true when `promise` settles, false once nothing has progressed (no batch settled,
   * no write succeeded) for `stallMs`. Never rejects. The timer keeps the process alive: close()
   * is awaited by whoever is shutting the process down.
   */
  private untilStalled(promise: Promise<unknown>, stallMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = () => {
        const idle = Date.now() - this.lastProgressAt;
        if (idle >= stallMs) return resolve(false);
        timer = setTimeout(check, stallMs - idle);
      };
      promise.then(
        () => {
          clearTimeout(timer);
          resolve(true);
        },
        () => {
          clearTimeout(timer);
          resolve(true);
        },
      );
      timer = setTimeout(check, stallMs);
    });
  }

  private sleep(ms: number, keepAlive: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      if (!keepAlive) unref(timer);
      this.sleepers.add(wake);
    });
  }

  private wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  private noteOverflow(): void {
    if (this.overflowBurst) return;
    const burst = { droppedBefore: this.counters.dropped - 1 };
    this.overflowBurst = burst;
    // Reported after the caller's turn, once per burst, with the drops counted so far.
    setTimeout(() => {
      const dropped = this.counters.dropped - burst.droppedBefore;
      this.report(
        new ActivityLogError(
          'QUEUE_FULL',
          `queue full (maxQueue ${this.options.maxQueue}): ${dropped} events dropped so far in this burst (overflow: ${this.options.overflow}); the store is slower than the event rate or unavailable. Further drops in this burst are counted in stats().dropped`,
          { details: { dropped, maxQueue: this.options.maxQueue } },
        ),
      );
    }, 0);
  }

  private noteClosedDrop(): void {
    if (this.closedDropsUnreported++ > 0) return;
    setTimeout(() => {
      const dropped = this.closedDropsUnreported;
      this.closedDropsUnreported = 0;
      this.report(
        new ActivityLogError('LOGGER_CLOSED', `log() was called after close(): ${dropped} events dropped`, { details: { dropped } }),
      );
    }, 0);
  }
}

/** A record read back from a spool, with its text made storable (text.ts); dates stay dates. */
function storableRecord(record: ActivityRecord): ActivityRecord {
  const { occurredAt, ...rest } = record;
  const fixed = storableJson(rest);
  return fixed === rest ? record : { ...fixed, occurredAt };
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return delay / 2 + Math.random() * (delay / 2);
}

/** Resolves true when `promise` settles within `ms`, false otherwise; never rejects. */
async function withinTime(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
