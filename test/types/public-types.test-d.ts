import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { ACTIVITY_STATUSES, SUMMARY_DIMENSIONS } from '../../src/schema.js';
import type { Schemas } from '../../src/schemas.js';
import type * as Public from '../../src/types.js';

/**
 * The public types are written by hand (src/types.ts) so that the declarations never import
 * zod; each must stay exactly what its schema checks, as a caller writes it (input) or as a
 * store receives it (output).
 */
type S = Schemas;

describe('the hand-written public types equal what the schemas infer', () => {
  it('events and their parts, as callers write them', () => {
    expectTypeOf<Public.ActivityEvent>().toEqualTypeOf<z.input<S['activityEventSchema']>>();
    expectTypeOf<Public.ActivityActor>().toEqualTypeOf<z.input<S['actorSchema']>>();
    expectTypeOf<Public.ActivityTarget>().toEqualTypeOf<z.input<S['targetSchema']>>();
    expectTypeOf<Public.ActivityContext>().toEqualTypeOf<z.input<S['contextSchema']>>();
    expectTypeOf<Public.ActivityStatus>().toEqualTypeOf<(typeof ACTIVITY_STATUSES)[number]>();
    expectTypeOf<Public.ParsedActivityEvent>().toEqualTypeOf<z.output<S['activityEventSchema']>>();
  });

  it('records, as stores keep them', () => {
    expectTypeOf<Public.ActivityRecord>().toEqualTypeOf<z.output<S['activityRecordSchema']>>();
    expectTypeOf<Public.ActivityErrorInfo>().toEqualTypeOf<z.output<S['errorInfoSchema']>>();
    expectTypeOf<Public.ActivityChanges>().toEqualTypeOf<z.output<S['changesSchema']>>();
    expectTypeOf<Public.RecordIntegrity>().toEqualTypeOf<z.output<S['recordIntegritySchema']>>();
  });

  it('queries, summaries and purges, as written and as validated', () => {
    expectTypeOf<Public.ActivityQuery>().toEqualTypeOf<z.input<S['activityQuerySchema']>>();
    expectTypeOf<Public.NormalizedActivityQuery>().toEqualTypeOf<z.output<S['activityQuerySchema']>>();
    expectTypeOf<Public.ActivityFilter>().toEqualTypeOf<z.input<S['activityFilterSchema']>>();
    expectTypeOf<Public.NormalizedActivityFilter>().toEqualTypeOf<z.output<S['activityFilterSchema']>>();
    expectTypeOf<Public.SummaryQuery>().toEqualTypeOf<z.input<S['summaryQuerySchema']>>();
    expectTypeOf<Public.NormalizedSummaryQuery>().toEqualTypeOf<z.output<S['summaryQuerySchema']>>();
    expectTypeOf<Public.SummaryDimension>().toEqualTypeOf<(typeof SUMMARY_DIMENSIONS)[number]>();
    expectTypeOf<Public.PurgeOptions>().toEqualTypeOf<z.input<S['purgeOptionsSchema']>>();
    expectTypeOf<Public.NormalizedPurgeOptions>().toEqualTypeOf<z.output<S['purgeOptionsSchema']>>();
    expectTypeOf<Public.HistoryTarget>().toEqualTypeOf<z.input<S['historyTargetSchema']>>();
    expectTypeOf<Public.HistoryOptions>().toEqualTypeOf<z.input<S['historyOptionsSchema']>>();
    expectTypeOf<Public.PurgeException>().toEqualTypeOf<z.output<S['purgeExceptionSchema']>>();
  });
});
