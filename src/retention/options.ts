import { describeValue } from '../describe.js';
import { ActivityLogError } from '../errors.js';
import { optionNames, refuseUnknownOptions } from '../option-keys.js';
import { MAX_PURGE_EXCEPTIONS } from '../schema.js';
import { schemas, zod } from '../schemas.js';
import type { ActivityStore } from '../store.js';
import { formatIssues } from '../validation.js';

/** The longest delay setTimeout takes: a longer one fires at once (after 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

/** How long one kind of record is kept. */
export interface RetentionRule {
  /** The records of this action, or of every action under a prefix (`activity.*`). */
  action?: string;
  /** The records of this tenant (a number is its string form, as in an event). */
  tenantId?: string | number;
  /** Days to keep them, counted from `occurredAt`. */
  days: number;
}

/**
 * Purges old records in the background: see the README's "Retention". A record is kept for
 * the longest `days` of the rules it matches, or for `days` when it matches none (forever
 * when `days` is not given). `activity.erase` records are kept as long as the longest
 * retention of all, whatever shorter rule matches them: `verify()` needs them for as long as
 * a record they erased is kept.
 *
 * @example
 * retention: { days: 90, rules: [{ action: 'activity.*', days: 30 }, { tenantId: 't1', days: 365 }] }
 */
export interface RetentionOptions {
  /** Days to keep a record no rule matches. @default undefined (kept) */
  days?: number;
  /** Records kept for their own number of days; the longest rule a record matches wins. */
  rules?: RetentionRule[];
  /** Time between passes; the first pass comes within one interval of start. @default 3600000 (an hour) */
  intervalMs?: number;
  /** Records deleted per statement: short deletes hold no lock for long. @default 1000 */
  batchSize?: number;
}

/** The options of {@link RetentionOptions} and of a {@link RetentionRule}, for the check that refuses others. */
const RETENTION_OPTIONS = optionNames<RetentionOptions>()(['days', 'rules', 'intervalMs', 'batchSize']);
const RULE_OPTIONS = optionNames<RetentionRule>()(['action', 'tenantId', 'days']);

/** Retention options, validated, with defaults applied. */
export interface ResolvedRetention {
  days: number | undefined;
  rules: readonly ResolvedRule[];
  intervalMs: number;
  batchSize: number;
}

export interface ResolvedRule {
  action?: string;
  tenantId?: string;
  days: number;
}

/** The option's schema, built (and zod loaded) the first time a logger is given `retention`. */
let retentionSchema: ReturnType<typeof buildRetentionSchema> | undefined;

function buildRetentionSchema() {
  const z = zod();
  const { actionFilterSchema, idValue, listOf, wholeNumber } = schemas();
  /** At most a thousand years: an `occurredAt` the stores can hold stays within reach. */
  const daysError = (issue: { input?: unknown }) => `must be a number of days above 0 and at most 365000, got ${describeValue(issue.input)}`;
  const days = z.number({ error: daysError }).positive({ error: daysError }).max(365_000, { error: daysError });

  // Plain objects, not strict ones: unknown keys are refused before (refuseUnknownOptions), in
  // the words every other option uses.
  const ruleSchema = z
    .object(
      {
        action: actionFilterSchema.optional(),
        tenantId: idValue.optional(),
        days,
      },
      { error: (issue) => `must be a rule { action?, tenantId?, days }, got ${describeValue(issue.input)}` },
    )
    .refine((rule) => rule.action !== undefined || rule.tenantId !== undefined, {
      error: 'must name an action (or a prefix like "activity.*"), a tenantId, or both',
    });

  const schema = z
    .object(
      {
        days: days.optional(),
        rules: listOf(ruleSchema, MAX_PURGE_EXCEPTIONS, 'rules like { action: "activity.*", days: 30 }').optional(),
        intervalMs: wholeNumber(1, MAX_TIMER_MS).optional(),
        batchSize: wholeNumber(1, 100_000).optional(),
      },
      { error: (issue) => `must be an object { days?, rules?, intervalMs?, batchSize? }, got ${describeValue(issue.input)}` },
    )
    .refine((retention) => retention.days !== undefined || (retention.rules?.length ?? 0) > 0, {
      error: 'must give days, rules, or both (with neither, nothing would ever be purged)',
    });
  return schema;
}

/** A misspelt key (`batchsize`, `tenant`) is refused naming the nearest known one, as the logger's other options are. */
function refuseUnknownRetentionOptions(option: unknown): void {
  // Anything but an object is passed over here, and refused by the schema in its own words.
  refuseUnknownOptions('retention', option, RETENTION_OPTIONS);
  const rules = (option as { rules?: unknown } | null)?.rules;
  if (Array.isArray(rules)) rules.forEach((rule, i) => refuseUnknownOptions(`retention.rules.${i}`, rule, RULE_OPTIONS));
}

/** Validates the `retention` option; throws `INVALID_OPTIONS` naming the field and the rule. */
export function resolveRetention(option: RetentionOptions | undefined, store: ActivityStore): ResolvedRetention | undefined {
  if (option === undefined) return undefined;
  refuseUnknownRetentionOptions(option);
  const result = (retentionSchema ??= buildRetentionSchema()).safeParse(option);
  if (!result.success) throw new ActivityLogError('INVALID_OPTIONS', formatIssues(result.error.issues, 'retention', retentionSchema));
  const parsed = result.data;
  const resolvedRules = parsed.rules ?? [];
  // Rules need exceptions in the store's deletes; a store that ignored them would delete what a rule keeps.
  if (resolvedRules.length > 0 && store.capabilities?.purgeExcept !== true) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `retention.rules: store "${store.name}" cannot purge with exceptions (capabilities.purgeExcept), so it cannot keep what a rule keeps longer; use retention: { days } alone with it`,
    );
  }
  return { days: parsed.days, rules: resolvedRules, intervalMs: parsed.intervalMs ?? 3_600_000, batchSize: parsed.batchSize ?? 1000 };
}
