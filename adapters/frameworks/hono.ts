import type { ServerResponse } from 'node:http';
import { packageRequire } from '../../src/package-location.js';
import type { Context, Hono, MiddlewareHandler, Next } from 'hono';
import { describeValue } from '../../src/describe.js';
import { ActivityLogError } from '../../src/errors.js';
import type { ActivityLogger } from '../../src/logger.js';
import type { RegisteredActivityLogger } from '../../src/register.js';
import { logsHandler, type ActivityLogsOptions } from '../../src/http/logs-handler.js';
import { optionNames } from '../../src/option-keys.js';
import { clientIpFromHeaders, HeaderRecordRequest, type RequestLike } from '../../src/http/request-context.js';
import { MIDDLEWARE_OPTIONS, requestScopeFactory, type ActivityMiddlewareOptions, type ActivityRequestScope } from '../../src/http/scope.js';
import { endWithResponse } from './response-end.js';

/**
 * activity-log for hono 4: `activityMiddleware` binds a request-scoped logger as
 * `c.get('activity')`; `activityLogsApp` is the admin logs API as a sub-app for `app.route`.
 * The middleware uses nothing but the web `Request` and AsyncLocalStorage, so it runs on every
 * runtime that has AsyncLocalStorage.
 */

declare module 'hono' {
  interface ContextVariableMap {
    /**
     * The activity logger of this request, with actor, tenant and request context bound.
     * Set by `activityMiddleware` from `activity-log/hono`.
     * Typed as the logger the app registered in `ActivityLogRegister`, if it did.
     */
    activity: RegisteredActivityLogger;
  }
}

/** Options of the hono {@link activityMiddleware}. `actor(c)` receives hono's context. */
export interface HonoActivityOptions extends ActivityMiddlewareOptions<Context> {
  /**
   * Take the client address from `x-forwarded-for` / `x-real-ip`. Hono has no proxy setting
   * of its own; only turn this on behind a proxy you control.
   * @default false
   */
  trustProxy?: boolean;
  /**
   * The client address when not taken from proxy headers. The default reads the socket of
   * `@hono/node-server` (`c.env.incoming`); pass your runtime's own on others.
   * @default (c) => c.env?.incoming?.socket?.remoteAddress
   */
  clientIp?: (c: Context) => string | undefined;
}

/** The options of {@link HonoActivityOptions}, for the check that refuses others. */
const HONO_MIDDLEWARE_OPTIONS = optionNames<HonoActivityOptions>()([...MIDDLEWARE_OPTIONS, 'trustProxy', 'clientIp']);

/** Options of {@link activityLogsApp}. `authorize(c)` and `tenant(c)` receive hono's context. */
export type HonoActivityLogsOptions = ActivityLogsOptions<Context>;

const nodeServerIp = (c: Context): string | undefined =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;

/**
 * The request middleware.
 *
 * Unhandled errors: hono answers a throwing handler with `app.onError` (its default is a plain
 * 500) and leaves the error on `c.error`; the middleware records it as `system.error` after
 * the fact, so the response is whatever hono made of it. A non-Error throw that hono rethrows
 * is recorded and rethrown unchanged.
 *
 * @example
 * app.use(activityMiddleware(activity, { actor: (c) => c.get('user') && { type: 'user', id: c.get('user').id } }));
 */
export function activityMiddleware(
  logger: ActivityLogger<any>,
  options: HonoActivityOptions = {},
): MiddlewareHandler {
  const open = requestScopeFactory('activityMiddleware', logger, options, HONO_MIDDLEWARE_OPTIONS);
  const { trustProxy = false, clientIp = nodeServerIp, actor, tenant } = options ?? {};
  // Read per request: a string 'false' would trust the proxy headers, a clientIp that is no
  // function would leave every request without an address.
  if (typeof trustProxy !== 'boolean') {
    throw new ActivityLogError('INVALID_OPTIONS', `activityMiddleware: trustProxy must be true or false, got ${describeValue(trustProxy)}`);
  }
  if (typeof clientIp !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', `activityMiddleware: clientIp must be a function of the context returning an address, got ${describeValue(clientIp)}`);
  }
  return function activityMiddleware(c, next) {
    // Used on an app and again on a sub-app (app.route): the request is in scope already.
    if (c.get('activity') !== undefined) return next();
    const request = requestLike(c);
    const ownIndex = c.req.routeIndex;
    let ip: string | undefined;
    try {
      ip = (trustProxy ? clientIpFromHeaders(request.headers) : undefined) ?? clientIp(c);
    } catch {
      ip = undefined;
    }
    const scope = open({
      request,
      ip,
      // Hono matches every route up front and moves routeIndex as it dispatches: read when
      // the response ends, it names where the request stopped (see routeTemplate).
      route: () => routeTemplate(c, ownIndex),
      actor: actor && (() => actor(c)),
      tenant: tenant && (() => tenant(c)),
      path: () => urlPath(c),
    });
    // Not an async function: with AsyncLocalStorage on, every promise costs a hook call, so
    // the request path makes only the promises it needs.
    return handle(c, next, scope);
  };
}

function handle(c: Context, next: Next, scope: ActivityRequestScope): Promise<void> {
  c.set('activity', scope.activity);
  echoRequestId(c, scope);
  let rest: Promise<void>;
  try {
    rest = scope.run(next);
  } catch (error) {
    // hono's own next() is async and never throws; another composer's might.
    scope.recordError(error);
    throw error;
  }
  return Promise.resolve(rest).then(
    () => {
      // An error the app's onError answered: recorded with its details if the answer is a 5xx;
      // one it turned into a 404 or a 401 was an answer, recorded by its status.
      if (c.error !== undefined) scope.noteError(c.error);
      const outgoing = nodeResponse(c);
      if (outgoing) {
        // On @hono/node-server the response is written after the app returns it, a stream
        // for as long as it streams: the request ends when Node's response does, as on
        // express, with the time it took and a client that left mid-stream as aborted.
        endWithResponse(outgoing, scope);
      } else {
        scope.finish(c.res.status);
      }
    },
    (error: unknown) => {
      scope.recordError(error);
      throw error;
    },
  );
}

type NodeHeaders = Record<string, string | string[] | undefined>;

/**
 * Node's response of `@hono/node-server` (`c.env.outgoing`), when the app runs there: an HTTP/1
 * response, whose 'finish' and 'close' say when the answer was written or the client left.
 * Undefined elsewhere (other runtimes, `app.request()` in tests), where the request ends when
 * the app returns its response.
 */
function nodeResponse(c: Context): ServerResponse | undefined {
  const outgoing = (c.env as { outgoing?: Partial<ServerResponse> } | undefined)?.outgoing;
  // Told by its shape: importing node:http to compare classes would keep this module off
  // runtimes without it. (An HTTP/2 response has no writableFinished.)
  return outgoing && typeof outgoing.once === 'function' && typeof outgoing.writableFinished === 'boolean' ? (outgoing as ServerResponse) : undefined;
}

type NodeOutgoing = { setHeader?: (name: string, value: string) => unknown; headersSent?: boolean };

/**
 * Sets the request id header. On `@hono/node-server` it goes straight onto Node's response,
 * which merges it into the head it writes: `c.header()` would build a fetch `Headers` for
 * every response and take the server off its fast path for plain responses (see the
 * framework benchmark). Elsewhere, and if the handler sets the same header, hono's own.
 */
function echoRequestId(c: Context, scope: ActivityRequestScope): void {
  const outgoing = (c.env as { outgoing?: NodeOutgoing } | undefined)?.outgoing;
  if (outgoing && typeof outgoing.setHeader === 'function' && !outgoing.headersSent) {
    outgoing.setHeader(scope.requestIdHeader, scope.requestId);
  } else {
    c.header(scope.requestIdHeader, scope.requestId);
  }
}

/**
 * The request as the middleware reads it. On `@hono/node-server`, `c.req.raw.headers` builds a
 * fetch `Headers` from the socket's raw headers on first use, which costs more than the rest
 * of the middleware; Node's own parsed headers (`c.env.incoming.headers`) are read instead.
 * Other runtimes hand hono a real `Request`, read as it is.
 */
function requestLike(c: Context): RequestLike {
  const incoming = (c.env as { incoming?: { headers?: NodeHeaders } } | undefined)?.incoming?.headers;
  if (!incoming || typeof incoming !== 'object') return c.req.raw;
  return new HeaderRecordRequest(c.req.method, incoming);
}

/**
 * The request target as sent, percent-encoded, as express and fastify record it (`c.req.path`
 * is decoded: `/caf%C3%A9` would be `/café`, and `%2F` a slash in one and not the other). The
 * scope drops the query string. On `@hono/node-server`, Node's own request target; elsewhere,
 * `c.req.url` from the first slash after the host.
 */
function urlPath(c: Context): string {
  const target = (c.env as { incoming?: { url?: unknown } } | undefined)?.incoming?.url;
  if (typeof target === 'string' && target.startsWith('/')) return target;
  const url = c.req.url;
  const start = url.indexOf('/', url.indexOf(':') + 3);
  return start === -1 ? '/' : url.slice(start);
}

type MatchedRoute = { path?: unknown; method?: unknown };

/**
 * The route template of the request: the path of the route hono dispatched last, unless that
 * was this middleware or another middleware mounted on a pattern (`app.use(auth)`,
 * `app.use('/admin/*', auth)`) which answered itself or after which nothing matched (a 404).
 * A pattern is not a route: the record then says where by the URL path. A route of any
 * method keeps its template (`app.get('/files/*')`, `app.all('/hooks/:name')`); only an
 * `ALL` entry ending in `*` (what `use` and `mount` register) counts as a middleware.
 */
function routeTemplate(c: Context, ownIndex: number): string | undefined {
  try {
    const req = c.req as { routeIndex: number; matchedRoutes?: MatchedRoute[] };
    const index = req.routeIndex;
    if (index === ownIndex) return undefined;
    const matched = req.matchedRoutes?.[index];
    if (!matched) return routePath(c);
    if (typeof matched.path !== 'string') return undefined;
    if (matched.method === 'ALL' && matched.path.endsWith('*')) return undefined;
    return matched.path;
  } catch {
    return undefined;
  }
}

function routePath(c: Context): string | undefined {
  try {
    return (c.req as { routePath?: string }).routePath;
  } catch {
    return undefined;
  }
}

type HonoModule = { Hono: new () => Hono };
let honoModule: HonoModule | undefined;

/**
 * Loads hono only when a sub-app is built: the middleware needs none of it, and importing
 * this module must work where hono is not installed.
 */
function loadHono(): HonoModule {
  if (honoModule) return honoModule;
  try {
    // From this package's place, where the app's own hono is found (not from the working
    // directory, which need not be the app's).
    honoModule = packageRequire()('hono') as HonoModule;
    return honoModule;
  } catch (cause) {
    throw new ActivityLogError('MISSING_PEER', 'activity-log/hono needs hono: npm install hono', { cause });
  }
}

/**
 * The admin logs API as a hono sub-app; mount it with `app.route('/admin/logs', ...)`.
 * Throws `INVALID_OPTIONS` at start-up without `authorize`.
 *
 * @example
 * app.route('/admin/logs', activityLogsApp(activity, { authorize: (c) => c.get('user')?.role === 'admin' }));
 */
export function activityLogsApp(logger: ActivityLogger<any>, options: HonoActivityLogsOptions): Hono {
  const handler = logsHandler<Context>('activityLogsApp', logger, options);
  const { Hono } = loadHono();
  const app = new Hono();
  const serve = (c: Context) => {
    // After app.route() the template is '<mount>/*' or '<mount>': the rest of the path is ours,
    // taken from the URL as sent (percent-encoded), as every shim passes it.
    const template = routePath(c) ?? '';
    const mount = template.replace(/\/?\*$/, '').replace(/\/$/, '');
    const fullPath = new URL(c.req.url).pathname;
    const path = fullPath.startsWith(mount) ? fullPath.slice(mount.length) || '/' : fullPath;
    let activity: ActivityLogger<any> | undefined;
    try {
      activity = c.get('activity') as ActivityLogger<any> | undefined;
    } catch {
      activity = undefined;
    }
    return handler(c.req.raw, c, { path, mount, activity });
  };
  app.get('/', serve);
  app.get('/*', serve);
  return app;
}
