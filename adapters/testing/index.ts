/**
 * `activity-log/testing`: helpers for an app's tests, and the conformance suite for stores.
 *
 * - {@link createTestLogger} and {@link activityMatchers} work under any runner with
 *   `expect.extend` (vitest, jest): `expect(logger).toHaveLogged({ action: 'recipe.update' })`.
 * - {@link describeActivityStore} registers the store conformance suite; it runs under vitest,
 *   which it finds when called (this module imports no test runner, so it loads anywhere).
 */
export { createTestLogger } from './test-logger.js';
export type { TestLogger, TestLoggerOptions } from './test-logger.js';
export { activityMatchers } from './matchers.js';
export type { ActivityMatcherContext, ActivityMatcherResult, ActivityMatchers, ActivityPattern, AsymmetricMatcherLike, ExpectedActivity } from './matchers.js';
export { describeActivityStore, parseJsonColumns, recordToRow } from './store-conformance.js';
export type { ConformanceContext, RawReader, RawRow, StoreConformanceOptions } from './store-conformance.js';
