/**
 * Writes what open loggers still hold when the event loop empties (`beforeExit`). A script that
 * logs and simply ends, without `flush()` or `close()`, would otherwise exit with its last
 * events in memory and no word about them: nothing a logger waits on holds the process open
 * (its timers are unref'd, and so are the stores' idle connections and threads), which is what
 * lets a server stop and a script end when they are done. @internal
 *
 * One listener serves every logger of the process. Each logger is held weakly, so one dropped
 * without `close()` can still be collected; `close()` takes it off the list, since it drains
 * the queue itself.
 */

/** What the exit flush needs of a logger. */
export interface ExitFlushable {
  stats(): { queued: number };
  flush(): Promise<void>;
}

const open = new Set<WeakRef<ExitFlushable>>();
const collected = new FinalizationRegistry<WeakRef<ExitFlushable>>((ref) => open.delete(ref));
let listening = false;

/** Has `logger`'s queued events written when the event loop empties; returns the undoing function. */
export function flushBeforeExit(logger: ExitFlushable): () => void {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  if (!proc || typeof proc.on !== 'function') return () => {};
  const ref = new WeakRef(logger);
  open.add(ref);
  collected.register(logger, ref, ref);
  if (!listening) {
    listening = true;
    proc.on('beforeExit', flushOpenLoggers);
  }
  return () => {
    open.delete(ref);
    collected.unregister(ref);
  };
}

function flushOpenLoggers(): void {
  // A flush schedules I/O, so `beforeExit` comes again once it is done: the process ends when
  // no logger has anything left (written, or dropped and counted once retries give up).
  for (const ref of open) {
    const logger = ref.deref();
    if (logger !== undefined && logger.stats().queued > 0) void logger.flush().catch(() => undefined);
  }
}
