import { ActivityLogError, isActivityLogError } from '../errors.js';
import type { VerifyOptions } from '../integrity/verify.js';
import { readHistory } from '../history.js';
import type { ActivityLogger } from '../logger.js';
import { issuesOf, parseActivityFilter, parseActivityQuery, parseSummaryQuery, type StoreQuery } from '../query.js';
import { supported } from '../logger.js';
import type { ActivityStore } from '../store.js';
import { isUtc } from '../time-zone.js';
import { schemas } from '../schemas.js';
import { storableText } from '../text.js';
import { EVENT_ID_PATTERN, type ActivityQuery, type NormalizedActivityFilter, type NormalizedSummaryQuery } from '../schema.js';
import { EXPORT_FORMATS, exportResponse, type ExportFormat } from './export.js';
import { json } from './responses.js';

/**
 * The views of the admin logs API, one small handler each: which query parameters it takes,
 * how they become its input (one parse step, whose problems are the 400 body), and how it
 * answers. logs-handler.ts routes to them after `authorize`.
 */

/** One rejected query parameter, as listed in a 400 body. */
export interface ParameterProblem {
  name: string;
  problem: string;
}

/** What a view answers with: everything the handler knows about the request. */
export interface ViewContext {
  /** The app's logger: its store is read. */
  logger: ActivityLogger<any>;
  /** Records the API's own events (the request's logger, with the API's route). */
  recorder: ActivityLogger<any>;
  /** The caller's tenant, when the API is pinned to one. */
  pinned: string | undefined;
  /** The query parameters, as given. */
  params: Readonly<Record<string, string>>;
  headOnly: boolean;
  exportPageSize: number;
  /** Records the request as refused (`denied`, with why), as the handler records its own refusals. */
  refuse(reason: string): void;
}

/** A view's input, or the problems that make it a 400. */
export type Parsed<Input> = { input: Input; problems?: undefined } | { input?: undefined; problems: ParameterProblem[] };

export interface View<Input> {
  /** The query parameters it takes. */
  readonly params: ReadonlySet<string>;
  /** The parameters as its input. `id` is the record id of `GET /:id`. */
  parse(params: Readonly<Record<string, string>>, pinned: string | undefined, id: string): Parsed<Input>;
  /** Records the read as `activity.query` or `activity.export`, then answers. */
  answer(context: ViewContext, input: Input): Promise<Response>;
}

const FILTER_PARAMS = ['actorType', 'actorId', 'action', 'excludeAction', 'excludeActionStatus', 'status', 'targetType', 'targetId', 'tenantId', 'requestId', 'traceId', 'search', 'from', 'to'] as const;

/** The values of the list's `summary` parameter: the time buckets read with the page, or none. */
const PAGE_SUMMARIES = ['auto', 'hour', 'day', 'none'] as const;
type PageSummary = (typeof PAGE_SUMMARIES)[number];

/** A list read: the page's query, and, for a page view (`summary` given), its chart. */
interface ListInput {
  query: StoreQuery;
  view?: { summary: PageSummary; tz?: string; note?: string };
}

/**
 * `GET /`: one page. With `summary` (what the viewer sends), the read is a page view: the
 * page and the counts of its chart in one answer, recorded as one `activity.view` rather than
 * a list and two summaries.
 */
const list: View<ListInput> = {
  params: new Set([...FILTER_PARAMS, 'limit', 'cursor', 'summary', 'tz']),
  parse(params, pinned) {
    const { summary: pageSummary, tz, ...queryParams } = params;
    const parsed = parseWith(() => parseActivityQuery(queryInput(queryParams, pinned)));
    const problems = parsed.problems ?? [];
    if (pageSummary !== undefined && !(PAGE_SUMMARIES as readonly string[]).includes(pageSummary)) {
      problems.push({ name: 'summary', problem: `must be one of ${PAGE_SUMMARIES.join(', ')}, got ${JSON.stringify(pageSummary.slice(0, 40))}` });
    }
    let zone: string | undefined;
    let zoneNote: string | undefined;
    if (tz !== undefined) {
      const parsedZone = schemas().timeZoneSchema.safeParse(tz);
      if (pageSummary === undefined) problems.push({ name: 'tz', problem: parsedZone.success ? 'is for the summary buckets: give it with "summary"' : parsedZone.error.issues[0]!.message });
      else if (parsedZone.success) zone = parsedZone.data;
      // A page view still shows its page: the browser's zone may be one this server's Intl
      // lacks (an older ICU), and the list does not depend on it. The chart is then in UTC.
      else zoneNote = `the time zone ${JSON.stringify(tz.slice(0, 64))} is unknown to the server: the chart is in UTC`;
    }
    if (problems.length > 0) return { problems };
    const input: ListInput = { query: parsed.input! };
    if (pageSummary !== undefined) {
      input.view = { summary: pageSummary as PageSummary };
      if (zone !== undefined) input.view.tz = zone;
      if (zoneNote !== undefined) input.view.note = zoneNote;
    }
    return { input };
  },
  async answer({ logger, recorder, params }, { query, view }) {
    const { store } = logger;
    supported(store, query);
    recorder.log({ action: view ? 'activity.view' : 'activity.query', metadata: { view: view ? 'page' : 'list', filters: params } });
    const page = await store.query(query);
    const body: Record<string, unknown> = { items: page.items, nextCursor: page.nextCursor ?? null };
    if (view && view.summary !== 'none') body.summary = await pageSummary(store, query, view.summary, view.tz, view.note);
    return json(200, body);
  },
};

const HOUR_MS = 3_600_000;

/**
 * The chart of a page view: hourly for a range of three days or less, daily otherwise, and
 * hourly after all when an open range holds two days or fewer (`auto`). `null` when the store
 * cannot summarize. In UTC, with a `note` saying why, when the zone cannot be used (unknown to
 * this server, or the store has no zoned summaries).
 */
async function pageSummary(store: ActivityStore, query: StoreQuery, by: Exclude<PageSummary, 'none'>, tz: string | undefined, note: string | undefined) {
  if (!store.summarize) return null;
  if (tz !== undefined && !isUtc(tz) && store.capabilities?.zonedSummary !== true) {
    note = `store "${store.name}" cannot summarize in a time zone: the chart is in UTC`;
    tz = undefined;
  }
  const { limit: _limit, after: _after, ...filter } = query;
  const summarize = async (dimension: 'hour' | 'day') => ({
    by: dimension,
    tz: tz ?? 'UTC',
    buckets: await store.summarize!({ ...filter, by: dimension, ...(tz !== undefined && { tz }) }),
    ...(note !== undefined && { note }),
  });
  if (by !== 'auto') return summarize(by);
  const span = filter.from && filter.to ? filter.to.getTime() - filter.from.getTime() : undefined;
  if (span !== undefined) return summarize(span <= 72 * HOUR_MS ? 'hour' : 'day');
  const daily = await summarize('day');
  return daily.buckets.length <= 2 ? summarize('hour') : daily;
}

const get: View<string> = {
  params: new Set(),
  parse: (_params, _pinned, id) => ({ input: id }),
  async answer({ logger, recorder, pinned }, id) {
    const record = await logger.get(id);
    const found = record !== undefined && (pinned === undefined || record.tenantId === pinned);
    recorder.log({ action: 'activity.query', metadata: { view: 'get', id: id.slice(0, 255), found } });
    return found ? json(200, record) : json(404, { error: 'not_found', message: `no activity record ${id}` });
  },
};

/**
 * `GET /history?targetType&targetId&cursor&limit&from&to&tenantId`: one target's versions (its records
 * with changes), newest first, paged like the list (`{ items, nextCursor }`), within the
 * caller's tenant when pinned. Recorded as `activity.query` with view `history`.
 */
const history: View<StoreQuery> = {
  params: new Set(['targetType', 'targetId', 'tenantId', 'limit', 'cursor', 'from', 'to']),
  parse(params, pinned) {
    const parsed = parseWith(() => parseActivityQuery(queryInput(params, pinned)));
    const problems = parsed.problems ?? [];
    for (const name of ['targetType', 'targetId'] as const) {
      if (params[name] === undefined) problems.push({ name, problem: 'is required: the history is of one target (give targetType and targetId)' });
    }
    return problems.length > 0 ? { problems } : { input: parsed.input! };
  },
  async answer({ logger, recorder, params }, query) {
    recorder.log({ action: 'activity.query', metadata: { view: 'history', filters: params } });
    const page = await readHistory(logger.store, query);
    return json(200, { items: page.items, nextCursor: page.nextCursor ?? null });
  },
};

const summary: View<NormalizedSummaryQuery> = {
  params: new Set([...FILTER_PARAMS, 'by', 'tz']),
  parse: (params, pinned) => parseWith(() => parseSummaryQuery({ ...queryInput(params, pinned), by: params.by as NormalizedSummaryQuery['by'], ...(params.tz !== undefined && { tz: params.tz }) })),
  async answer({ logger, recorder, params }, query) {
    const { store } = logger;
    if (!store.summarize) return json(501, { error: 'unsupported', message: `store "${store.name}" cannot summarize` });
    supported(store, query);
    recorder.log({ action: 'activity.query', metadata: { view: 'summary', filters: params } });
    return json(200, { by: query.by, tz: query.tz ?? 'UTC', buckets: await store.summarize(query) });
  },
};

const exportView: View<{ filter: NormalizedActivityFilter; format: ExportFormat }> = {
  params: new Set([...FILTER_PARAMS, 'format']),
  parse(params, pinned) {
    const format = (params.format ?? 'ndjson') as ExportFormat;
    const { format: _format, ...filterParams } = params;
    const parsed = parseWith(() => parseActivityFilter(queryInput(filterParams, pinned)));
    const problems = parsed.problems ?? [];
    if (!EXPORT_FORMATS.includes(format)) problems.push({ name: 'format', problem: `must be "ndjson" or "csv", got ${JSON.stringify(format.slice(0, 40))}` });
    return problems.length > 0 ? { problems } : { input: { filter: parsed.input!, format } };
  },
  async answer({ logger, recorder, params, headOnly, exportPageSize }, { filter, format }) {
    supported(logger.store, filter);
    recorder.log({ action: 'activity.export', metadata: { format, filters: params } });
    return exportResponse(logger.store, (error) => logger.report(error), filter, format, exportPageSize, headOnly);
  },
};

/**
 * `GET /verify?from&to&chain` (or `?id=` for one record's own proof): the hash chains checked,
 * streamed as NDJSON, `{"progress":{"checked":n}}` after each page, then `{"report":{...}}`.
 */
const verify: View<VerifyOptions> = {
  params: new Set(['from', 'to', 'chain', 'id']),
  parse(params) {
    const parsed = parseWith(() => parseActivityFilter({ from: params.from, to: params.to }));
    const problems = parsed.problems ?? [];
    if (params.chain !== undefined && !/^[A-Za-z0-9_.:-]{1,96}$/.test(params.chain)) problems.push({ name: 'chain', problem: 'is not a chain id' });
    if (params.id !== undefined && !EVENT_ID_PATTERN.test(params.id)) problems.push({ name: 'id', problem: 'is not a record id' });
    if (problems.length > 0) return { problems };
    const options: VerifyOptions = {};
    if (parsed.input!.from) options.from = parsed.input!.from;
    if (parsed.input!.to) options.to = parsed.input!.to;
    if (params.chain) options.chain = params.chain;
    if (params.id) options.id = params.id;
    return { input: options };
  },
  async answer({ logger, recorder, params, pinned, headOnly, refuse }, options) {
    if (pinned !== undefined) {
      // A range's chains cross tenants: a tenant-pinned API does not verify them. One record's
      // own proof (its seal and commitments, what the viewer's detail shows) is the record's
      // alone: served for a record of the caller's tenant, and another tenant's is a 404, as on GET /:id.
      if (options.id === undefined) {
        refuse('range of every tenant');
        return json(403, { error: 'forbidden', message: 'verify covers every tenant: a tenant-pinned API checks one record of its own tenant (?id=), not ranges' });
      }
      const record = await logger.get(options.id);
      if (record === undefined || record.tenantId !== pinned) return notFound(recorder, params, options.id);
    }
    if (!logger.verifiable) return json(501, { error: 'unsupported', message: 'the logger has no integrity key: tamper evidence is off' });
    // A record the store does not hold is a 404, as on GET /:id: verify() would report nothing
    // wrong with it (nothing checked), which the viewer's detail showed as "verified" for a
    // record deleted since its page was loaded.
    if (pinned === undefined && options.id !== undefined && (await logger.get(options.id)) === undefined) return notFound(recorder, params, options.id);
    recorder.log({ action: 'activity.verify', metadata: { filters: params } });
    const headers = { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (headOnly) return new Response(null, { status: 200, headers });
    const encoder = new TextEncoder();
    const line = (value: unknown) => encoder.encode(`${JSON.stringify(value)}\n`);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        try {
          const report = await logger.verify({ ...options, onProgress: (checked) => controller.enqueue(line({ progress: { checked } })) });
          controller.enqueue(line({ report }));
          controller.close();
        } catch (cause) {
          logger.report(new ActivityLogError('STORE_FAILED', `activity logs API: verify on store "${logger.store.name}" failed midway`, { cause }));
          controller.error(cause);
        }
      },
    });
    return new Response(body, { status: 200, headers });
  },
};

/** The views by name. */
/** A verify of one record that is not there for the caller: recorded with `found: false`, as GET /:id records it. */
function notFound(recorder: ActivityLogger<any>, params: Record<string, string>, id: string): Response {
  recorder.log({ action: 'activity.verify', metadata: { filters: params, found: false } });
  return json(404, { error: 'not_found', message: `no activity record ${id}` });
}

export const VIEWS = { list, get, summary, history, export: exportView, verify } as const;
export type ViewName = keyof typeof VIEWS;

/**
 * The query string's problems before any view reads it: unknown parameters, repeated ones,
 * and a tenant other than the caller's own when the API is pinned; with them, the values of
 * the parameters that have none of these problems, for the view to check too, so that one
 * answer names every problem, and whether another tenant was asked for (a refusal to record).
 */
export function readParams(
  search: URLSearchParams,
  allowed: ReadonlySet<string>,
  pinned: string | undefined,
): { values: Record<string, string>; problems: ParameterProblem[]; otherTenant: boolean } {
  const values: Record<string, string> = {};
  // Compared as records store a tenant (text.ts), as the pinned tenant is.
  const otherTenant = pinned !== undefined && search.getAll('tenantId').some((value) => storableText(value) !== pinned);
  const counts = new Map<string, number>();
  for (const [name, value] of search) {
    counts.set(name, (counts.get(name) ?? 0) + 1);
    values[name] = value;
  }
  const problems: ParameterProblem[] = [];
  for (const [name, count] of counts) {
    const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
    let problem: string | undefined;
    if (!allowed.has(name)) problem = `unknown parameter (known here: ${[...allowed].join(', ') || 'none'})`;
    else if (count > 1) problem = `given ${count} times; give it once`;
    else if (name === 'tenantId' && otherTenant) problem = 'is fixed to your own tenant';
    if (problem === undefined) continue;
    problems.push({ name: shown, problem });
    // A repeated parameter's value is still checked (a required one stays given).
    if (count === 1 || !allowed.has(name)) delete values[name];
  }
  return { values, problems, otherTenant };
}

/** The 400 answer naming every problem. */
export function badRequest(problems: readonly ParameterProblem[]): Response {
  return json(400, {
    error: 'invalid_parameters',
    message: problems.map((p) => `${p.name}: ${p.problem}`).join('; '),
    parameters: problems,
  });
}

/** Runs one of the query parsers the logger uses; its `INVALID_QUERY` becomes the problems. */
function parseWith<T>(parse: () => T): Parsed<T> {
  try {
    return { input: parse() };
  } catch (error) {
    if (!isActivityLogError(error, 'INVALID_QUERY')) throw error;
    return { problems: problemsOf(error) };
  }
}

function problemsOf(error: ActivityLogError): ParameterProblem[] {
  const issues = issuesOf(error);
  if (issues.length > 0) return issues.map((issue) => ({ name: issue.path.join('.') || 'query', problem: issue.message }));
  return [{ name: error.message.split(':')[0] ?? 'query', problem: error.message }];
}

/**
 * Query-string values in the shapes the query parsers take: `limit` as a number; times stay
 * strings, which the schema reads (a 4-digit value is a year, 9 or more digits epoch ms).
 */
function queryInput(params: Readonly<Record<string, string>>, pinned: string | undefined): ActivityQuery {
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name === 'by' || name === 'format' || name === 'tz') continue;
    // A limit written as a number is read as one (-1 and 1.5 too), so the schema says what is
    // wrong with it ("at least 1", "a whole number") rather than "must be a number".
    input[name] = name === 'limit' && /^-?\d{1,15}(\.\d{1,15})?$/.test(value) ? Number(value) : value;
  }
  if (pinned !== undefined) input.tenantId = pinned;
  // Values of the wrong type are the parser's to name, as for any caller.
  return input as ActivityQuery;
}
