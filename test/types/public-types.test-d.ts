import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  activityEventSchema,
  activityFilterSchema,
  activityQuerySchema,
  activityRecordSchema,
  actorSchema,
  changesSchema,
  contextSchema,
  errorInfoSchema,
  purgeExceptionSchema,
  purgeOptionsSchema,
  recordIntegritySchema,
  summaryQuerySchema,
  targetSchema,
  ACTIVITY_STATUSES,
  SUMMARY_DIMENSIONS,
} from '../../src/schema.js';
import type * as Public from '../../src/types.js';

/**
 * The public types are written by hand (src/types.ts) so that the declarations never import
 * zod; each must stay exactly what its schema checks, as a caller writes it (input) or as a
 * store receives it (output).
 */
describe('the hand-written public types equal what the schemas infer', () => {
  it('events and their parts, as callers write them', () => {
    expectTypeOf<Public.ActivityEvent>().toEqualTypeOf<z.input<typeof activityEventSchema>>();
    expectTypeOf<Public.ActivityActor>().toEqualTypeOf<z.input<typeof actorSchema>>();
    expectTypeOf<Public.ActivityTarget>().toEqualTypeOf<z.input<typeof targetSchema>>();
    expectTypeOf<Public.ActivityContext>().toEqualTypeOf<z.input<typeof contextSchema>>();
    expectTypeOf<Public.ActivityStatus>().toEqualTypeOf<(typeof ACTIVITY_STATUSES)[number]>();
    expectTypeOf<Public.ParsedActivityEvent>().toEqualTypeOf<z.output<typeof activityEventSchema>>();
  });

  it('records, as stores keep them', () => {
    expectTypeOf<Public.ActivityRecord>().toEqualTypeOf<z.output<typeof activityRecordSchema>>();
    expectTypeOf<Public.ActivityErrorInfo>().toEqualTypeOf<z.output<typeof errorInfoSchema>>();
    expectTypeOf<Public.ActivityChanges>().toEqualTypeOf<z.output<typeof changesSchema>>();
    expectTypeOf<Public.RecordIntegrity>().toEqualTypeOf<z.output<typeof recordIntegritySchema>>();
  });

  it('queries, summaries and purges, as written and as validated', () => {
    expectTypeOf<Public.ActivityQuery>().toEqualTypeOf<z.input<typeof activityQuerySchema>>();
    expectTypeOf<Public.NormalizedActivityQuery>().toEqualTypeOf<z.output<typeof activityQuerySchema>>();
    expectTypeOf<Public.ActivityFilter>().toEqualTypeOf<z.input<typeof activityFilterSchema>>();
    expectTypeOf<Public.NormalizedActivityFilter>().toEqualTypeOf<z.output<typeof activityFilterSchema>>();
    expectTypeOf<Public.SummaryQuery>().toEqualTypeOf<z.input<typeof summaryQuerySchema>>();
    expectTypeOf<Public.NormalizedSummaryQuery>().toEqualTypeOf<z.output<typeof summaryQuerySchema>>();
    expectTypeOf<Public.SummaryDimension>().toEqualTypeOf<(typeof SUMMARY_DIMENSIONS)[number]>();
    expectTypeOf<Public.PurgeOptions>().toEqualTypeOf<z.input<typeof purgeOptionsSchema>>();
    expectTypeOf<Public.NormalizedPurgeOptions>().toEqualTypeOf<z.output<typeof purgeOptionsSchema>>();
    expectTypeOf<Public.PurgeException>().toEqualTypeOf<z.output<typeof purgeExceptionSchema>>();
  });
});
