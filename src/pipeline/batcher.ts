import { ActivityLogError } from '../errors.js';
import type { ChainTracker } from '../integrity/tracker.js';
import { materialize, type MaterializeConfig } from '../materialize.js';
import type { ActivityRecord } from '../schema.js';
import type { PendingEvent } from './pending.js';
import { RingBuffer } from './queue.js';
import { unref } from './retry.js';
import type { Counters } from './stats.js';

/** A batch taken from the queue: a contiguous range of queue positions, settled once. */
export interface Batch {
  /** Queue positions `[startSeq, endSeq)`. */
  readonly startSeq: number;
  readonly endSeq: number;
  /** Events taken from the queue, invalid ones included. */
  readonly taken: number;
  /** The valid events, as records. */
  readonly records: ActivityRecord[];
  settled: boolean;
}

/** A batch being prepared: its events, and the next one to turn into a record. */
interface Preparing {
  readonly batch: Batch;
  readonly events: PendingEvent[];
  next: number;
}

/**
 * How long a batch's preparation runs before it lets the event loop turn: requests that arrive
 * meanwhile wait at most about this long for the logger.
 */
const SLICE_MS = 1;

/** Where a batch's records ended. */
export type Outcome = 'written' | 'failed' | 'dropped' | 'spooled';
/** How many of a batch's records ended in each outcome, when they did not all end in one. */
export type OutcomeCounts = Partial<Record<Outcome | 'invalid', number>>;

export interface BatcherOptions {
  maxQueue: number;
  batchSize: number;
  flushIntervalMs: number;
  materialize: MaterializeConfig;
  /** The logger's hash chain, with `integrity` on: records are sealed in queue order. */
  chain?: ChainTracker | undefined;
  /** Batches handed to the store at once: 2 for a store with `concurrentInserts`, else 1. */
  inFlight: number;
}

/**
 * The queue and the batches taken from it. Events wait in a bounded ring buffer; a full batch,
 * the flush interval, or `flush()` starts the drain, which takes batches in queue order,
 * turns each event into a record (invalid ones are counted and reported here) and hands the
 * batch to `dispatch`, preparing the next batch while the store writes the current one.
 *
 * Every queue position settles exactly once. Batches may settle out of order (a spill to the
 * spool overtakes a slow write), so `flush()` waits for the lowest position not yet settled to
 * pass its target, rather than for a count.
 */
export class Batcher {
  private readonly queue: RingBuffer<PendingEvent>;
  /** Queue position of the next event. */
  private nextSeq = 0;
  /** Batches taken from the queue and not settled yet. */
  private readonly outstanding = new Set<Batch>();
  /** Events in outstanding batches. */
  private inFlight = 0;
  private flushWaiters: { target: number; resolve: () => void }[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private drainSoon = false;
  /** The batch whose events are being turned into records, a slice per turn. */
  private preparing: Preparing | undefined;
  /** The last preparation begun: the next waits for it (one at a time, in queue order). */
  private preparation: Promise<void> = Promise.resolve();
  /** The drain loop's promise, and whether it runs: set and cleared by the loop itself. */
  private draining: Promise<void> = Promise.resolve();
  private drainRunning = false;
  private stopping = false;
  /** When a batch last settled (or `progressed()` was called): close() gives up on a store that stopped. */
  lastProgressAt = Date.now();

  constructor(
    private readonly options: BatcherOptions,
    private readonly counters: Counters,
    private readonly report: (error: ActivityLogError) => void,
    private readonly dispatch: (batch: Batch) => Promise<void>,
  ) {
    this.queue = new RingBuffer(options.maxQueue);
  }

  /** Events held in memory: waiting, or in a batch being written. */
  get held(): number {
    return this.queue.size + this.inFlight;
  }

  /** Events waiting in the queue. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Whether someone awaits a flush (a retry's sleep then holds the process open). */
  get awaited(): boolean {
    return this.flushWaiters.length > 0;
  }

  /** Appends an event; the caller checked there is room. */
  push(pending: PendingEvent): void {
    pending.seq = this.nextSeq++;
    this.queue.push(pending);
    this.counters.enqueued++;
    this.schedule();
  }

  /** Drops the oldest waiting event (overflow: 'drop-oldest'); false when none is waiting. */
  dropOldest(): boolean {
    return this.queue.shift() !== undefined;
  }

  /**
   * Resolves once every event pushed before the call has settled. The drain it starts holds
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
   * Takes the next batch and turns its events into records (invalid ones are counted and
   * reported here), a slice of about {@link SLICE_MS} per turn of the event loop: preparing a
   * batch (validation, redaction, with `integrity` the seal) costs tens of microseconds per
   * event, and a batch prepared in one go would hold every request arriving meanwhile for
   * milliseconds. One batch is prepared at a time, in queue order, so records are sealed in
   * queue order. Undefined when the queue is empty by the time the previous one is done, or the
   * batcher was stopped meanwhile.
   */
  async take(): Promise<Batch | undefined> {
    const previous = this.preparation;
    let done!: () => void;
    this.preparation = new Promise<void>((resolve) => (done = resolve));
    try {
      await previous;
      // Once stopped, close() takes what is left (unsettled): a batch opened here would be
      // neither among the batches it abandons nor written.
      if (this.stopping || this.queue.size === 0) return undefined;
      const preparing = this.open();
      let sliceStarted = performance.now();
      while (this.preparing === preparing && preparing.next < preparing.events.length) {
        this.prepareOne(preparing);
        if (performance.now() - sliceStarted >= SLICE_MS && preparing.next < preparing.events.length) {
          await nextTurn();
          sliceStarted = performance.now();
        }
      }
      // Finished here, or by close() (takeNow, unsettled) while this waited for its turn.
      if (this.preparing === preparing) this.preparing = undefined;
      return preparing.batch;
    } finally {
      done();
    }
  }

  /** {@link take}, in one go: for close(), which abandons what is left without waiting. */
  takeNow(): Batch {
    this.finishPreparing();
    const preparing = this.open();
    this.finishPreparing();
    return preparing.batch;
  }

  /** Takes up to a batch of events from the queue as a batch with no records yet; it counts as held. */
  private open(): Preparing {
    const events = this.queue.take(this.options.batchSize);
    const batch: Batch = { startSeq: events[0]!.seq, endSeq: events[events.length - 1]!.seq + 1, taken: events.length, records: [], settled: false };
    this.outstanding.add(batch);
    this.inFlight += batch.taken;
    this.preparing = { batch, events, next: 0 };
    return this.preparing;
  }

  private prepareOne(preparing: Preparing): void {
    const event = preparing.events[preparing.next]!;
    // Let the event go as it becomes a record: a batch holds each event once, not twice.
    preparing.events[preparing.next++] = undefined as unknown as PendingEvent;
    const result = materialize(event, this.options.materialize);
    if (result.error) {
      this.counters.invalid++;
      this.report(result.error);
      return;
    }
    try {
      this.options.chain?.seal(result.record);
    } catch (cause) {
      // Materialize makes records of JSON data only, so this is not expected; if a record still
      // cannot be sealed, it is reported and counted, and the flusher goes on with the next.
      this.counters.invalid++;
      this.report(new ActivityLogError('INVALID_EVENT', `event ${result.record.id} (${result.record.action}): could not be sealed for integrity; it was not written`, { cause, details: { id: result.record.id, action: result.record.action } }));
      return;
    }
    preparing.batch.records.push(result.record);
  }

  /** Prepares the rest of the batch being prepared, if any, at once. */
  private finishPreparing(): void {
    const preparing = this.preparing;
    if (!preparing) return;
    while (preparing.next < preparing.events.length) this.prepareOne(preparing);
    this.preparing = undefined;
  }

  /**
   * Settles a batch once, all its records in one outcome or split between several; a write
   * that completes after close() gave up on it changes nothing.
   */
  settle(batch: Batch, outcome: Outcome | OutcomeCounts): void {
    if (batch.settled) return;
    batch.settled = true;
    // A batch that failed (its retries used up) or was dropped moved nothing: counted as
    // progress, a store refusing every write made close() wait closeTimeoutMs after each one.
    if (outcome !== 'failed' && outcome !== 'dropped') this.progressed();
    if (typeof outcome === 'string') this.counters[outcome] += batch.records.length;
    else for (const [name, count] of Object.entries(outcome) as [Outcome | 'invalid', number][]) this.counters[name] += count;
    if (outcome === 'failed' || outcome === 'dropped') this.options.chain?.lost(batch.records);
    else if (outcome === 'spooled') this.options.chain?.spooled(batch.records);
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

  /** Something moved (a write succeeded within a batch being split): see lastProgressAt. */
  progressed(): void {
    this.lastProgressAt = Date.now();
  }

  /** Stops draining (close() takes over what is left); timers are cleared. */
  stop(): void {
    this.stopping = true;
    this.clearTimer();
  }

  /** The batches not settled yet, then the rest of the queue as batches: what close() abandons. */
  *unsettled(): Generator<Batch> {
    this.finishPreparing();
    for (const batch of [...this.outstanding]) if (!batch.settled) yield batch;
    while (this.queue.size > 0) yield this.takeNow();
  }

  private schedule(): void {
    if (this.drainRunning || this.stopping) return;
    if (this.queue.size >= this.options.batchSize) {
      if (!this.drainSoon) {
        this.drainSoon = true;
        this.clearTimer();
        // Never drain inside log(): the caller's turn of the event loop ends first.
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
    // The loop marks itself running on entry and done on exit, synchronously: a loop that
    // finds nothing to do ends before this assignment, and must not leave a finished promise
    // standing for a running drain.
    if (!this.drainRunning) this.draining = this.drainLoop();
    return this.draining;
  }

  /**
   * Dispatches batches in queue order, preparing the next (validation, redaction) while the
   * store is busy, with at most `inFlight` batches handed to the store at once: with two, the
   * store has the next batch before it is done with the current one. It ends only when, after
   * its last write, the queue is empty, and clears `drainRunning` in that same synchronous step:
   * an event pushed while the last write was settling is either taken by this loop or finds
   * no drain running and schedules (or, under flush(), starts) its own.
   */
  private async drainLoop(): Promise<void> {
    this.drainRunning = true;
    this.clearTimer();
    // The writes in progress, oldest first.
    const writing: Promise<void>[] = [];
    for (;;) {
      if (this.queue.size > 0 && !this.stopping) {
        const batch = await this.take();
        // Taken by the spool's spill meanwhile, or abandoned by close() while being prepared.
        if (!batch || batch.settled) continue;
        while (writing.length >= this.options.inFlight) await writing.shift();
        writing.push(batch.records.length === 0 ? Promise.resolve(this.settle(batch, 'written')) : this.dispatch(batch));
        // The store's write starts a few awaits into dispatch (a thread is posted to, a socket
        // written): let it start before this thread prepares the next batch, or the two never
        // overlap and every batch costs the preparation plus the write.
        if (this.queue.size > 0) await nextTurn();
        continue;
      }
      const oldest = writing.shift();
      if (!oldest) break;
      await oldest;
    }
    this.drainRunning = false;
    if (this.queue.size > 0) this.schedule();
  }

  /** The lowest queue position whose event has not settled. */
  private lowestUnsettled(): number {
    let lowest = this.queue.size > 0 ? this.queue.peek()!.seq : this.nextSeq;
    for (const batch of this.outstanding) if (batch.startSeq < lowest) lowest = batch.startSeq;
    return lowest;
  }
}

/** Resolves on the event loop's next turn, after the pending promise callbacks and I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
