/**
 * Writes what open loggers still hold when the event loop empties (`beforeExit`). A script that
 * logs and simply ends, without `flush()` or `close()`, would otherwise exit with its last
 * events in memory and no word about them: nothing a logger waits on holds the process open
 * (its timers are unref'd, and so are the stores' idle connections and threads), which is what
 * lets a server stop and a script end when they are done. @internal
 *
 * One listener serves every open logger of the process, there only while one is open: each
 * logger is held weakly, so one dropped without `close()` can still be collected, and
 * `close()` takes it off the list, since it drains the queue itself. The list lives on
 * `globalThis`, so that two copies of this module (the ESM and CommonJS builds in one process,
 * a test runner's fresh module registry per file) share one listener instead of adding theirs.
 */

/** What the exit flush needs of a logger. */
export interface ExitFlushable {
  stats(): { queued: number };
  flush(): Promise<void>;
}

interface OpenLoggers {
  readonly loggers: Set<WeakRef<ExitFlushable>>;
  readonly collected: FinalizationRegistry<WeakRef<ExitFlushable>>;
  readonly listener: () => void;
}

const OPEN_LOGGERS = Symbol.for('activity-log.open-loggers');

/** Has `logger`'s queued events written when the event loop empties; returns the undoing function. */
export function flushBeforeExit(logger: ExitFlushable): () => void {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  if (!proc || typeof proc.on !== 'function' || typeof proc.removeListener !== 'function') return () => {};
  const open = openLoggers(proc);
  const ref = new WeakRef(logger);
  if (open.loggers.size === 0) proc.on('beforeExit', open.listener);
  open.loggers.add(ref);
  open.collected.register(logger, ref, ref);
  return () => {
    open.collected.unregister(ref);
    forget(proc, open, ref);
  };
}

function openLoggers(proc: NodeJS.Process): OpenLoggers {
  const global = globalThis as { [OPEN_LOGGERS]?: OpenLoggers };
  if (global[OPEN_LOGGERS]) return global[OPEN_LOGGERS];
  const loggers = new Set<WeakRef<ExitFlushable>>();
  const open: OpenLoggers = {
    loggers,
    collected: new FinalizationRegistry((ref) => forget(proc, open, ref)),
    listener: () => {
      // A flush schedules I/O, so `beforeExit` comes again once it is done: the process ends
      // when no logger has anything left (written, or dropped and counted once retries give up).
      for (const ref of loggers) {
        const logger = ref.deref();
        if (logger !== undefined && logger.stats().queued > 0) void logger.flush().catch(() => undefined);
      }
    },
  };
  global[OPEN_LOGGERS] = open;
  return open;
}

function forget(proc: NodeJS.Process, open: OpenLoggers, ref: WeakRef<ExitFlushable>): void {
  if (!open.loggers.delete(ref)) return;
  if (open.loggers.size === 0) proc.removeListener('beforeExit', open.listener);
}
