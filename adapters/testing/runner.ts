import type * as Vitest from 'vitest';
import { ActivityLogError } from '../../src/errors.js';

/**
 * The test API of the running vitest, found when a suite is registered rather than imported:
 * `activity-log/testing` must load without vitest (jest, plain node), and vitest itself cannot
 * be required from CommonJS. Vitest puts its module namespace on `globalThis.__vitest_index__`
 * in every worker (it backs in-source testing's `import.meta.vitest`), the same instance a
 * test file gets from `import 'vitest'`. Types only are taken from vitest: nothing here loads it.
 */

/** The part of vitest's API the conformance suite uses. */
export type TestApi = Pick<typeof Vitest, 'describe' | 'it' | 'expect' | 'beforeEach' | 'afterEach'>;

/** The running vitest's API; throws `INVALID_OPTIONS` naming `caller` when not under vitest. */
export function testApi(caller = 'describeActivityStore'): TestApi {
  const api = (globalThis as { __vitest_index__?: Partial<TestApi> }).__vitest_index__;
  if (api && typeof api.describe === 'function' && typeof api.it === 'function' && typeof api.expect === 'function') return api as TestApi;
  throw new ActivityLogError(
    'INVALID_OPTIONS',
    `${caller}() runs under vitest (^3.2 || ^4): call it from a vitest test file. Under jest or another runner, ` +
      'createTestLogger() and activityMatchers work, but the store conformance suite does not.',
  );
}

/**
 * A stand-in for one function of the test API that looks it up on each call and each property
 * read (`describe.skipIf`, `expect.stringContaining`), so the suite's module can name
 * `describe` and `expect` at the top while loading without vitest.
 */
function late<K extends keyof TestApi>(name: K): TestApi[K] {
  // An arrow function: no `prototype`, so the proxy has no invariant to keep for it.
  const target = (() => undefined) as unknown as object;
  return new Proxy(target, {
    apply: (_target, thisArg, args) => Reflect.apply(testApi()[name] as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, key) => Reflect.get(testApi()[name] as object, key),
    has: (_target, key) => Reflect.has(testApi()[name] as object, key),
  }) as TestApi[K];
}

export const describe = late('describe');
export const it = late('it');
export const expect = late('expect');
export const beforeEach = late('beforeEach');
export const afterEach = late('afterEach');
