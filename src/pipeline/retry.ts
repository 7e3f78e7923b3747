/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return delay / 2 + Math.random() * (delay / 2);
}

/**
 * Sleeps between attempts, all woken at once by `wakeAll()` (close() stops waiting for a
 * store that is down). A sleep that someone awaits (`keepAlive`) holds the process open; a
 * background one (a replay waiting for the store) does not.
 */
export class Sleeper {
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  sleep(ms: number, keepAlive: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
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

  /** Wakes every sleeper now, and makes later sleeps return at once. */
  wakeAll(): void {
    this.stopped = true;
    for (const wake of [...this.sleepers]) wake();
  }
}

/** A timer that does not keep the process alive (where the runtime has the notion). */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** Told of a `withinTime` timer while it runs, to let go of it (`unref`) when nobody waits any more. */
export interface TimerHolder {
  hold(timer: ReturnType<typeof setTimeout>): void;
  drop(timer: ReturnType<typeof setTimeout>): void;
}

/**
 * Resolves true when `promise` settles within `ms`, false otherwise; never rejects. The timer
 * holds the process open (whoever waits is waiting for an answer), unless `holder` lets go of it.
 */
export async function withinTime(promise: Promise<unknown>, ms: number, holder?: TimerHolder): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    holder?.hold(timer);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
    if (timer !== undefined) holder?.drop(timer);
  }
}
