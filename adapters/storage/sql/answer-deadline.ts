import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * A deadline for the database's answer to the store's inserts, over a network that can lose a
 * connection without a reset (a server that hangs, a firewall or NAT that forgets the
 * connection, packets dropped): such a connection never answers, and neither pg nor mysql2
 * gives up on it. Its insert would hold a pool slot for ever (the pool runs dry after `max`
 * of them, and the store with it, even once the network is back), and the logger would wait
 * for it for ever, as it waits for an insert it already sent rather than sending it twice
 * (a spool's replay too). Past the deadline, the connection's socket is destroyed: its
 * statement fails as any lost connection's does, the driver takes the connection out of the
 * pool, and the logger's next attempt goes out on a fresh one; if the first did commit, ids
 * keep one copy. @internal
 */

/**
 * One store's deadline: how long the database has to answer each statement sent inside
 * `run()` on a guarded connection, and the connections of those still unanswered.
 */
export class AnswerDeadline {
  /** Closes the connection of each statement sent inside `run()` and not answered yet. */
  private readonly unanswered = new Set<() => void>();

  constructor(
    readonly ms: number,
    /** The option that sets `ms`, for the error. */
    readonly option: string,
  ) {}

  /** Runs `fn` with this deadline on every statement it sends on a guarded connection. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return current.run(this, fn);
  }

  /**
   * Closes the connections of the statements still unanswered: the store is closing, the
   * logger gave up on them, and a connection lost on the network would otherwise hold the
   * process open until the deadline (the pool cannot end before its connections come back).
   */
  abandon(): void {
    for (const close of [...this.unanswered]) close();
  }

  /** @internal */
  sent(close: () => void): () => void {
    this.unanswered.add(close);
    return () => this.unanswered.delete(close);
  }
}

/** The deadline of the statements being sent, set by {@link AnswerDeadline.run}. */
const current = new AsyncLocalStorage<AnswerDeadline>();

/** Marks a connection whose `query` is already guarded, since pools hand one out many times. */
const GUARDED = Symbol('activity-log.answer-deadline');

/**
 * Wraps `connection.query` so that a statement sent inside {@link AnswerDeadline.run} and not
 * answered within its deadline destroys `socket()` with an error naming the deadline. Other
 * statements (reads, migrations, the pool owner's own queries on a pool passed in) are left
 * as they are. Works for both drivers' shapes: a promise (pg) or a last-argument callback
 * (mysql2). Returns `connection`.
 */
export function guardConnection<C extends object>(connection: C, socket: (connection: C) => { destroy(error?: Error): unknown } | undefined): C {
  const guarded = connection as C & { [GUARDED]?: true; query: (...args: unknown[]) => unknown };
  if (guarded[GUARDED] || typeof guarded.query !== 'function') return connection;
  guarded[GUARDED] = true;
  const query = guarded.query;
  guarded.query = function (this: unknown, ...args: unknown[]) {
    const deadline = current.getStore();
    if (deadline === undefined) return query.apply(this, args);
    const close = (why: string) => socket(connection)?.destroy(new Error(`${why}; its connection is closed`));
    const timer = setTimeout(() => close(`the database did not answer within ${deadline.option} (${deadline.ms} ms)`), deadline.ms);
    // Never what keeps a process alive: a statement in flight does that by its socket.
    timer.unref?.();
    const answered = deadline.sent(() => close('the store was closed before the database answered'));
    const done = () => {
      clearTimeout(timer);
      answered();
    };
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (...results: unknown[]) => unknown;
      args[last] = function (this: unknown, ...results: unknown[]) {
        done();
        return callback.apply(this, results);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    else done();
    return result;
  };
  return connection;
}
