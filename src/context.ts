import { AsyncLocalStorage } from 'node:async_hooks';
import { ActivityLogError } from './errors.js';
import type { ActivityLogger } from './logger.js';
import type { RegisteredActivityLogger } from './register.js';

/**
 * Request scope: the logger bound to the current request, found from anywhere awaited inside
 * it. The only Node-specific module of the core (AsyncLocalStorage also exists on Deno, Bun
 * and edge runtimes with Node compatibility).
 *
 * The storage lives on `globalThis` under a registered symbol, so an app that loads this
 * package twice (once through `import`, once through `require`) still shares one scope.
 */
const STORAGE_KEY = Symbol.for('activity-log.request-scope');
const globalSlot = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<ActivityLogger<any>> };
const storage: AsyncLocalStorage<ActivityLogger<any>> = (globalSlot[STORAGE_KEY] ??= new AsyncLocalStorage());

/**
 * Runs `fn` with `logger` as the current activity logger for everything it awaits.
 *
 * @example
 * runWithActivityContext(activity.with({ actor: { type: 'system' } }), () => runNightlyJob());
 */
export function runWithActivityContext<T>(logger: ActivityLogger<any>, fn: () => T): T {
  return storage.run(logger, fn);
}

/**
 * The logger bound to the current request (by the framework middleware or
 * {@link runWithActivityContext}). Throws `NO_ACTIVITY_CONTEXT` outside one: a call there is
 * a wiring mistake worth seeing at once. Use {@link tryCurrentActivity} where either is fine.
 * Typed as the logger registered in `ActivityLogRegister`, if the app registered one.
 */
export function currentActivity<L extends ActivityLogger<any> = RegisteredActivityLogger<ActivityLogger>>(): L {
  const logger = storage.getStore();
  if (!logger) {
    throw new ActivityLogError(
      'NO_ACTIVITY_CONTEXT',
      'currentActivity() was called outside a request scope: add the activity middleware, or wrap the call in runWithActivityContext()',
    );
  }
  return logger as L;
}

/** The logger bound to the current request, or `undefined` outside one. */
export function tryCurrentActivity<L extends ActivityLogger<any> = RegisteredActivityLogger<ActivityLogger>>(): L | undefined {
  return storage.getStore() as L | undefined;
}
