import { ActivityLogError } from '../../src/errors.js';
import { createActivityLogger, type ActivityLogger, type ActivityLoggerOptions } from '../../src/logger.js';
import type { ActivityCatalog } from '../../src/materialize.js';
import { refuseUnknownOptions } from '../../src/option-keys.js';
import { LOGGER_OPTIONS } from '../../src/options.js';
import { rateLimitedWarn } from '../../src/report.js';
import type { ActivityRecord } from '../../src/schema.js';
import { memoryStore, type MemoryStore } from '../storage/memory.js';

/** Options of {@link createTestLogger}: every logger option except `store`, which it makes. */
export type TestLoggerOptions<C extends ActivityCatalog = {}> = Omit<ActivityLoggerOptions<C>, 'store'>;

/** The options of {@link TestLoggerOptions}: the logger's (checked against its interface in options.ts), but `store`. */
const TEST_LOGGER_OPTIONS = LOGGER_OPTIONS.filter((name) => name !== 'store');

/** A logger over a fresh memory store, with ways to read what it stored. */
export interface TestLogger<C extends ActivityCatalog = {}> extends ActivityLogger<C> {
  /** The memory store every record goes to (shared by the children from `with()`). */
  readonly store: MemoryStore;
  /**
   * Every stored record, oldest first: by `occurredAt`, then by id (the order they were logged
   * in, unless an event gave its own `occurredAt` or `id`). Copies; records still queued are
   * not here until `flush()` resolves.
   */
  records(): ActivityRecord[];
  /** Every error reported through `onError` (invalid events, drops, store failures), oldest first. */
  errors(): ActivityLogError[];
}

/**
 * A logger for an app's tests: `createActivityLogger` over a fresh `memoryStore()`, so the
 * matchers of {@link activityMatchers} can read what it stored, from it and from its children.
 * Every event logged before `flush()` is stored (or has definitively failed) when it resolves:
 * await it before asserting.
 *
 * @example
 * const activity = createTestLogger({ catalog });
 * const recipes = createRecipes(db, () => activity);
 * await recipes.update('r_1', { title: 'Soup' });
 * await activity.flush();
 * expect(activity).toHaveLogged({ action: 'recipe.update', status: 'success' });
 */
export function createTestLogger<C extends ActivityCatalog = {}>(options: TestLoggerOptions<C> = {} as TestLoggerOptions<C>): TestLogger<C> {
  if (options === null || typeof options !== 'object') {
    throw new ActivityLogError('INVALID_OPTIONS', `createTestLogger: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  if ('store' in options) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      'store: createTestLogger makes its own memory store; leave store out (createActivityLogger({ store }) takes any other)',
    );
  }
  refuseUnknownOptions('createTestLogger', options, TEST_LOGGER_OPTIONS);
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'onError: must be a function');
  }
  const store = memoryStore();
  const errors: ActivityLogError[] = [];
  // Kept for errors(), then handed on as the logger would: to the app's onError, else the default warning.
  const handOn = options.onError ?? rateLimitedWarn();
  const logger = createActivityLogger<C>({
    // A test may log thousands of events in a tight loop before it flushes: none is dropped.
    maxQueue: 1_000_000,
    ...options,
    store,
    onError(error) {
      errors.push(error);
      handOn(error);
    },
  });
  // The logger itself, not a wrapper: `with()`, `flush()` and the request scope keep working on it.
  return Object.assign(logger as ActivityLogger<C> & { readonly store: MemoryStore }, {
    records: () => store.all().reverse(),
    errors: () => [...errors],
  });
}
