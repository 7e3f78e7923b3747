import type { ActivityBindings } from '../bindings.js';
import type { PendingEvent } from './pending.js';

/** One event waiting for its bindings. */
interface Waiting {
  readonly pending: PendingEvent;
  done: boolean;
}

/**
 * Events logged while the bindings they need are still being worked out (a request whose
 * `actor(req)` is async and has not answered yet). Each is snapshotted and stamped at `log()`,
 * like any event, and admitted to the queue once its bindings are known, in the order the
 * events were logged. `flush()` and `close()` wait for them; `close()` only for so long (see
 * {@link admitAll}). They count as held in memory, so `maxQueue` bounds them too.
 */
export class DeferredEvents {
  private readonly waiting = new Set<Waiting>();
  private readonly settling = new Set<Promise<void>>();

  /** Events waiting for their bindings. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Admits `pending` once `bindings` resolves, with them. `bindings` must never reject (the
   * identity it comes from contains the app's callbacks) and `admit` never throws.
   */
  defer(pending: PendingEvent, bindings: Promise<ActivityBindings | undefined>, admit: (pending: PendingEvent) => void): void {
    const entry: Waiting = { pending, done: false };
    this.waiting.add(entry);
    const settled = bindings.then((resolved) => {
      this.settling.delete(settled);
      if (entry.done) return;
      entry.done = true;
      this.waiting.delete(entry);
      pending.bindings = resolved;
      admit(pending);
    });
    this.settling.add(settled);
  }

  /** Resolves once every event deferred before the call is admitted. */
  settled(): Promise<void> {
    if (this.settling.size === 0) return Promise.resolve();
    return Promise.all([...this.settling]).then(() => undefined);
  }

  /**
   * Admits every event still waiting, with the bindings it was logged with (no actor found
   * yet): `close()` gave up waiting on an `actor()` that never answered. Returns how many.
   */
  admitAll(admit: (pending: PendingEvent) => void): number {
    const left = [...this.waiting];
    this.waiting.clear();
    for (const entry of left) {
      entry.done = true;
      admit(entry.pending);
    }
    return left.length;
  }
}
