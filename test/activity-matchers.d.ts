/**
 * The types of activity-log/testing's matchers on vitest's `expect`, as an app adds them (see
 * the README's Testing section). The test files that use them install them with
 * `expect.extend(activityMatchers)`.
 */
import 'vitest';
import type { ActivityMatchers } from '../adapters/testing/index.js';

declare module 'vitest' {
  interface Matchers<T = any> extends ActivityMatchers<T> {}
}
