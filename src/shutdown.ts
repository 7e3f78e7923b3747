import { describeValue } from './describe.js';
import { ActivityLogError } from './errors.js';
import type { ActivityLogger } from './logger.js';
import { optionNames, refuseUnknownOptions } from './option-keys.js';

/** Options of {@link installShutdownHandlers}. */
export interface ShutdownOptions {
  /**
   * Signals after which the logger is closed before the process goes on to exit.
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly NodeJS.Signals[];
  /**
   * Every logger now writes what it holds when the event loop empties (`beforeExit`), with or
   * without these handlers, so that a script that simply ends never loses its last events:
   * this option changes nothing and is kept so that code passing it still runs.
   * @deprecated the logger flushes before exit by itself.
   */
  flushBeforeExit?: boolean;
  /**
   * Runs first when a signal comes, before the logger closes: stop your HTTP server here and
   * let its open requests finish, so the events they log are still written. A throw or
   * rejection is ignored (the logger closes anyway).
   * @default undefined
   */
  beforeClose?: () => void | Promise<void>;
}

/** The options of {@link ShutdownOptions}, for the check that refuses others. */
const SHUTDOWN_OPTIONS = optionNames<ShutdownOptions>()(['signals', 'flushBeforeExit', 'beforeClose']);

/**
 * The signal names Node.js knows (its `NodeJS.Signals`), listed here rather than read from
 * `node:os`, so that the root entry loads on runtimes without it (hono on the edge).
 */
const SIGNAL_NAMES: ReadonlySet<string> = new Set<NodeJS.Signals>([
  'SIGABRT', 'SIGALRM', 'SIGBUS', 'SIGCHLD', 'SIGCONT', 'SIGFPE', 'SIGHUP', 'SIGILL', 'SIGINT', 'SIGIO', 'SIGIOT', 'SIGKILL',
  'SIGPIPE', 'SIGPOLL', 'SIGPROF', 'SIGPWR', 'SIGQUIT', 'SIGSEGV', 'SIGSTKFLT', 'SIGSTOP', 'SIGSYS', 'SIGTERM', 'SIGTRAP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGUNUSED', 'SIGURG', 'SIGUSR1', 'SIGUSR2', 'SIGVTALRM', 'SIGWINCH', 'SIGXCPU', 'SIGXFSZ',
  'SIGBREAK', 'SIGLOST', 'SIGINFO',
]);

/**
 * Refuses what would only fail when the signal comes, the moment the log must be saved: a
 * `signals` that is not a list of signal names (`'SIGTERM'` alone, a typo),
 * a `beforeClose` that is not a function (its throw would be swallowed, the server left open).
 */
function checkShutdownOptions(options: ShutdownOptions): void {
  const fail = (message: string) => new ActivityLogError('INVALID_OPTIONS', `installShutdownHandlers: ${message}`);
  const { signals, beforeClose } = options as Record<string, unknown>;
  if (signals !== undefined) {
    if (!Array.isArray(signals)) throw fail(`signals: must be a list of signal names such as ['SIGTERM', 'SIGINT'], got ${describeValue(signals)}`);
    for (const signal of signals) {
      if (typeof signal !== 'string' || !SIGNAL_NAMES.has(signal)) {
        throw fail(`signals: ${describeValue(signal)} is not a signal name Node.js knows (such as 'SIGTERM')`);
      }
    }
  }
  if (beforeClose !== undefined && typeof beforeClose !== 'function') throw fail(`beforeClose: must be a function, got ${describeValue(beforeClose)}`);
}

/**
 * Closes the logger (drain the queue, write to the store or the spool, close the store) on
 * SIGTERM and SIGINT, then lets the process exit as it would have: when no other listener
 * handles the signal, the signal is raised again with Node's default action, so the exit
 * status and the parent's view of it stay the same. With other listeners, they decide.
 *
 * Returns a function that removes the handlers.
 *
 * @example
 * const activity = createActivityLogger({ store: sqliteStore() });
 * installShutdownHandlers(activity);
 */
export function installShutdownHandlers(logger: ActivityLogger<any>, options: ShutdownOptions = {}): () => void {
  refuseUnknownOptions('installShutdownHandlers', options, SHUTDOWN_OPTIONS);
  checkShutdownOptions(options);
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  if (!proc || typeof proc.on !== 'function') return () => {};
  const signals = options.signals ?? (['SIGTERM', 'SIGINT'] as const);
  let shuttingDown = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const before = async () => {
      try {
        await options.beforeClose?.();
      } catch {
        // The app's own shutdown step failed; the log still closes.
      }
    };
    void before()
      .then(() => logger.close())
      .finally(() => {
        uninstall();
        // Re-raise only when nobody else listens: then Node's default action (exit by signal) runs.
        if (proc.listenerCount(signal) === 0) proc.kill(proc.pid, signal);
      });
  };

  const handlers = signals.map((signal) => {
    const handler = () => onSignal(signal);
    proc.on(signal, handler);
    return { signal, handler };
  });

  function uninstall() {
    for (const { signal, handler } of handlers) proc!.removeListener(signal, handler);
  }
  return uninstall;
}
