import type { NormalizedPurgeOptions, PurgeException } from '../schema.js';
import type { ResolvedRetention, ResolvedRule } from './options.js';

const DAY_MS = 86_400_000;

/**
 * The action of the records that make an erasure lawful: `verify()` reports an erased value as
 * `edited` unless the `activity.erase` that planned it is still stored, so no retention rule
 * may delete one before the records it erased (see erasureRule).
 */
const ERASURE_ACTION = 'activity.erase';

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
 * no purge deletes a record before its time. `activity.erase` records are kept by one rule
 * more (see erasureRule).
 */
export function retentionPurges(retention: ResolvedRetention, now: number): NormalizedPurgeOptions[] {
  const erasures = erasureRule(retention);
  const rules = erasures ? [...retention.rules, erasures] : retention.rules;
  // A rule of Infinity days (erasures kept for ever) is only ever an exception, never a purge.
  const purges: NormalizedPurgeOptions[] = rules
    .filter((rule) => Number.isFinite(rule.days))
    .map((rule) => ({
      before: new Date(now - rule.days * DAY_MS),
      ...filterOf(rule),
      ...withExceptions(rules.filter((other) => other.days > rule.days).map(filterOf)),
    }));
  if (retention.days !== undefined) {
    purges.push({ before: new Date(now - retention.days * DAY_MS), ...withExceptions(rules.map(filterOf)) });
  }
  return purges;
}

/**
 * The rule that keeps `activity.erase` records as long as any record is kept: the longest
 * retention of all, or for ever without a default `days` (a record no rule matches is then
 * kept for ever, and may be one an erasure rewrote). Without it, a short rule for the log's
 * own records (`{ action: 'activity.*', days: 30 }`, the README's example) deletes the
 * erasures while the records they erased are kept, and `verify()` then reports each of those
 * as `edited`. Undefined when no rule is shorter than that: nothing deletes them early then,
 * and the plan is the rules' alone (with `days` alone, one purge by time, which a store
 * without exceptions can run).
 */
function erasureRule(retention: ResolvedRetention): ResolvedRule | undefined {
  const days = retention.days === undefined ? Number.POSITIVE_INFINITY : Math.max(retention.days, ...retention.rules.map((rule) => rule.days));
  return retention.rules.some((rule) => rule.days < days) ? { action: ERASURE_ACTION, days } : undefined;
}

function filterOf(rule: ResolvedRule): PurgeException {
  return {
    ...(rule.action !== undefined && { action: rule.action }),
    ...(rule.tenantId !== undefined && { tenantId: rule.tenantId }),
  };
}

/** The exceptions, each once (a rule and the erasures' rule may name the same records). */
function withExceptions(except: PurgeException[]): { except?: PurgeException[] } {
  const seen = new Set<string>();
  const distinct = except.filter((exception) => {
    const key = `${exception.action ?? ''}\u0000${exception.tenantId ?? ''}`;
    return !seen.has(key) && Boolean(seen.add(key));
  });
  return distinct.length > 0 ? { except: distinct } : {};
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
