import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { ActivityLogger } from '../../src/logger.js';
import type { RegisteredActivityLogger } from '../../src/register.js';
import { createActivityLogsHandler, type ActivityLogsOptions } from '../../src/http/logs-handler.js';
import { createRequestScopeFactory, requestScopeOf, type ActivityMiddlewareOptions, type ActivityRequestScope } from '../../src/http/scope.js';
import { tryCurrentActivity } from '../../src/context.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
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
 * Records an error as `system.error` (once per request) and passes it on with `next(err)`.
 * `activityMiddleware` appends one at the end of the app by itself; put this one before your
 * own error middleware when that middleware answers errors without calling `next(err)`.
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
    scope?.recordError(error);
    next(error);
  };
}

/**
 * The request middleware. Register it before your routes. The client address is express's
 * `req.ip`, so it follows the app's `trust proxy` setting.
 *
 * Unhandled errors: on the first request of an app it appends one error-recording layer at
 * the end of the app's stack, which records an error that reaches it as `system.error` and
 * passes it on with `next(err)`, so express's own handling answers exactly as before. An error
 * your own error middleware answers without `next(err)` is recorded only by automatic capture
 * of the status it sends (a 5xx is a `failure`), unless {@link activityErrorHandler} runs first.
 *
 * @example
 * app.use(activityMiddleware(activity, { actor: (req) => req.user && { type: 'user', id: req.user.id } }));
 */
export function activityMiddleware(logger: ActivityLogger<any>, options: ExpressActivityOptions = {}): RequestHandler {
  const open = createRequestScopeFactory(logger, options);
  const { actor, tenant } = options;
  const appsWithErrorLayer = new WeakSet<object>();

  const recordError = activityErrorHandler();

  return function activityMiddleware(req: Request, res: Response, next: NextFunction): void {
    // Mounted on an app and again on a sub-app (or twice on one): the request is in scope
    // already, with its id echoed; a second scope would record it twice under two ids.
    if (requestScopeOf(req.activity, req)) {
      next();
      return;
    }
    const app = req.app as { use?: (fn: ErrorRequestHandler) => unknown } | undefined;
    if (app && typeof app.use === 'function' && !appsWithErrorLayer.has(app)) {
      appsWithErrorLayer.add(app);
      // Appended now, after the app registered its routes, so it runs after every one of them.
      app.use(recordError);
    }
    const opened = open({
      request: new HeaderRecordRequest(req.method, req.headers),
      frameworkRequest: req,
      ip: req.ip,
      route: () => routeTemplate(req),
      path: () => req.originalUrl,
      actor: actor && (() => actor(req)),
      tenant: tenant && (() => tenant(req)),
    });
    if (opened instanceof Promise) opened.then((scope) => start(req, res, next, scope), next);
    else start(req, res, next, opened);
  };
}

function start(req: Request, res: Response, next: NextFunction, scope: ActivityRequestScope): void {
  // The only property this adds to express's objects: each one added to `req` takes express
  // off a fast path (see the framework benchmark). The error handler finds the scope through this logger
  // (requestScopeOf).
  req.activity = scope.activity;
  if (!res.headersSent) res.setHeader(scope.requestIdHeader, scope.requestId);
  res.once('finish', () => scope.finish(res.statusCode));
  scope.run(next);
}

/** `/recipes/:id` for a request matched by `router.get('/recipes/:id')` under its mount path. */
function routeTemplate(req: Request): string | undefined {
  const route = (req as { route?: { path?: unknown } }).route;
  if (!route || route.path === undefined) return undefined;
  const path = typeof route.path === 'string' ? route.path : String(route.path);
  const base = req.baseUrl ?? '';
  return base + (path === '/' && base ? '' : path) || '/';
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
  const handler = createActivityLogsHandler<Request>(logger, options);
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
