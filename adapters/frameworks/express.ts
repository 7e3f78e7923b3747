import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { ActivityLogger } from '../../src/logger.js';
import type { RegisteredActivityLogger } from '../../src/register.js';
import { logsHandler, type ActivityLogsOptions } from '../../src/http/logs-handler.js';
import { requestScopeFactory, requestScopeOf, type ActivityMiddlewareOptions, type ActivityRequestScope } from '../../src/http/scope.js';
import { tryCurrentActivity } from '../../src/context.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
import { endWithResponse } from './response-end.js';
import { badRequestTarget, pathOf, sendWebResponse, toWebRequest } from './shared.js';

/**
 * activity-log for express 5 (and express 4): `activityMiddleware` binds a request-scoped
 * logger as `req.activity`, and `activityLogsRouter` mounts the admin logs API. Nothing here
 * imports express at run time; express is an optional peer dependency.
 */

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The activity logger of this request, with actor, tenant and request context bound.
       * Set by `activityMiddleware` from `activity-log/express`.
       * Typed as the logger the app registered in `ActivityLogRegister`, if it did.
       */
      activity: RegisteredActivityLogger;
    }
  }
}

/** Options of the express {@link activityMiddleware}. `actor(req)` receives express's `req`. */
export type ExpressActivityOptions = ActivityMiddlewareOptions<Request>;

/** Options of {@link activityLogsRouter}. `authorize(req)` and `tenant(req)` receive express's `req`. */
export type ExpressActivityLogsOptions = ActivityLogsOptions<Request>;

/**
 * Records an error as `system.error` (once per request) when the request is answered with a
 * 5xx, and passes it on with `next(err)`; an error the app answers with another status was an
 * answer, recorded by automatic capture.
 * `activityMiddleware` places one before the error middleware of the app and of its routers
 * by itself; put this one before the error middleware of a sub-app (`express()` mounted with
 * `app.use(path, sub)`) that does not mount `activityMiddleware` itself.
 *
 * @example
 * app.use(activityErrorHandler());
 * app.use((err, req, res, next) => res.status(500).json({ error: 'internal' }));
 */
export function activityErrorHandler(): ErrorRequestHandler {
  return function activityErrorRecorder(error: unknown, req: Request, _res: Response, next: NextFunction) {
    // req.activity as the middleware set it, or a child of it from .with() put in its place;
    // for any other replacement, the request's own logger is still the current one here
    // (express calls error handlers inside the request). Found neither way (another logger
    // and a lost async context or asyncContext: false), the error is not recorded as
    // system.error, but the request's 5xx still is, by automatic capture.
    const scope = requestScopeOf(req.activity, req) ?? requestScopeOf(tryCurrentActivity(), req);
    // Decided when the response ends: an error the app answers with a 4xx was an answer.
    scope?.noteError(error);
    next(error);
  };
}

/**
 * The request middleware. Register it before your routes. The client address is express's
 * `req.ip`, so it follows the app's `trust proxy` setting.
 *
 * Errors: on the first request of an app it puts one error-recording layer just before the
 * app's first error middleware (at the end when there is none), and likewise in every router
 * mounted in it. The layer records the error as `system.error` and passes it on with
 * `next(err)`, so the app's own error middleware, or express's, answers exactly as before. A
 * sub-app's stack is hidden behind express's mount function: there, mount this middleware too,
 * or put {@link activityErrorHandler} before its error middleware.
 *
 * @example
 * app.use(activityMiddleware(activity, { actor: (req) => req.user && { type: 'user', id: req.user.id } }));
 */
export function activityMiddleware(logger: ActivityLogger<any>, options: ExpressActivityOptions = {}): RequestHandler {
  const open = requestScopeFactory('activityMiddleware', logger, options);
  const { actor, tenant } = options;
  const placedRecorders = new WeakSet<object>();

  const recordError = activityErrorHandler();

  return function activityMiddleware(req: Request, res: Response, next: NextFunction): void {
    // On an app's first request, when it has registered its routes and error middleware
    // (req.app is the sub-app inside one: mounted there too, the middleware places it there).
    const app = req.app as object | undefined;
    if (app && !placedRecorders.has(app)) {
      placedRecorders.add(app);
      placeErrorRecorder(app, recordError, placedRecorders);
    }
    // Mounted on an app and again on a sub-app (or twice on one): the request is in scope
    // already, with its id echoed; a second scope would record it twice under two ids.
    if (requestScopeOf(req.activity, req)) {
      next();
      return;
    }
    const scope = open({
      request: new HeaderRecordRequest(req.method, req.headers),
      frameworkRequest: req,
      ip: req.ip,
      route: trackRoute(req, res),
      path: req.originalUrl,
      actor: actor && (() => actor(req)),
      tenant: tenant && (() => tenant(req)),
    });
    start(req, res, next, scope);
  };
}

/** A router's stack as express 4 and 5 build it: layers with a handler, route layers with a route. */
interface Router {
  stack: { handle?: unknown; route?: unknown }[];
  use(fn: ErrorRequestHandler): unknown;
}

/**
 * A route (`app.get(path, ...handlers)`, `router.route(path)`) as express 4 and 5 build it: its
 * handlers' layers, each with the method it serves (none for `all`), and one adder per method.
 */
interface Route {
  stack: { handle?: unknown; method?: unknown }[];
  [method: string]: unknown;
}

/** The router of an express app (express 4: `_router`, made on first use; express 5: `router`), or the router itself. */
function routerOf(handle: unknown): Router | undefined {
  if (typeof handle !== 'function') return undefined;
  const owner = handle as Partial<Router> & { _router?: Router; router?: Router; set?: unknown; handle?: unknown };
  if (Array.isArray(owner.stack) && typeof owner.use === 'function') return owner as Router;
  // An app: a function with handle() and set(); its router is where its middleware lives.
  if (typeof owner.handle !== 'function' || typeof owner.set !== 'function') return undefined;
  const router = owner._router ?? owner.router;
  return router && Array.isArray(router.stack) && typeof router.use === 'function' ? router : undefined;
}

/**
 * Puts `recordError` just before the first error middleware of `app` (or at its end when it
 * has none), and of every router mounted in it, once each. An app's own error
 * middleware usually answers without `next(err)`, and the error's details would never reach
 * the log; this way no `activityErrorHandler()` line is needed anywhere.
 */
function placeErrorRecorder(app: unknown, recordError: ErrorRequestHandler, placed: WeakSet<object>, depth = 0): void {
  const router = routerOf(app);
  if (!router || placed.has(router) || depth > 16) return;
  // Routers mounted with use() are in the stack as themselves; sub-apps are wrapped (express
  // mounts them through a function of its own), so they are reached only from their own requests.
  placed.add(router);
  for (const layer of router.stack) {
    if (layer.route) placeRouteRecorder(layer.route as Route, recordError);
    else placeErrorRecorder(layer.handle, recordError, placed, depth + 1);
  }
  router.use(recordError);
  const recorder = router.stack.pop()!;
  const isErrorMiddleware = (layer: Router['stack'][number]) => !layer.route && typeof layer.handle === 'function' && layer.handle.length === 4;
  const first = router.stack.findIndex(isErrorMiddleware);
  router.stack.splice(first === -1 ? router.stack.length : first, 0, recorder);
}

/**
 * Puts `recordError` just before each error middleware of a route
 * (`app.get('/upload', handler, onUploadError)`): it runs inside the route, before any recorder
 * in the router's stack, and usually answers. Each is made by the route's own adder for the
 * method of the layer it precedes, so it serves the same requests (`app.all()` adds one layer
 * per method); a route without error middleware is left as it is.
 */
function placeRouteRecorder(route: Route, recordError: ErrorRequestHandler): void {
  if (!Array.isArray(route.stack)) return;
  for (let i = 0; i < route.stack.length; i++) {
    const { handle, method } = route.stack[i]!;
    if (typeof handle !== 'function' || handle.length !== 4 || handle === recordError) continue;
    const add = route[typeof method === 'string' ? method : 'all'];
    if (typeof add !== 'function') return;
    add.call(route, recordError);
    route.stack.splice(i, 0, route.stack.pop()!);
    i++;
  }
}

function start(req: Request, res: Response, next: NextFunction, scope: ActivityRequestScope): void {
  // The only property this adds to express's objects: each one added to `req` takes express
  // off a fast path (see the framework benchmark). The error handler finds the scope through this logger
  // (requestScopeOf).
  req.activity = scope.activity;
  if (!res.headersSent) res.setHeader(scope.requestIdHeader, scope.requestId);
  endWithResponse(res, scope);
  scope.run(next);
}

/**
 * The request's route template as routing goes on: `/recipes/:id` for a request matched by
 * `router.get('/recipes/:id')` under its mount path; `null` once that route has passed the
 * request on unanswered (`next()`), so that express's 404 is not recorded under it.
 *
 * express sets `req.route` as a route matches and never unsets it, but sets `req.next` as the
 * request enters a router and back as it leaves one. A route whose router is left before the
 * response's head was sent did not answer; an error it raised was noted (and its route pinned)
 * by the recorder at the end of its router before then. A later middleware of the same router
 * that answers is not told apart: express gives no sign of it.
 */
function trackRoute(req: Request, res: Response): () => string | null | undefined {
  let passedOn: unknown;
  let next: unknown = req.next;
  Object.defineProperty(req, 'next', {
    configurable: true,
    enumerable: true,
    get: () => next,
    set(value: unknown) {
      const route = (req as { route?: unknown }).route;
      if (value !== next && route !== undefined && !res.headersSent) passedOn = route;
      next = value;
    },
  });
  return () => {
    const route = (req as { route?: { path?: unknown } }).route;
    if (!route || route.path === undefined) return undefined;
    if (route === passedOn) return null;
    const path = typeof route.path === 'string' ? route.path : String(route.path);
    const base = req.baseUrl ?? '';
    return base + (path === '/' && base ? '' : path) || '/';
  };
}

/**
 * The admin logs API as an express middleware: mount it under a path. It converts the request
 * to a fetch `Request`, runs the web-standard handler (`createActivityLogsHandler`) and
 * streams the `Response` back. Throws `INVALID_OPTIONS` at start-up without `authorize`.
 *
 * @example
 * app.use('/admin/logs', activityLogsRouter(activity, { authorize: (req) => req.user?.role === 'admin' }));
 */
export function activityLogsRouter(logger: ActivityLogger<any>, options: ExpressActivityLogsOptions): RequestHandler {
  const handler = logsHandler<Request>('activityLogsRouter', logger, options);
  return function activityLogsRouter(req: Request, res: Response, next: NextFunction): void {
    // The whole URL for the request (what is recorded is the full path, as on every
    // framework); the path below the mount is req.url, from which express stripped it.
    const request = toWebRequest(req.method, req.originalUrl ?? req.url, req.headers, req.headers.host);
    const answer = request
      ? handler(request, req, { path: pathOf(req.url), mount: req.baseUrl, activity: req.activity as ActivityLogger<any> | undefined })
      : Promise.resolve(badRequestTarget());
    answer.then((response) => sendWebResponse(res, response)).catch(next);
  };
}
