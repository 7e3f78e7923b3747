import { ActivityLogError } from '../../src/errors.js';
import type { ActivityFilter } from '../../src/schema.js';
import { isStorableTime, TIME_RANGE_RULE, timeInputToMs } from '../../src/time.js';
import { usage } from './connect.js';

/** The filter flags every reading command takes, as commander parses them. */
export interface FilterFlags {
  since?: string;
  until?: string;
  actor?: string;
  actorType?: string;
  action?: string;
  status?: string;
  target?: string;
  tenant?: string;
  requestId?: string;
  traceId?: string;
  search?: string;
  metadata?: string[];
}

const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration: one or more whole numbers each with its unit, largest first (`90m`, `1h30m`, `2d12h`). */
const DURATION = /^(?:\d{1,9}w)?(?:\d{1,9}d)?(?:\d{1,9}h)?(?:\d{1,9}m)?(?:\d{1,9}s)?$/;

/** A duration's milliseconds; NaN when `text` is not one. */
function durationMs(text: string): number {
  if (text === '' || !DURATION.test(text)) return Number.NaN;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([wdhms])/g)) ms += Number(amount) * UNITS[unit!]!;
  return ms;
}

/**
 * A time flag: a duration back from now (`15m`, `2h`, `1h30m`, `7d`, `4w`) or an ISO date or date-time
 * as the library reads it (UTC without an offset; a day the month does not have is refused),
 * within the years every store holds. Usage error naming the flag otherwise. A `Date`, so that
 * what the command prints (`older than …`) is the instant the library was given, whatever the
 * machine's time zone.
 */
export function timeFlag(flag: string, value: string, now = Date.now()): Date {
  const text = value.trim();
  const back = durationMs(text);
  const ms = !Number.isNaN(back) ? now - back : /^\d{4}-\d{2}-\d{2}/.test(text) ? timeInputToMs(text) : Number.NaN;
  if (!isStorableTime(ms)) {
    throw usage(`${flag}: must be a duration back from now (15m, 2h, 1h30m, 7d, 4w; units w d h m s, largest first) or a date (2026-01-31, 2026-01-31T12:00Z) ${TIME_RANGE_RULE}, got ${JSON.stringify(value)}`);
  }
  return new Date(ms);
}

/** A whole-number flag from `min` to `max`, named in the message when it is not one. */
export function wholeFlag(flag: string, value: string, min: number, max: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number < min || number > max) throw usage(`${flag}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return number;
}

/** The flags as a query filter; the library's parser then names any value it refuses. */
export function filterFrom(flags: FilterFlags): ActivityFilter {
  const filter: ActivityFilter = {};
  if (flags.since !== undefined) filter.from = timeFlag('--since', flags.since);
  if (flags.until !== undefined) filter.to = timeFlag('--until', flags.until);
  if (filter.from instanceof Date && filter.to instanceof Date && filter.from.getTime() > filter.to.getTime()) {
    throw usage(`--since: must not be later than --until, got --since ${flags.since} and --until ${flags.until}`);
  }
  if (flags.actor !== undefined) filter.actorId = flags.actor;
  if (flags.actorType !== undefined) filter.actorType = flags.actorType;
  if (flags.action !== undefined) filter.action = flags.action;
  if (flags.status !== undefined) filter.status = flags.status as ActivityFilter['status'];
  if (flags.tenant !== undefined) filter.tenantId = flags.tenant;
  if (flags.requestId !== undefined) filter.requestId = flags.requestId;
  if (flags.traceId !== undefined) filter.traceId = flags.traceId;
  if (flags.search !== undefined) filter.search = flags.search;
  if (flags.target !== undefined) {
    const colon = flags.target.indexOf(':');
    if (colon === 0) throw usage(`--target: must be TYPE or TYPE:ID, got ${JSON.stringify(flags.target)}`);
    if (colon < 0) filter.targetType = flags.target;
    else {
      filter.targetType = flags.target.slice(0, colon);
      filter.targetId = flags.target.slice(colon + 1);
    }
  }
  for (const pair of flags.metadata ?? []) {
    // key=value is text; key:=value is JSON (a number, true or false).
    const typed = /^([^=:]+):=(.*)$/.exec(pair);
    const text = /^([^=:]+)=(.*)$/.exec(pair);
    filter.metadata ??= {};
    if (typed) {
      let value: unknown;
      try {
        value = JSON.parse(typed[2]!);
      } catch {
        value = undefined;
      }
      if (typeof value !== 'number' && typeof value !== 'boolean') throw usage(`--metadata: ${typed[1]}:= takes a number, true or false, got ${JSON.stringify(typed[2])}`);
      filter.metadata[typed[1]!] = value;
    } else if (text) {
      filter.metadata[text[1]!] = text[2]!;
    } else {
      throw usage(`--metadata: must be KEY=TEXT or KEY:=NUMBER|true|false, got ${JSON.stringify(pair)}`);
    }
  }
  return filter;
}

/** The flag each field of a query, a summary or a purge comes from (`filterFrom`, `purge`). */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  from: '--since',
  to: '--until',
  before: '--before',
  actorId: '--actor',
  actorType: '--actor-type',
  action: '--action',
  status: '--status',
  targetType: '--target',
  targetId: '--target',
  tenantId: '--tenant',
  requestId: '--request-id',
  traceId: '--trace-id',
  search: '--search',
  metadata: '--metadata',
  cursor: '--cursor',
  limit: '--limit',
};

/**
 * The library's refusal of a value (INVALID_QUERY, naming the field: `tenantId: must not be
 * empty`) in the flag's words: `--tenant: must not be empty`. Undefined for any other error,
 * or a field no flag sets (the message is then shown as it is).
 */
export function flagMessage(error: unknown): string | undefined {
  if (!(error instanceof ActivityLogError) || error.code !== 'INVALID_QUERY') return undefined;
  const issues = (error.details as { issues?: { path?: unknown[]; message?: unknown }[] } | undefined)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return undefined;
  const parts: string[] = [];
  for (const issue of issues) {
    const [field, ...rest] = Array.isArray(issue.path) ? issue.path.map(String) : [];
    const flag = field === undefined ? undefined : FLAG_OF_FIELD[field];
    if (!flag || typeof issue.message !== 'string') return undefined;
    parts.push(`${flag}${rest.length > 0 ? ` ${rest.join('.')}` : ''}: ${issue.message}`);
  }
  return parts.join('; ');
}
