import type { ActivityLogError } from './errors.js';

/** Receives every failure the logger does not throw: invalid events, drops, store failures. */
export type ErrorHandler = (error: ActivityLogError) => void;

/**
 * The default `onError`: `console.warn`, at most `burst` messages per `windowMs`, then one line
 * saying how many were suppressed. A storm of bad events must not become a storm of logs.
 */
export function rateLimitedWarn(burst = 10, windowMs = 10_000): ErrorHandler {
  let windowStart = 0;
  let shown = 0;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      if (suppressed > 0) console.warn(`[activity-log] ${suppressed} more errors were suppressed in the last ${windowMs} ms`);
      windowStart = now;
      shown = 0;
      suppressed = 0;
    }
    if (shown >= burst) {
      suppressed++;
      return;
    }
    shown++;
    if (error.cause === undefined) console.warn(`[activity-log] ${error.code}: ${error.message}`);
    else console.warn(`[activity-log] ${error.code}: ${error.message}`, error.cause);
  };
}

/** Calls `handler`, containing anything it throws: a broken handler must not break logging. */
export function safeReport(handler: ErrorHandler, error: ActivityLogError): void {
  try {
    handler(error);
  } catch (thrown) {
    try {
      console.warn('[activity-log] onError threw while reporting', error.code, thrown);
    } catch {
      // Nothing left to tell.
    }
  }
}
