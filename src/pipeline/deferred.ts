import type { ActivityBindings } from '../bindings.js';
import type { PendingEvent } from './pending.js';

/** One event waiting for its bindings, and the promise `settled()` waits on for it. */
interface Waiting {
  readonly pending: PendingEvent;
  readonly admitted: Promise<void>;
  /** Marks it admitted: by its bindings, or by `admitAll()`, whichever comes first. */
  admit: () => void;
  done: boolean;
}

/**
 * Events logged while the bindings they need are still being worked out (a request whose
 * `actor(req)` is async and has not answered yet). Each is snapshotted and stamped at `log()`,
 * like any event, and admitted to the queue once its bindings are known, in the order the
 * events were logged. `flush()` and `close()` wait for them; `close()` only for so long (see
 * {@link admitAll}), and a `flush()` waiting then resolves too. They count as held in memory,
 * so `maxQueue` bounds them.
 */
export class DeferredEvents {
  private readonly waiting = new Set<Waiting>();

  /** Events waiting for their bindings. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Admits `pending` once `bindings` resolves, with them. `bindings` must never reject (the
   * identity it comes from contains the app's callbacks) and `admit` never throws.
   */
  defer(pending: PendingEvent, bindings: Promise<ActivityBindings | undefined>, admit: (pending: PendingEvent) => void): void {
    let markAdmitted!: () => void;
    const admitted = new Promise<void>((resolve) => (markAdmitted = resolve));
    const entry: Waiting = { pending, admitted, admit: markAdmitted, done: false };
    this.waiting.add(entry);
    void bindings.then((resolved) => {
      if (entry.done) return;
      pending.bindings = resolved;
      this.settle(entry);
      admit(pending);
    });
  }

  /** Resolves once every event deferred before the call is admitted. */
  settled(): Promise<void> {
    if (this.waiting.size === 0) return Promise.resolve();
    return Promise.all([...this.waiting].map((entry) => entry.admitted)).then(() => undefined);
  }

  /**
   * Admits every event still waiting, with the bindings it was logged with (no actor found
   * yet): `close()` gave up waiting on an `actor()` that never answered. Returns how many.
   */
  admitAll(admit: (pending: PendingEvent) => void): number {
    const left = [...this.waiting];
    for (const entry of left) {
      this.settle(entry);
      admit(entry.pending);
    }
    return left.length;
  }

  private settle(entry: Waiting): void {
    entry.done = true;
    this.waiting.delete(entry);
    entry.admit();
  }
}
