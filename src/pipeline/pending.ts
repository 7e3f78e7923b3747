import type { ActivityBindings } from '../bindings.js';
import { stampUuidv7, type UuidV7Stamp } from '../ids.js';
import { snapshotEvent, type EventSnapshot } from '../snapshot.js';

/**
 * An event waiting in the queue: one object holding the snapshot of the caller's fields and
 * the parts of the UUIDv7 stamped at `log()` time (formatted later, by the flusher), because
 * every allocation on the caller's path counts (see the log-call benchmark).
 */
export interface PendingEvent extends EventSnapshot, UuidV7Stamp {
  /** When `log()` was called. */
  loggedAtMs: number;
  bindings: ActivityBindings | undefined;
  /** Position in the queue, set on enqueue; `flush()` waits on it. */
  seq: number;
}

/** Snapshots an event and stamps its id and time: all of `log()`'s work on the caller's path. */
export function pendingEvent(event: unknown, bindings: ActivityBindings | undefined, includeStack: boolean): PendingEvent {
  const loggedAtMs = Date.now();
  const pending: PendingEvent = {
    fields: {},
    unknownKeys: undefined,
    problem: undefined,
    ms: 0,
    counter: 0,
    rand0: 0,
    rand1: 0,
    rand2: 0,
    loggedAtMs,
    bindings,
    seq: 0,
  };
  snapshotEvent(event, includeStack, pending);
  // A caller-supplied id replaces the stamp; stamping anyway keeps the counter simple.
  return stampUuidv7(loggedAtMs, pending);
}
