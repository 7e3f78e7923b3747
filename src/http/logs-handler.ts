import { describeValue } from '../describe.js';
import { tryCurrentActivity } from '../context.js';
import { isValidTenantId } from '../fast-validate.js';
import { ActivityLogError, isActivityLogError } from '../errors.js';
import { optionNames, refuseUnknownOptions } from '../option-keys.js';
import type { ActivityLogger } from '../logger.js';
import { storableText } from '../text.js';
import type { View, ViewContext, ViewName } from './logs-views.js';
import { extractRequestContext } from './request-context.js';
import { json } from './responses.js';
import { wantsViewerPage } from './viewer/wants-page.js';
import { signInRequiredResponse } from './viewer/sign-in.js';

export { csvCell, EXPORT_CSV_COLUMNS } from './export.js';
export type { ParameterProblem } from './logs-views.js';

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
   * refused (400), and a record of another tenant is a 404. When it returns nothing, or what
   * no `tenantId` can be (`''`, `NaN`, over 255 characters: a lookup that found nothing,
   * reported as `CALLBACK_FAILED`), the request is refused (403): a tenant-scoped API never
   * falls back to "every tenant", nor to a tenant every such caller would share.
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
  /**
   * The answer to a caller `authorize` refuses (or `tenant` finds no tenant for), in place of
   * the default: typically a redirect to the app's login page. The refusal is recorded as
   * `denied` either way. Returning nothing keeps the default answer for this request (say,
   * redirect browsers and leave API clients their JSON); a throw or a value that is not a
   * `Response` keeps it too, and is reported through `onError`.
   *
   * The second argument says why: `forbidden` (`authorize` refused) or `no-tenant` (`tenant`
   * found none for a caller `authorize` let in), so a signed-in user without a tenant need not
   * be sent to the login page again.
   *
   * The default is a 403: JSON for API clients, and for a browser's navigation (it accepts
   * HTML) a small page saying that the activity log needs sign-in.
   * @default undefined
   * @example
   * // A relative Location: express's and fastify's req.url is a path, which new URL() refuses.
   * onUnauthorized: (req, { reason }) =>
   *   reason === 'forbidden' ? new Response(null, { status: 303, headers: { location: '/login?next=/admin/logs' } }) : undefined
   */
  onUnauthorized?: (req: Source, refusal: UnauthorizedReason) => Response | undefined | Promise<Response | undefined>;
}

/** The options of {@link ActivityLogsOptions}, for the check that refuses others. @internal */
export const LOGS_OPTIONS = optionNames<ActivityLogsOptions<unknown>>()(['authorize', 'tenant', 'basePath', 'exportPageSize', 'viewer', 'onUnauthorized']);

/** Why `onUnauthorized` is called: `authorize` refused the caller, or `tenant` found no tenant. */
export interface UnauthorizedReason {
  reason: 'forbidden' | 'no-tenant';
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

const NO_SUCH_ENDPOINT = (path: string) => json(404, { error: 'not_found', message: `no such endpoint: ${path.slice(0, 200)}` });

/**
 * Builds the admin logs API: `GET /` (list, every store filter as a query parameter,
 * `{ items, nextCursor }`), `GET /records/:id` (one record; `GET /:id` too, for an id that is no
 * endpoint's name), `GET /summary?by=...`,
 * `GET /history?targetType=...&targetId=...` (one target's versions, paged like the list) and
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
  return logsHandler('createActivityLogsHandler', logger, options);
}

/**
 * {@link createActivityLogsHandler}, its options refused under `where` (the shim's own name)
 * against `known` (the shim's options: these and its own). @internal
 */
export function logsHandler<Source>(
  where: string,
  logger: ActivityLogger<any>,
  options: ActivityLogsOptions<Source>,
  known: readonly string[] = LOGS_OPTIONS,
): ActivityLogsHandler<Source> {
  const { authorize, tenant, basePath, exportPageSize, viewer, onUnauthorized } = checkOptions(where, known, logger, options);

  return async (request, source, pathOrInfo) => {
    const url = new URL(request.url);
    const info: LogsRequestInfo = typeof pathOrInfo === 'string' ? { path: pathOrInfo } : (pathOrInfo ?? { path: stripBase(url.pathname, basePath) });
    const route = routeOf(info.path);
    if (!route) return NO_SUCH_ENDPOINT(info.path);
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
    const action = actionOf(route.view);
    // The page holds no records (its own API calls are read and recorded as usual), so it is
    // decided before the query parameters, which are the page's filters, not the API's.
    const page = viewer && route.view === 'list' && wantsViewerPage(request);
    const refuse = (reason?: string) => {
      const metadata: Record<string, string> = { view: page ? 'viewer' : route.view, path: url.pathname.slice(0, 512) };
      if (reason) metadata.reason = reason;
      recorder.log({ action, status: 'denied', metadata });
    };

    // A refusal: the app's own answer when it has one, else a page for a browser, JSON for the rest.
    const unauthorized = async (message: string, reason: UnauthorizedReason['reason']): Promise<Response> => {
      if (onUnauthorized) {
        const answer = await callSafely(logger, 'onUnauthorized', () => onUnauthorized(callerSource, { reason }));
        if (answer instanceof Response) return answer;
        if (answer !== undefined && answer !== null) logger.report(new ActivityLogError('CALLBACK_FAILED', 'activity logs API: onUnauthorized() must return a Response; the default answer was sent'));
      }
      return wantsViewerPage(request) ? signInRequiredResponse(request.method === 'HEAD') : json(403, { error: 'forbidden', message });
    };

    // `true` only: a truthy value (`authorize: (req) => req.user`, a role name) is a mistake
    // that would serve the log to every signed-in caller; it is refused and reported, by its
    // type only (the value may be a credential: `(req) => req.headers.authorization`).
    const allowed: unknown = await callSafely(logger, 'authorize', () => authorize(callerSource));
    if (allowed !== true) {
      if (allowed) {
        logger.report(
          new ActivityLogError('CALLBACK_FAILED', `activity logs API: authorize() must return true or false, got a truthy ${typeof allowed}; the request was refused`),
        );
      }
      refuse();
      return unauthorized('not allowed to read the activity log', 'forbidden');
    }
    let pinned: string | undefined;
    if (tenant) {
      const value = await callSafely(logger, 'tenant', () => tenant(callerSource));
      pinned = pinnedTenantOf(logger, value);
      if (pinned === undefined) {
        refuse('no tenant');
        return unauthorized('no tenant for this caller', 'no-tenant');
      }
      recorder = recorder.with({ tenantId: pinned });
    }
    // The page (its script and styles, about 60 KB of source) is loaded when first asked for,
    // not with the package: most requests of an app never need it (see the heap benchmark).
    if (page) return (await import('./viewer/page.js')).viewerResponse(request.method === 'HEAD');

    // The views (queries, exports, history, verify) load with the first request that reads:
    // most of an app's processes serve none (see the heap benchmark).
    const { badRequest, readParams, VIEWS } = await import('./logs-views.js');
    const view = VIEWS[route.view] as View<unknown>;
    const params = readParams(url.searchParams, view.params, pinned);
    // Asking a pinned API for another tenant is a refusal, not only a bad parameter: recorded
    // as one, so that an admin probing other tenants leaves a trace (the 400 names it as before).
    if (params.otherTenant) refuse('another tenant');
    const parsed = view.parse(params.values, pinned, route.id);
    // Every problem in one answer: those of the query string, then those of the values.
    if (params.problems.length > 0 || parsed.problems) return badRequest([...params.problems, ...(parsed.problems ?? [])]);
    const context: ViewContext = { logger, recorder, pinned, params: params.values, headOnly: request.method === 'HEAD', exportPageSize, refuse };
    try {
      return await view.answer(context, parsed.input);
    } catch (error) {
      if (isActivityLogError(error, 'INVALID_QUERY')) return badRequest([{ name: 'query', problem: error.message }]);
      if (isActivityLogError(error, 'UNSUPPORTED')) return json(501, { error: 'unsupported', message: error.message });
      logger.report(
        error instanceof ActivityLogError ? error : new ActivityLogError('STORE_FAILED', `activity logs API: store "${logger.store.name}" failed`, { cause: error }),
      );
      return json(500, { error: 'store_failed', message: 'the activity store failed; see the server log' });
    }
  };
}

/** The action a view's reads are recorded as. */
function actionOf(view: ViewName): 'activity.query' | 'activity.export' | 'activity.verify' {
  return view === 'export' ? 'activity.export' : view === 'verify' ? 'activity.verify' : 'activity.query';
}

/** Validates the options at the boundary; throws `INVALID_OPTIONS` naming the one at fault. */
function checkOptions<Source>(where: string, known: readonly string[], logger: ActivityLogger<any>, options: ActivityLogsOptions<Source>) {
  const fail = (message: string) => new ActivityLogError('INVALID_OPTIONS', `activity logs API: ${message}`);
  if (!logger || typeof logger.query !== 'function' || typeof logger.log !== 'function') {
    throw fail('the first argument must be an activity logger from createActivityLogger()');
  }
  refuseUnknownOptions(where, options, known);
  if (!options || typeof options.authorize !== 'function') {
    throw fail('options.authorize(req) is required, so the log is never served to everyone (return true for the callers allowed to read it)');
  }
  if (options.tenant !== undefined && typeof options.tenant !== 'function') throw fail("options.tenant must be a function returning the caller's tenant id");
  if (options.viewer !== undefined && typeof options.viewer !== 'boolean') throw fail(`options.viewer must be true or false, got ${typeof options.viewer}`);
  if (options.onUnauthorized !== undefined && typeof options.onUnauthorized !== 'function') throw fail('options.onUnauthorized must be a function returning a Response');
  const { authorize, tenant, basePath = '', exportPageSize = 500, viewer = false, onUnauthorized } = options;
  if (typeof basePath !== 'string') throw fail(`basePath must be a path (a string such as "/admin/logs"), got ${describeValue(basePath)}`);
  if (!Number.isInteger(exportPageSize) || exportPageSize < 1 || exportPageSize > 500) {
    throw fail(`exportPageSize must be a whole number from 1 to 500, got ${String(exportPageSize)}`);
  }
  return { authorize, tenant, basePath, exportPageSize, viewer, onUnauthorized };
}

/** Calls the app's `authorize` or `tenant`; a throw refuses the request and is reported, never thrown. */
async function callSafely<T>(logger: ActivityLogger<any>, name: 'authorize' | 'tenant' | 'onUnauthorized', fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (cause) {
    logger.report(new ActivityLogError('CALLBACK_FAILED', `activity logs API: ${name}() threw; the request was refused`, { cause }));
    return undefined;
  }
}

/**
 * The tenant `tenant()` returned, as records of it are stored, or `undefined` when it is no
 * tenant. Only what `log()` takes as a `tenantId` pins the API: `''`, `NaN` or 300 characters
 * (a lookup that found nothing) named no tenant a record can have, yet were read as one: every
 * caller with the same broken lookup shared the tenant `"NaN"` and saw each other's reads of
 * the log, and the API's own records of their reads were refused (`''`, too long), so those
 * reads went unrecorded. Such a value is reported, a string by its length only (it may be what
 * the app read from the request).
 * The stored form (the text rule, text.ts) is what `GET /:id` compares with, as the filters do.
 */
function pinnedTenantOf(logger: ActivityLogger<any>, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isValidTenantId(value)) {
    const what = typeof value === 'number' ? String(value) : typeof value === 'string' ? `a string of ${value.length} characters` : `a ${typeof value}`;
    logger.report(
      new ActivityLogError('CALLBACK_FAILED', `activity logs API: tenant() must return a tenant id (1-255 characters, or a finite number), got ${what}; the request was refused`),
    );
    return undefined;
  }
  return storableText(String(value));
}

function stripBase(pathname: string, basePath: string): string {
  const base = basePath.replace(/\/+$/, '');
  const rest = base && pathname.startsWith(base) ? pathname.slice(base.length) : pathname;
  return rest === '' ? '/' : rest;
}

/** The endpoints named by a path of one segment; any other one segment is a record id. */
const ENDPOINTS: ReadonlySet<ViewName> = new Set<ViewName>(['summary', 'export', 'verify', 'history']);

/**
 * The view a path below the mount names: `/` (or nothing), `/summary`, `/export`, `/verify`,
 * `/history`, `/records/:id` (any record), `/:id` (any record whose id is no endpoint's name),
 * each with at most one trailing slash. Anything else (`//`, `//host/summary`, `/a/b`) is no
 * endpoint: a 404, never re-read as something else.
 *
 * Each segment is decoded before it is compared, so `/%73ummary` is `/summary`: percent-encoding
 * an unreserved character does not change a URL (RFC 3986, 6.2.2.2), and a proxy or client that
 * normalizes it would otherwise turn a record read into a summary. Ids may be endpoint names
 * (`log()` takes `summary` as an id), so `/records/:id` is the address that reaches every record.
 */
function routeOf(path: string): { view: ViewName; id: string } | undefined {
  if (path !== '' && !path.startsWith('/')) return undefined;
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  if (trimmed === '') return { view: 'list', id: '' };
  // Split before decoding: an encoded slash (%2F) stays inside its segment.
  const segments = trimmed.slice(1).split('/');
  if (segments.length > 2 || segments.some((segment) => segment === '')) return undefined;
  let decoded: string[];
  try {
    decoded = segments.map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
  const [first, id] = decoded as [string, string | undefined];
  if (id !== undefined) return first === 'records' ? { view: 'get', id } : undefined;
  if (ENDPOINTS.has(first as ViewName)) return { view: first as ViewName, id: '' };
  return { view: 'get', id: first };
}
