import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createActivityLogger,
  type ActivityEvent,
  type ActivityLogger,
  type ActivityPage,
  type ActivityRecord,
  type ActivityStats,
} from '../../src/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';

describe('public types', () => {
  it('types log() with the event schema', () => {
    const activity = createActivityLogger({ store: memoryStore() });
    expectTypeOf(activity.log).returns.toEqualTypeOf<void>();
    expectTypeOf(activity.log).parameter(0).toEqualTypeOf<ActivityEvent>();
    activity.log({ action: 'recipe.create', actor: { type: 'user', id: 1 }, target: { type: 'recipe', id: 'r1' } });
    // @ts-expect-error action is required
    activity.log({ status: 'success' });
    // @ts-expect-error status is one of success, failure, denied
    activity.log({ action: 'a.b', status: 'ok' });
    // @ts-expect-error a target needs an id
    activity.log({ action: 'a.b', target: { type: 'recipe' } });
    // @ts-expect-error unknown fields are not events
    activity.log({ action: 'a.b', user: 'u1' });
  });

  it('types each action of a catalog with its metadata schema', () => {
    const activity = createActivityLogger({
      store: memoryStore(),
      catalog: {
        'recipe.create': z.object({ title: z.string(), servings: z.number().optional() }),
        'user.logout': z.object({}).optional(),
      },
    });
    activity.log({ action: 'recipe.create', metadata: { title: 'Soup' } });
    activity.log({ action: 'user.logout' });
    // @ts-expect-error title must be a string
    activity.log({ action: 'recipe.create', metadata: { title: 1 } });
    // @ts-expect-error metadata is required for recipe.create
    activity.log({ action: 'recipe.create' });
    // @ts-expect-error actions outside the catalog are refused at compile time
    activity.log({ action: 'recipe.craete', metadata: { title: 'typo' } });
    expectTypeOf(activity.with({ tenantId: 't1' })).toEqualTypeOf<typeof activity>();
  });

  it('types results', () => {
    const activity: ActivityLogger = createActivityLogger({ store: memoryStore() });
    expectTypeOf(activity.query()).resolves.toEqualTypeOf<ActivityPage>();
    expectTypeOf(activity.get('x')).resolves.toEqualTypeOf<ActivityRecord | undefined>();
    expectTypeOf(activity.stats()).toEqualTypeOf<ActivityStats>();
    expectTypeOf<ActivityRecord['occurredAt']>().toEqualTypeOf<Date>();
    expectTypeOf<ActivityRecord['status']>().toEqualTypeOf<'success' | 'failure' | 'denied'>();
    // @ts-expect-error limit is a number
    void activity.query({ limit: '10' });
  });
});
