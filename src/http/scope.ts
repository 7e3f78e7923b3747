import { runWithActivityContext } from '../context.js';
import { ActivityLogError } from '../errors.js';
import type { ActivityLogger } from '../logger.js';
import type { ActivityBindings } from '../materialize.js';
import { LIMITS, type ActivityActor, type ActivityContext } from '../schema.js';
import { compileCapturePolicy, type CaptureOptions } from './capture.js';
import { extractRequestContext, type RequestLike } from './request-context.js';

/** What an `actor(req)` callback may return; nothing means `{ type: 'anonymous' }`. */
export type ActorResult = ActivityActor | null | undefined | false;

/**
 * Options every framework middleware shares. `Req` is the framework's own request object
 * (express `req`, fastify `request`, hono `c`), so callbacks read what the app already has.
 */
export interface ActivityMiddlewareOptions<Req> {
  /**
   * Who is making the request, resolved once per request before any handler runs. Sync or
   * async; nothing means `{ type: 'anonymous' }`. A throwing (or rejecting) callback is
   * reported through the logger's `onError` as `CALLBACK_FAILED` and the request goes on as
   * anonymous.
   * @default () => undefined
   */
  actor?: (req: Req) => ActorResult | Promise<ActorResult>;
  /**
   * The tenant of the request, bound as `tenantId` to every event of it. Contained like `actor`.
   * @default undefined
   */
  tenant?: (req: Req) => string | number | null | undefined | Promise<string | number | null | undefined>;
  /**
   * Header the request id is read from (when well-formed) and echoed in.
   * @default 'x-request-id'
   */
  requestIdHeader?: string;
  /** What is recorded automatically when a request ends. See {@link CaptureOptions}. */
  capture?: CaptureOptions;
}

/** What a shim knows about one request, handed to {@link RequestScopeFactory}. */
export interface RequestScopeInput {
  request: RequestLike;
  /** The client address, with the framework's proxy rules applied. */
  ip?: string | undefined;
  /**
   * The route template, or a function returning it once routing has happened (express and
   * hono route after the middleware runs). A function makes the bound logger resolve the
   * route when an event is logged.
   */
  route?: string | undefined | (() => string | undefined);
  /** Calls the user's `actor(req)`; may throw. */
  actor?: (() => ActorResult | Promise<ActorResult>) | undefined;
  /** Calls the user's `tenant(req)`; may throw. */
  tenant?: (() => unknown) | undefined;
}

/**
 * The activity of one request: the bound logger, the request id to echo, and the two events
 * the middleware records on its own.
 */
export interface ActivityRequestScope {
  /** The child logger with actor, tenant and request context bound. */
  readonly activity: ActivityLogger<any>;
  /** The request id to echo in the response header. */
  readonly requestId: string;
  /** The header to echo it in. */
  readonly requestIdHeader: string;
  /** Runs `fn` with {@link activity} as `currentActivity()` for everything it awaits. */
  run<T>(fn: () => T): T;
  /**
   * Records an unhandled error once, as `system.error` (`failure`, normalised error, request
   * context). Later calls for the same request are ignored, and the automatic event for the
   * request's 5xx is then skipped, so one failure is one record. An error carrying a 4xx
   * `status`/`statusCode` is a deliberate answer and is left to automatic capture.
   */
  recordError(error: unknown): void;
  /** Records the automatic event for the final status code, if the capture policy asks for one. Once. */
  finish(statusCode: number): void;
}

/** Opens the scope of one request; synchronous unless `actor` or `tenant` returned a promise. */
export type RequestScopeFactory = (input: RequestScopeInput) => ActivityRequestScope | Promise<ActivityRequestScope>;

const ANONYMOUS: ActivityActor = Object.freeze({ type: 'anonymous' });

/**
 * Compiles the middleware options once and returns the per-request scope opener every
 * framework shim calls. All the logic of the middleware lives here; shims only convert.
 * Nothing here awaits storage: the only await is on the user's own `actor`/`tenant`.
 */
export function createRequestScopeFactory<Req>(
  logger: ActivityLogger<any>,
  { requestIdHeader = 'x-request-id', capture }: Pick<ActivityMiddlewareOptions<Req>, 'requestIdHeader' | 'capture'> = {},
): RequestScopeFactory {
  if (!logger || typeof logger.log !== 'function' || typeof logger.with !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'activity middleware: the first argument must be an activity logger from createActivityLogger()');
  }
  const policy = compileCapturePolicy(capture);
  const headerName = requestIdHeader.toLowerCase();

  return (input) => {
    const startedAt = performance.now();
    const routeOf = typeof input.route === 'function' ? input.route : undefined;
    const staticRoute = typeof input.route === 'string' ? input.route : undefined;
    const { requestId, context } = extractRequestContext(input.request, { ip: input.ip, route: staticRoute, requestIdHeader: headerName });
    const method = context.method!;

    const build = (actor: ActivityActor, tenantId: string | number | undefined): ActivityRequestScope => {
      const bindings: ActivityBindings = { actor, context };
      if (tenantId !== undefined) bindings.tenantId = tenantId;
      let lastRoute = staticRoute;
      const currentRoute = routeOf
        ? () => {
            // Routers may forget the route once a handler is done; keep the last one seen.
            const route = safeRoute(routeOf);
            if (route !== undefined) lastRoute = route;
            return lastRoute;
          }
        : () => staticRoute;
      const activity = routeOf ? lazyRouteLogger(logger, bindings, currentRoute) : logger.with(bindings);
      let errorRecorded = false;
      let finished = false;
      return {
        activity,
        requestId,
        requestIdHeader: headerName,
        run: (fn) => runWithActivityContext(activity, fn),
        recordError(error) {
          // A thrown 4xx (http-errors, fastify's statusCode, hono's HTTPException) is an
          // answer, not a failure: automatic capture records it by its status instead.
          if (errorRecorded || isClientErrorStatus(error)) return;
          errorRecorded = true;
          currentRoute();
          activity.log({ action: 'system.error', status: 'failure', error });
        },
        finish(statusCode) {
          if (finished) return;
          finished = true;
          // The unhandled error already stands for this request's failure.
          if (errorRecorded && statusCode >= 500) return;
          const route = currentRoute();
          const decision = policy.decide(method, route, statusCode);
          if (!decision) return;
          activity.log({
            action: decision.action,
            status: decision.status,
            metadata: { statusCode, durationMs: Math.round((performance.now() - startedAt) * 100) / 100 },
          });
        },
      };
    };

    const actor = callSafely(logger, 'actor', input.actor);
    const tenant = callSafely(logger, 'tenant', input.tenant);
    if (isPromiseLike(actor) || isPromiseLike(tenant)) {
      return Promise.all([settle(logger, 'actor', actor), settle(logger, 'tenant', tenant)]).then(([a, t]) =>
        build(toActor(logger, a), toTenant(logger, t)),
      );
    }
    return build(toActor(logger, actor), toTenant(logger, tenant));
  };
}

function isClientErrorStatus(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  try {
    const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
    const code = typeof status === 'number' ? status : statusCode;
    return typeof code === 'number' && code >= 400 && code < 500;
  } catch {
    return false;
  }
}

function safeRoute(routeOf: () => string | undefined): string | undefined {
  try {
    const route = routeOf();
    return typeof route === 'string' && route.length > 0 ? route.slice(0, LIMITS.route) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A logger bound to the request whose route template is filled in when it is known: the
 * child logger is (re)built on first use after routing, so `req.activity.log()` in a handler
 * carries `/recipes/:id` although the middleware ran before the router. A plain delegating
 * object (not a Proxy): `log()` runs on every request and must stay cheap.
 */
function lazyRouteLogger(parent: ActivityLogger<any>, bindings: ActivityBindings, routeOf: () => string | undefined): ActivityLogger<any> {
  let child: ActivityLogger<any> | undefined;
  let childRoute: string | undefined;
  const current = (): ActivityLogger<any> => {
    const route = routeOf();
    if (!child || route !== childRoute) {
      childRoute = route;
      child = parent.with(route === undefined ? bindings : { ...bindings, context: { ...bindings.context, route } });
    }
    return child;
  };
  return {
    log: (event) => current().log(event),
    with: (more) => current().with(more),
    flush: () => parent.flush(),
    close: () => parent.close(),
    stats: () => parent.stats(),
    report: (error) => parent.report(error),
    query: (query) => parent.query(query),
    get: (id) => parent.get(id),
    count: (filter) => parent.count(filter),
    summarize: (query) => parent.summarize(query),
    purge: (options) => parent.purge(options),
    logInTransaction: (transaction, event) => current().logInTransaction(transaction, event),
    get store() {
      return parent.store;
    },
    get bindings() {
      return current().bindings;
    },
  };
}

function callSafely(logger: ActivityLogger<any>, name: string, fn: (() => unknown) | undefined): unknown {
  if (!fn) return undefined;
  try {
    return fn();
  } catch (cause) {
    reportCallback(logger, name, cause);
    return undefined;
  }
}

async function settle(logger: ActivityLogger<any>, name: string, value: unknown): Promise<unknown> {
  try {
    return await value;
  } catch (cause) {
    reportCallback(logger, name, cause);
    return undefined;
  }
}

function reportCallback(logger: ActivityLogger<any>, name: string, cause: unknown): void {
  logger.report(
    new ActivityLogError('CALLBACK_FAILED', `activity middleware: ${name}() threw; the request goes on ${name === 'actor' ? 'as anonymous' : 'without a tenant'}`, {
      cause,
    }),
  );
}

function toActor(logger: ActivityLogger<any>, value: unknown): ActivityActor {
  if (value === undefined || value === null || value === false) return ANONYMOUS;
  if (typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') return value as ActivityActor;
  logger.report(
    new ActivityLogError('CALLBACK_FAILED', `activity middleware: actor() must return { type, id?, name? } or nothing, got ${typeof value}; the request goes on as anonymous`),
  );
  return ANONYMOUS;
}

function toTenant(logger: ActivityLogger<any>, value: unknown): string | number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number') return value;
  logger.report(new ActivityLogError('CALLBACK_FAILED', `activity middleware: tenant() must return a string or a number, got ${typeof value}`));
  return undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** Context fields, for shims that need to read what was bound. */
export type { ActivityContext };
