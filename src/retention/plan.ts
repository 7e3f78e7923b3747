import type { NormalizedPurgeOptions, PurgeException } from '../schema.js';
import type { ResolvedRetention, ResolvedRule } from './options.js';

const DAY_MS = 86_400_000;

/**
 * The purges one retention pass runs, at `now`. A record is kept for the longest `days` of
 * the rules it matches, or for the default `days` when it matches none. So:
 *
 * - each rule deletes what it matches past its days, except what a rule with more days
 *   matches (that rule keeps it longer, and its own purge deletes it in time);
 * - the default deletes what is past its days and matches no rule at all (a rule with fewer
 *   days has deleted it already; one with more keeps it).
 *
 * Every record is then deleted by exactly the purge of the rule that keeps it longest, and
 * no purge deletes a record before its time.
 */
export function retentionPurges(retention: ResolvedRetention, now: number): NormalizedPurgeOptions[] {
  const purges: NormalizedPurgeOptions[] = retention.rules.map((rule) => ({
    before: new Date(now - rule.days * DAY_MS),
    ...filterOf(rule),
    ...withExceptions(retention.rules.filter((other) => other.days > rule.days).map(filterOf)),
  }));
  if (retention.days !== undefined) {
    purges.push({ before: new Date(now - retention.days * DAY_MS), ...withExceptions(retention.rules.map(filterOf)) });
  }
  return purges;
}

function filterOf(rule: ResolvedRule): PurgeException {
  return {
    ...(rule.action !== undefined && { action: rule.action }),
    ...(rule.tenantId !== undefined && { tenantId: rule.tenantId }),
  };
}

function withExceptions(except: PurgeException[]): { except?: PurgeException[] } {
  return except.length > 0 ? { except } : {};
}

/**
 * The time before which every record is past its retention, whatever rule it matches: a
 * partition that ends before it holds nothing any rule keeps, and can be dropped whole.
 * Undefined when records that match no rule are kept forever (no default `days`).
 */
export function partitionCutoff(retention: ResolvedRetention, now: number): Date | undefined {
  if (retention.days === undefined) return undefined;
  const longest = Math.max(retention.days, ...retention.rules.map((rule) => rule.days));
  return new Date(now - longest * DAY_MS);
}
