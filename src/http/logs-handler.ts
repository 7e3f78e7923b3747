import { tryCurrentActivity } from '../context.js';
import { decodeCursor } from '../cursor.js';
import { ActivityLogError, isActivityLogError } from '../errors.js';
import type { ActivityLogger } from '../logger.js';
import {
  CONTEXT_FIELDS,
  activityFilterSchema,
  activityQuerySchema,
  summaryQuerySchema,
  type ActivityFilter,
  type ActivityRecord,
} from '../schema.js';
import { extractRequestContext } from './request-context.js';
import { viewerResponse, wantsViewerPage } from './viewer/page.js';

/** Options of {@link createActivityLogsHandler}. `Source` is what the callbacks receive. */
export interface ActivityLogsOptions<Source = Request> {
  /**
   * Who may read the log. Required: without it the factory throws, so the log is never served
   * to everyone by mistake. Sync or async; anything but `true` (including a throw) is a 403,
   * itself recorded as a `denied` event.
   */
  authorize: (req: Source) => boolean | Promise<boolean>;
  /**
   * Pins every read to the caller's tenant: a `tenantId` parameter for another tenant is
   * refused (400), and a record of another tenant is a 404. When it returns nothing the
   * request is refused (403): a tenant-scoped API never falls back to "every tenant".
   * @default undefined (no pinning; `tenantId` is an ordinary filter)
   */
  tenant?: (req: Source) => string | number | null | undefined | Promise<string | number | null | undefined>;
  /**
   * Path prefix stripped from the request URL before routing, when the handler is mounted
   * under a path and given whole URLs.
   * @default ''
   */
  basePath?: string;
  /**
   * Records per store query while exporting. Memory use of an export is bounded by one page.
   * @default 500
   */
  exportPageSize?: number;
  /**
   * Also serve the Activity Logs page for browsers at the mount point: a request there that
   * accepts HTML (a browser's navigation) gets the page, every other request the JSON list as
   * before. The page is one self-contained document under a strict Content-Security-Policy,
   * loads nothing from elsewhere, calls this API relative to its own URL, and is behind the
   * same `authorize` (and `tenant`) as the API.
   * @default false
   */
  viewer?: boolean;
}

/**
 * What a framework shim knows about a request to the admin API beyond the `Request` itself.
 * @internal the shape the shims pass; a direct user passes nothing.
 */
export interface LogsRequestInfo {
  /** The path below the mount point, still percent-encoded (`/summary`, `/0192…`). */
  path: string;
  /** The path the API is mounted at (`/admin/logs`): the recorded route is `<mount>/*`. */
  mount?: string | undefined;
  /** The request's own logger (`req.activity`), which the API's own events are recorded with. */
  activity?: ActivityLogger<any> | undefined;
}

/**
 * The admin API as a web-standard handler. `source` is what `authorize` and `tenant`
 * receive (the framework's request in the shims; the `Request` itself by default); `path`
 * is the path below the mount point (percent-encoded), when the caller already knows it, or
 * what a framework shim knows of the request ({@link LogsRequestInfo}).
 */
export type ActivityLogsHandler<Source = Request> = (request: Request, source?: Source, path?: string | LogsRequestInfo) => Promise<Response>;

/** One rejected query parameter, as listed in a 400 body. */
export interface ParameterProblem {
  name: string;
  problem: string;
}

const FILTER_PARAMS = ['actorType', 'actorId', 'action', 'status', 'targetType', 'targetId', 'tenantId', 'from', 'to'] as const;
const LIST_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit', 'cursor']);
const SUMMARY_PARAMS = new Set<string>([...FILTER_PARAMS, 'by']);
const EXPORT_PARAMS = new Set<string>([...FILTER_PARAMS, 'format']);
const NO_PARAMS = new Set<string>();

type View = 'list' | 'get' | 'summary' | 'export';

/**
 * Builds the admin logs API: `GET /` (list, every store filter as a query parameter,
 * `{ items, nextCursor }`), `GET /:id`, `GET /summary?by=...` and
 * `GET /export?format=ndjson|csv` (streamed page by page). Every read is itself recorded as
 * `activity.query` or `activity.export` with the filters used, and every refusal as `denied`.
 * Bad parameters get a 400 naming each one; the store never sees them. With `viewer: true`
 * a browser opening the mount point gets the Activity Logs page instead of the JSON list.
 *
 * @example
 * const handler = createActivityLogsHandler(activity, { authorize: (req) => req.headers.get('x-admin') === 'yes' });
 * Bun.serve({ fetch: handler });
 */
export function createActivityLogsHandler<Source = Request>(
  logger: ActivityLogger<any>,
  options: ActivityLogsOptions<Source>,
): ActivityLogsHandler<Source> {
  if (!logger || typeof logger.query !== 'function' || typeof logger.log !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'activity logs API: the first argument must be an activity logger from createActivityLogger()');
  }
  if (!options || typeof options.authorize !== 'function') {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      'activity logs API: options.authorize(req) is required, so the log is never served to everyone (return true for the callers allowed to read it)',
    );
  }
  if (options.tenant !== undefined && typeof options.tenant !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'activity logs API: options.tenant must be a function returning the caller\'s tenant id');
  }
  if (options.viewer !== undefined && typeof options.viewer !== 'boolean') {
    throw new ActivityLogError('INVALID_OPTIONS', `activity logs API: options.viewer must be true or false, got ${typeof options.viewer}`);
  }
  const { authorize, tenant, basePath = '', exportPageSize = 500, viewer = false } = options;
  if (!Number.isInteger(exportPageSize) || exportPageSize < 1 || exportPageSize > 500) {
    throw new ActivityLogError('INVALID_OPTIONS', `activity logs API: exportPageSize must be a whole number from 1 to 500, got ${String(exportPageSize)}`);
  }

  return async (request, source, pathOrInfo) => {
    const url = new URL(request.url);
    const info: LogsRequestInfo = typeof pathOrInfo === 'string' ? { path: pathOrInfo } : (pathOrInfo ?? { path: stripBase(url.pathname, basePath) });
    const sub = info.path;
    const view = viewOf(sub);
    if (!view) return json(404, { error: 'not_found', message: `no such endpoint: ${sub.slice(0, 200)}` });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return json(405, { error: 'method_not_allowed', message: 'the activity logs API is read-only: use GET' }, { allow: 'GET, HEAD' });
    }
    const callerSource = (source ?? request) as Source;
    // The request's own logger when there is one, so its events carry the request's actor and
    // context and count as the request's own (automatic capture then adds no second record).
    const requestLogger = info.activity ?? tryCurrentActivity<ActivityLogger<any>>();
    const mount = info.mount ?? (basePath ? basePath.replace(/\/+$/, '') : undefined);
    // The same route and full path on every framework (express strips the mount from req.url).
    const where: { route?: string } = mount !== undefined ? { route: `${mount}/*` } : {};
    let recorder: ActivityLogger<any> = (requestLogger ?? logger.with({ context: extractRequestContext(request).context })).with({ context: where });
    const fullPath = url.pathname.slice(0, 512);
    const action = view.name === 'export' ? 'activity.export' : 'activity.query';
    // The page holds no records (its own API calls are read and recorded as usual), so it is
    // decided before the query parameters, which are the page's filters, not the API's.
    const page = viewer && view.name === 'list' && wantsViewerPage(request);
    const viewName = page ? 'viewer' : view.name;

    let allowed = false;
    try {
      allowed = (await authorize(callerSource)) === true;
    } catch (cause) {
      logger.report(new ActivityLogError('CALLBACK_FAILED', 'activity logs API: authorize() threw; the request was refused', { cause }));
    }
    if (!allowed) {
      recorder.log({ action, status: 'denied', metadata: { view: viewName, path: fullPath } });
      return json(403, { error: 'forbidden', message: 'not allowed to read the activity log' });
    }

    let pinned: string | undefined;
    if (tenant) {
      let value: unknown;
      try {
        value = await tenant(callerSource);
      } catch (cause) {
        logger.report(new ActivityLogError('CALLBACK_FAILED', 'activity logs API: tenant() threw; the request was refused', { cause }));
      }
      if (typeof value !== 'string' && typeof value !== 'number') {
        recorder.log({ action, status: 'denied', metadata: { view: viewName, path: fullPath, reason: 'no tenant' } });
        return json(403, { error: 'forbidden', message: 'no tenant for this caller' });
      }
      pinned = String(value);
      recorder = recorder.with({ tenantId: pinned });
    }
    if (page) return viewerResponse(request.method === 'HEAD');

    const allowedParams =
      view.name === 'list' ? LIST_PARAMS : view.name === 'summary' ? SUMMARY_PARAMS : view.name === 'export' ? EXPORT_PARAMS : NO_PARAMS;
    const parsed = readParams(url.searchParams, allowedParams, pinned);
    if (parsed.problems.length > 0) return badRequest(parsed.problems);
    const params = parsed.values;

    try {
      switch (view.name) {
        case 'get': {
          const record = await logger.get(view.id);
          recorder.log({ action, metadata: { view: 'get', id: view.id.slice(0, 255), found: record !== undefined && visible(record, pinned) } });
          if (!record || !visible(record, pinned)) return json(404, { error: 'not_found', message: `no activity record ${view.id}` });
          return json(200, record);
        }
        case 'list': {
          const query = toQueryInput(params, pinned);
          const problems = validate(activityQuerySchema, query);
          if (typeof query.cursor === 'string') {
            try {
              decodeCursor(query.cursor);
            } catch (error) {
              problems.push({ name: 'cursor', problem: problemOf(error, 'cursor') });
            }
          }
          if (problems.length > 0) return badRequest(problems);
          recorder.log({ action, metadata: { view: 'list', filters: params } });
          const page = await logger.query(query as Parameters<ActivityLogger["query"]>[0]);
          return json(200, { items: page.items, nextCursor: page.nextCursor ?? null });
        }
        case 'summary': {
          const query = { ...toQueryInput(params, pinned), by: params.by };
          const problems = validate(summaryQuerySchema, query);
          if (params.by === undefined && !problems.some((p) => p.name === 'by')) problems.push({ name: 'by', problem: 'is required' });
          if (problems.length > 0) return badRequest(problems);
          if (!logger.store.summarize) {
            return json(501, { error: 'unsupported', message: `store "${logger.store.name}" cannot summarize` });
          }
          recorder.log({ action, metadata: { view: 'summary', filters: params } });
          const buckets = await logger.summarize(query as Parameters<ActivityLogger['summarize']>[0]);
          return json(200, { by: params.by, buckets });
        }
        case 'export': {
          const format = params.format ?? 'ndjson';
          const { format: _format, ...filterParams } = params;
          const filter = toQueryInput(filterParams, pinned);
          delete filter.limit;
          delete filter.cursor;
          const problems = validate(activityFilterSchema, filter);
          if (format !== 'ndjson' && format !== 'csv') problems.push({ name: 'format', problem: `must be "ndjson" or "csv", got ${JSON.stringify(format.slice(0, 40))}` });
          if (problems.length > 0) return badRequest(problems);
          recorder.log({ action, metadata: { format, filters: params } });
          return exportResponse(logger, filter, format, exportPageSize, request.method === 'HEAD');
        }
      }
    } catch (error) {
      if (isActivityLogError(error, 'INVALID_QUERY')) return badRequest(problemsOf(error));
      logger.report(
        error instanceof ActivityLogError ? error : new ActivityLogError('STORE_FAILED', `activity logs API: store "${logger.store.name}" failed`, { cause: error }),
      );
      return json(500, { error: 'store_failed', message: 'the activity store failed; see the server log' });
    }
  };
}

function stripBase(pathname: string, basePath: string): string {
  const base = basePath.replace(/\/+$/, '');
  const rest = base && pathname.startsWith(base) ? pathname.slice(base.length) : pathname;
  return rest === '' ? '/' : rest;
}

/**
 * The endpoint a path below the mount names: `/` (or nothing), `/summary`, `/export`, `/:id`,
 * each with at most one trailing slash. Anything else (`//`, `//host/summary`, `/a/b`) is no
 * endpoint: a 404, never re-read as something else.
 */
function viewOf(path: string): { name: Exclude<View, 'get'> } | { name: 'get'; id: string } | undefined {
  if (path !== '' && !path.startsWith('/')) return undefined;
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  if (trimmed === '') return { name: 'list' };
  if (trimmed === '/summary') return { name: 'summary' };
  if (trimmed === '/export') return { name: 'export' };
  const match = /^\/([^/]+)$/.exec(trimmed);
  if (!match) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  return { name: 'get', id };
}

function readParams(search: URLSearchParams, allowed: Set<string>, pinned: string | undefined) {
  const values: Record<string, string> = {};
  const counts = new Map<string, number>();
  for (const [name, value] of search) {
    counts.set(name, (counts.get(name) ?? 0) + 1);
    values[name] = value;
  }
  const problems: ParameterProblem[] = [];
  for (const [name, count] of counts) {
    const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
    if (!allowed.has(name)) {
      problems.push({ name: shown, problem: `unknown parameter (known here: ${[...allowed].join(', ') || 'none'})` });
    } else if (count > 1) {
      problems.push({ name, problem: `given ${count} times; give it once` });
    } else if (name === 'tenantId' && pinned !== undefined && values[name] !== pinned) {
      problems.push({ name, problem: 'is fixed to your own tenant' });
    }
  }
  return { values, problems };
}

/** Query-string values into the shapes the query schema takes: numbers for limit and epoch dates. */
function toQueryInput(params: Record<string, string>, pinned: string | undefined): ActivityFilter & { limit?: unknown; cursor?: string } {
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name === 'by' || name === 'format') continue;
    // Times stay strings: the schema reads them (a 4-digit value is a year, 9+ digits epoch ms).
    if (name === 'limit') input.limit = /^\d{1,15}$/.test(value) ? Number(value) : value;
    else input[name] = value;
  }
  if (pinned !== undefined) input.tenantId = pinned;
  return input as ActivityFilter & { limit?: unknown; cursor?: string };
}

function validate(schema: { safeParse(input: unknown): { success: boolean; error?: { issues: readonly { path: PropertyKey[]; message: string }[] } } }, input: unknown): ParameterProblem[] {
  const result = schema.safeParse(input);
  if (result.success || !result.error) return [];
  return result.error.issues.map((issue) => ({ name: issue.path.map(String).join('.') || 'query', problem: issue.message }));
}

function problemsOf(error: ActivityLogError): ParameterProblem[] {
  const issues = error.details?.issues as { path: string[]; message: string }[] | undefined;
  if (issues?.length) return issues.map((issue) => ({ name: issue.path.join('.') || 'query', problem: issue.message }));
  return [{ name: error.message.split(':')[0] ?? 'query', problem: error.message }];
}

function problemOf(error: unknown, name: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
}

function visible(record: ActivityRecord, pinned: string | undefined): boolean {
  return pinned === undefined || record.tenantId === pinned;
}

function badRequest(problems: ParameterProblem[]): Response {
  return json(400, {
    error: 'invalid_parameters',
    message: problems.map((p) => `${p.name}: ${p.problem}`).join('; '),
    parameters: problems,
  });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers },
  });
}

/** The CSV columns of an export, in order: the record's fields flattened, context fields by their own names. */
export const EXPORT_CSV_COLUMNS = [
  'id',
  'occurredAt',
  'action',
  'status',
  'actorType',
  'actorId',
  'actorName',
  'targetType',
  'targetId',
  'targetName',
  'tenantId',
  ...CONTEXT_FIELDS,
  'errorName',
  'errorMessage',
  'errorCode',
  'metadata',
  'changes',
] as const;

/**
 * A cell a spreadsheet could run as a formula (OWASP "CSV injection"): after any leading
 * whitespace and invisible characters (spaces, no-break and zero-width spaces, BOM,
 * direction marks: spreadsheets skip them), it starts with `=`, `+`, `-`, `@`, tab or carriage
 * return, or their full-width and small forms (`＝＋－＠`, `﹦﹢﹣﹫`), which some spreadsheets
 * read as the ASCII ones. A leading `'` is guarded too: it is what spreadsheets strip.
 */
const FORMULA_START = /^[\s\p{Cf}]*[=+\-@\t\r'\uFF1D\uFF0B\uFF0D\uFF20\uFE66\uFE62\uFE63\uFE6B]/u;

/**
 * One CSV cell. A value a spreadsheet could run as a formula (see FORMULA_START) gets a
 * leading `'` so it is shown as text; then the cell is quoted when it holds a comma, quote or
 * line break. Every cell reads back as exactly its text, and none runs as a formula.
 */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(record: ActivityRecord): string {
  const cells: unknown[] = [
    record.id,
    record.occurredAt,
    record.action,
    record.status,
    record.actor?.type,
    record.actor?.id,
    record.actor?.name,
    record.target?.type,
    record.target?.id,
    record.target?.name,
    record.tenantId,
    ...CONTEXT_FIELDS.map((field) => record.context?.[field]),
    record.error?.name,
    record.error?.message,
    record.error?.code,
    record.metadata,
    record.changes,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/**
 * Streams every matching record, one store page per pull: the stream asks for the next page
 * only when the client has taken the previous one, so memory stays at one page however many
 * records match, and a client that disconnects stops the reads.
 */
function exportResponse(
  logger: ActivityLogger<any>,
  filter: ActivityFilter,
  format: string,
  pageSize: number,
  headOnly: boolean,
): Response {
  const csv = format === 'csv';
  const headers = {
    'content-type': csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="activity-log.${csv ? 'csv' : 'ndjson'}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (headOnly) return new Response(null, { status: 200, headers });
  const encoder = new TextEncoder();
  let cursor: string | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (csv) controller.enqueue(encoder.encode(`${EXPORT_CSV_COLUMNS.join(',')}\r\n`));
      },
      async pull(controller) {
        try {
          const page = await logger.query({ ...filter, limit: pageSize, cursor });
          let chunk = '';
          for (const record of page.items) chunk += csv ? csvRow(record) : `${JSON.stringify(record)}\n`;
          if (chunk) controller.enqueue(encoder.encode(chunk));
          if (page.nextCursor) cursor = page.nextCursor;
          else controller.close();
        } catch (cause) {
          logger.report(new ActivityLogError('STORE_FAILED', `activity logs API: export from store "${logger.store.name}" failed midway`, { cause }));
          controller.error(cause);
        }
      },
    },
    { highWaterMark: 1 },
  );
  return new Response(body, { status: 200, headers });
}
