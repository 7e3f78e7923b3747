import type { z as Z } from 'zod';
import { describeValue as describe } from './describe.js';
import { EVENT_ID_PATTERN } from './cursor.js';
import {
  ACTION_FILTER_PATTERN,
  ACTION_PATTERN,
  ACTIVITY_STATUSES,
  DEFAULT_PAGE_SIZE,
  LIMITS,
  MAX_PAGE_SIZE,
  MAX_PURGE_EXCEPTIONS,
  MAX_SEARCH_LENGTH,
  METADATA_KEY_PATTERN,
  SUMMARY_DIMENSIONS,
} from './schema.js';
import { isStorableTime, TIME_INPUT_RULE, TIME_RANGE_RULE, timeInputToMs } from './time.js';
import { packageRequire } from './package-location.js';

/**
 * The zod schemas that check events, queries, summaries and purges, built on first use: zod is
 * loaded then, not when the package is, so an app that only logs (valid events are checked by
 * fast-validate.ts) never pays for it (about 3 MiB of heap; see the heap benchmark). Each rule
 * is written once here; the public types in types.ts are held equal to what these infer by a
 * type test (test/types/public-types.test-d.ts). @internal
 */
export function schemas(): Schemas {
  return (built ??= buildSchemas(zod()));
}

/** zod itself, loaded on first use (synchronously: the checks that need it are synchronous). @internal */
export function zod(): typeof Z {
  return (loaded ??= (packageRequire()('zod') as { z: typeof Z }).z);
}

let loaded: typeof Z | undefined;
let built: Schemas | undefined;

/** The schemas, by name. */
export type Schemas = ReturnType<typeof buildSchemas>;

function buildSchemas(z: typeof Z) {
  const text = (max: number) =>
    z
      .string({ error: (issue) => `must be a string, got ${describe(issue.input)}` })
      .min(1, { error: 'must not be empty' })
      .max(max, { error: `must be at most ${max} characters` });

  /** A whole number from `min` to `max`, refused naming the rule and the value given. */
  const wholeNumber = (min: number, max: number) => {
    const error = (issue: { input?: unknown }) => `must be a whole number from ${min} to ${max}, got ${describe(issue.input)}`;
    return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
  };

  /** An array of at most `max` items, refused naming the rule and what was given instead. */
  const listOf = <T extends Z.ZodType>(item: T, max: number, what: string) =>
    z
      .array(item, { error: (issue) => `must be an array of ${what}, got ${describe(issue.input)}` })
      .max(max, { error: (issue) => `must have at most ${max} items, got ${Array.isArray(issue.input) ? issue.input.length : describe(issue.input)}` });

  /** An identifier: a non-empty string, or a number that is stored as its string form. */
  const idValue = z
    .union([z.string(), z.number().finite()], {
      error: (issue) => `must be a string or a finite number, got ${describe(issue.input)}`,
    })
    .transform(String)
    .pipe(text(LIMITS.id));

  /** A caller-supplied event id: kept as given, so a retried `log()` with the same id is stored once. */
  const eventIdSchema = z
    .string({ error: (issue) => `must be a string, got ${describe(issue.input)}` })
    .regex(EVENT_ID_PATTERN, {
      error: (issue) => `must be 1-64 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit, got ${describe(issue.input)}`,
    });

  /** The action: what was done, as dotted lower-case segments. */
  const actionSchema = z
    .string({ error: (issue) => `is required and must be a string, got ${describe(issue.input)}` })
    .max(LIMITS.action, { error: `must be at most ${LIMITS.action} characters` })
    .regex(ACTION_PATTERN, {
      error: (issue) => `must be dotted lower-case like "recipe.update", got ${describe(issue.input)}`,
    });

  /** `success` (the default), `failure` or `denied`. */
  const statusSchema = z.enum(ACTIVITY_STATUSES, {
    error: (issue) => `must be one of success, failure, denied, got ${describe(issue.input)}`,
  });

  const jsonObject = z.record(z.string(), z.unknown(), {
    error: (issue) => `must be a plain object, got ${describe(issue.input)}`,
  });

  /** A time, read by the rules of time.ts, within the years every store can hold. */
  const validDate = z
    .union([z.instanceof(Date), z.string(), z.number()], {
      error: (issue) => `must be ${TIME_INPUT_RULE}, got ${describe(issue.input)}`,
    })
    .transform((value, context) => {
      const ms = timeInputToMs(value);
      if (Number.isNaN(ms)) {
        const message = value instanceof Date ? 'must be a valid date' : `must be ${TIME_INPUT_RULE}, got ${describe(value)}`;
        context.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      if (!isStorableTime(ms)) {
        context.addIssue({ code: 'custom', message: `must be ${TIME_RANGE_RULE}, got ${describe(value instanceof Date || typeof value === 'number' ? String(value instanceof Date ? value.getTime() : value) : value)}` });
        return z.NEVER;
      }
      return value instanceof Date ? value : new Date(ms);
    });

  /** Who did it. `type` is one of {@link ACTOR_TYPES} or your own. */
  const actorSchema = z.strictObject({
    type: text(LIMITS.type),
    id: idValue.optional(),
    name: z.string().max(LIMITS.name, { error: `must be at most ${LIMITS.name} characters` }).optional(),
  });

  /** The thing acted on. */
  const targetSchema = z.strictObject({
    type: text(LIMITS.type),
    id: idValue,
    name: z.string().max(LIMITS.name, { error: `must be at most ${LIMITS.name} characters` }).optional(),
  });

  /** Where the action came from; filled by the framework middleware. */
  const contextSchema = z.strictObject({
    ip: text(LIMITS.ip).optional(),
    userAgent: text(LIMITS.userAgent).optional(),
    requestId: text(LIMITS.requestId).optional(),
    method: text(LIMITS.method).optional(),
    route: text(LIMITS.route).optional(),
    traceId: text(LIMITS.traceId).optional(),
  });

  /** `{ before, after }` as given by the caller; stored as the changed fields only. */
  const changesInputSchema = z.strictObject({
    before: jsonObject.nullish(),
    after: jsonObject.nullish(),
  });

  /** The stored form of changes: one entry per changed field. */
  const changesSchema = z.record(z.string(), z.object({ before: z.unknown(), after: z.unknown() }));

  /** A thrown value, normalised. `stack` is kept only when the logger is configured to. */
  const errorInfoSchema = z.object({
    name: z.string(),
    message: z.string(),
    code: z.string().optional(),
    stack: z.string().optional(),
  });

  /**
   * What a caller passes to `log()`. Only `action` is required. Unknown top-level fields are
   * rejected (with their name) rather than silently dropped.
   */
  const activityEventSchema = z.strictObject({
    id: eventIdSchema.optional(),
    action: actionSchema,
    status: statusSchema.optional(),
    actor: actorSchema.optional(),
    target: targetSchema.optional(),
    tenantId: idValue.optional(),
    metadata: jsonObject.optional(),
    changes: changesInputSchema.optional(),
    /** Anything thrown; stored as `{ name, message, code? }`. */
    error: z.unknown().optional(),
    context: contextSchema.optional(),
    occurredAt: validDate.optional(),
  });


  /**
   * A record's place in its logger's hash chain, with `integrity` on (see src/integrity/).
   * `commitments` are there when the record has personal fields: each stands in for its value in
   * the hash, so that the value (and its salt) can be erased. Each field's salt derives from the
   * record's `seed`; once a field is erased, the seed is replaced by the salts of the fields
   * still there.
   */
  const recordIntegritySchema = z.object({
    /** The chain: one per logger instance. */
    chain: z.string(),
    /** The record's position in its chain, from 1. */
    seq: z.number().int(),
    /** Which key the hash is made with. */
    keyId: z.string(),
    /** The hash of the chain's previous record; empty for the first. */
    prev: z.string(),
    /** HMAC-SHA256 of `prev` and the record's canonical form. */
    hash: z.string(),
    /** 128 random bits (base64url) each personal field's salt derives from; gone after an erasure. */
    seed: z.string().optional(),
    /** After an erasure: the salts of the personal fields still there, by path. */
    salts: z.record(z.string(), z.string()).optional(),
    /** Each personal field's commitment, by path (`actor.name`, `metadata.email`...). */
    commitments: z.record(z.string(), z.string()).optional(),
  });

  /** What a store keeps and returns: normalised, with defaults applied. */
  const activityRecordSchema = z.object({
    id: z.string(),
    occurredAt: z.date(),
    action: z.string(),
    status: statusSchema,
    actor: z.object({ type: z.string(), id: z.string().optional(), name: z.string().optional() }).optional(),
    target: z.object({ type: z.string(), id: z.string(), name: z.string().optional() }).optional(),
    tenantId: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    changes: changesSchema.optional(),
    error: errorInfoSchema.optional(),
    context: contextSchema.partial().optional(),
    integrity: recordIntegritySchema.optional(),
  });


  /** An action filter: an exact action, or a prefix such as `recipe.*`. */
  const actionFilterSchema = z.string().regex(ACTION_FILTER_PATTERN, {
    error: (issue) => `must be an action like "recipe.update" or a prefix like "recipe.*", got ${describe(issue.input)}`,
  });


  const filterShape = z.strictObject({
      actorType: text(LIMITS.type).optional(),
      actorId: idValue.optional(),
      /** Exact action, or `prefix.*` for every action under a prefix. */
      action: actionFilterSchema.optional(),
      status: statusSchema.optional(),
      targetType: text(LIMITS.type).optional(),
      targetId: idValue.optional(),
      tenantId: idValue.optional(),
      /** Inclusive lower bound on `occurredAt`. */
      from: validDate.optional(),
      /** Exclusive upper bound on `occurredAt`. */
      to: validDate.optional(),
      /** Leaves out the records of an action or a prefix (`activity.*`: the log's own reads). */
      excludeAction: actionFilterSchema.optional(),
      /**
       * With `excludeAction`: leaves out only its records of this status (`success`: the log's
       * own reads, while refused and failed attempts stay in).
       */
      excludeActionStatus: statusSchema.optional(),
      /** The records of one request: `context.requestId` equal to this. */
      requestId: text(LIMITS.requestId).optional(),
      /** The records of one trace: `context.traceId` equal to this. */
      traceId: text(LIMITS.traceId).optional(),
      /**
       * Free text: records whose action, actor name or target name contains it, ASCII letters in
       * either case (`pasta` finds "Pasta al forno"). `%` and `_` are plain characters.
       */
      search: z
        .string({ error: (issue) => `must be a string, got ${describe(issue.input)}` })
        .trim()
        .min(1, { error: 'must not be empty' })
        .max(MAX_SEARCH_LENGTH, { error: `must be at most ${MAX_SEARCH_LENGTH} characters` })
        .optional(),
      /** Equality on top-level metadata keys, e.g. `{ recipeId: 'r_1' }`. */
      metadata: z
        .record(
          z.string().regex(METADATA_KEY_PATTERN, { error: 'keys must be identifiers (letters, digits, "_")' }),
          z.union([z.string(), z.number().finite(), z.boolean()], {
            error: 'values must be strings, finite numbers or booleans',
          }),
          { error: (issue) => `must be an object of top-level metadata keys and the values they equal, got ${describe(issue.input)}` },
        )
        .optional(),
  });

  const fromNotAfterTo = <T extends { from?: Date; to?: Date }>(query: T) =>
    !(query.from && query.to && query.from.getTime() > query.to.getTime());
  const fromNotAfterToError = { error: 'must not be after "to"', path: ['from'] };
  const excludeStatusHasAction = (query: { excludeAction?: string; excludeActionStatus?: string }) => query.excludeActionStatus === undefined || query.excludeAction !== undefined;
  const excludeStatusHasActionError = { error: 'needs "excludeAction": it says which status of that action to leave out', path: ['excludeActionStatus'] };

  /** A page's size: 1 to 500, 50 when absent. */
  const pageLimit = z
    .number({ error: (issue) => `must be a number, got ${describe(issue.input)}` })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(MAX_PAGE_SIZE, { error: `must be at most ${MAX_PAGE_SIZE}` })
    .default(DEFAULT_PAGE_SIZE);
  /** The `nextCursor` of the previous page (decoded by query.ts). */
  const pageCursor = z.string().max(512, { error: 'is not a cursor this library issued' }).optional();

  /** Filters every store implements, and the keyset cursor. Results are newest first. */
  const activityQuerySchema = filterShape
    .extend({
      limit: pageLimit,
      /** The `nextCursor` of the previous page. */
      cursor: pageCursor,
    })
    .refine(fromNotAfterTo, fromNotAfterToError)
    .refine(excludeStatusHasAction, excludeStatusHasActionError);

  /** Filters shared by count and summarize: the query without paging. */
  const activityFilterSchema = filterShape.refine(fromNotAfterTo, fromNotAfterToError)
    .refine(excludeStatusHasAction, excludeStatusHasActionError);

  /** The record `history()` and `stateAt()` read: a target's type and id (a record's `name` is accepted, whatever it holds, and not used). */
  // A record's own target fits as it is (its name is not part of the filter); any other key is
  // a mistake worth naming (`tpye`), not a filter silently left out.
  const historyTargetSchema = z.strictObject(
    {
      type: text(LIMITS.type),
      id: idValue,
      name: z.unknown().optional(),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? `must be an object { type, id }, got ${describe(issue.input)}` : undefined) },
  );

  /** A page of a target's history: its versions, newest first, paged like a query. */
  const historyOptionsSchema = z
    .strictObject(
      {
        limit: pageLimit,
        cursor: pageCursor,
        from: validDate.optional(),
        to: validDate.optional(),
      },
      { error: (issue) => (issue.code === 'invalid_type' ? `must be an object { limit?, cursor?, from?, to? }, got ${describe(issue.input)}` : undefined) },
    )
    .refine(fromNotAfterTo, fromNotAfterToError);

  /** An IANA time zone name, as `Intl.DateTimeFormat` knows it. */
  const timeZoneSchema = z
    .string({ error: (issue) => `must be a string, got ${describe(issue.input)}` })
    .max(64, { error: 'must be at most 64 characters' })
    .transform((name, context) => {
      const canonical = canonicalTimeZone(name);
      if (canonical === undefined) {
        context.addIssue({ code: 'custom', message: `must be an IANA time zone such as "UTC" or "Europe/Paris", got ${describe(name)}` });
        return z.NEVER;
      }
      return canonical;
    });

  /** What a summary groups by, plus the same filters as a query. */
  const summaryQuerySchema = filterShape
    .extend({
      by: z.enum(SUMMARY_DIMENSIONS, {
        error: (issue) => `must be one of ${SUMMARY_DIMENSIONS.join(', ')}, got ${describe(issue.input)}`,
      }),
      /**
       * The IANA time zone `hour` and `day` buckets follow (`Europe/Paris`, `Asia/Kolkata`).
       * Absent: UTC. A day is then the zone's calendar day, and an hour starts on the zone's hour
       * (at :30 UTC in Asia/Kolkata).
       */
      tz: timeZoneSchema.optional(),
    })
    .refine(fromNotAfterTo, fromNotAfterToError)
    .refine(excludeStatusHasAction, excludeStatusHasActionError);

  /** A set of records a purge leaves alone: those of one tenant, of one action (or prefix), or both. */
  const purgeExceptionSchema = z
    .strictObject(
      {
        tenantId: idValue.optional(),
        action: actionFilterSchema.optional(),
      },
      { error: (issue) => (issue.code === 'invalid_type' ? `must be an object { tenantId?, action? }, got ${describe(issue.input)}` : undefined) },
    )
    .refine((exception) => exception.tenantId !== undefined || exception.action !== undefined, {
      error: 'must name a tenantId, an action, or both (an empty exception would keep every record)',
      // An entry already refused (a misspelt key) is not also called empty.
      when: (payload) => payload.issues.length === 0,
    });


  /**
   * What `purge()` deletes: records older than `before`, optionally of one tenant or action,
   * except those matching any of `except`; at most `limit` of them when given.
   */
  const purgeOptionsSchema = z.strictObject({
    before: validDate,
    tenantId: idValue.optional(),
    action: actionFilterSchema.optional(),
    except: listOf(purgeExceptionSchema, MAX_PURGE_EXCEPTIONS, 'exceptions like { tenantId } or { action }').optional(),
    limit: wholeNumber(1, Number.MAX_SAFE_INTEGER).optional(),
  });


  return { wholeNumber, listOf, idValue, eventIdSchema, actionSchema, statusSchema, actorSchema, targetSchema, contextSchema, changesInputSchema, changesSchema, errorInfoSchema, activityEventSchema, recordIntegritySchema, activityRecordSchema, actionFilterSchema, activityQuerySchema, activityFilterSchema, timeZoneSchema, summaryQuerySchema, purgeExceptionSchema, purgeOptionsSchema, historyTargetSchema, historyOptionsSchema };
}

/**
 * A time zone's canonical spelling (`ASIA/KOLKATA` is `Asia/Kolkata`, or `Asia/Calcutta` where
 * the ICU data says so), or undefined for a name `Intl` does not know: one zone is one cache
 * entry in time-zone.ts, and the API echoes the name it used.
 */
function canonicalTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
