import { runWithActivityContext } from '../context.js';
import { describeValue } from '../describe.js';
import { ActivityLogError } from '../errors.js';
import { optionNames, refuseUnknownOptions } from '../option-keys.js';
import { REQUEST_TAGS, requestTagsOf, type RequestTag, type TaggedBindings } from '../bindings.js';
import type { ActivityLogger } from '../logger.js';
import { LIMITS, type ActivityContext } from '../schema.js';
import { cutText } from '../text.js';
import { LazyIdentity, type ActorResult } from './identity.js';
import { compileCapturePolicy, type CaptureOptions, type CapturePolicy } from './capture.js';
import { extractRequestContext, type RequestLike } from './request-context.js';

export type { ActorResult } from './identity.js';

/**
 * Options every framework middleware shares. `Req` is the framework's own request object
 * (express `req`, fastify `request`, hono `c`), so callbacks read what the app already has.
 */
export interface ActivityMiddlewareOptions<Req> {
  /**
   * Who is making the request. Called once per request, when it is first needed: at the
   * request logger's first `log()`, or when the response ends for automatic capture, so it
   * can read what the app's own authentication set later in the request (`req.user`,
   * `res.locals`, a fastify `preHandler`, a hono `c.set`). Sync or async (events logged while
   * it runs wait for it; `flush()` too); nothing means `{ type: 'anonymous' }`. A throwing
   * (or rejecting) callback is reported through the logger's `onError` as `CALLBACK_FAILED`
   * and the request goes on as anonymous.
   * @default () => undefined
   */
  actor?: (req: Req) => ActorResult | Promise<ActorResult>;
  /**
   * The tenant of the request, bound as `tenantId` to every event of it. Called with `actor`,
   * when first needed, and contained like it. Nothing, `null` or `false` means no tenant.
   * @default undefined
   */
  tenant?: (req: Req) => string | number | null | undefined | false | Promise<string | number | null | undefined | false>;
  /**
   * Header the request id is read from (when well-formed) and echoed in.
   * @default 'x-request-id'
   */
  requestIdHeader?: string;
  /** What is recorded automatically when a request ends. See {@link CaptureOptions}. */
  capture?: CaptureOptions;
  /**
   * Make the request's logger `currentActivity()` for everything awaited inside the request,
   * through AsyncLocalStorage. Before Node 24, AsyncLocalStorage costs every promise and
   * callback of the process a hook call once it is in use (README, Performance). An app that only uses `req.activity` (`request.activity`,
   * `c.get('activity')`) and never `currentActivity()` can turn it off; the request logger,
   * automatic capture and error recording work the same (on express, for `req.activity`
   * and for a child of it from `.with()` put in its place).
   * @default true
   */
  asyncContext?: boolean;
}

/** The options of {@link ActivityMiddlewareOptions}, for the check every middleware makes at start-up. @internal */
export const MIDDLEWARE_OPTIONS = optionNames<ActivityMiddlewareOptions<unknown>>()(['actor', 'tenant', 'requestIdHeader', 'capture', 'asyncContext']);

/** What a shim knows about one request, handed to {@link RequestScopeFactory}. */
export interface RequestScopeInput {
  request: RequestLike;
  /** The client address, with the framework's proxy rules applied. */
  ip?: string | undefined;
  /**
   * The route template, or a function returning it once routing has happened (express and
   * hono route after the middleware runs). A function makes the bound logger resolve the
   * route when an event is logged. It returns `null` when the route it named before did not
   * answer after all (an express route that called `next()` and fell through to a 404).
   */
  route?: string | undefined | (() => string | null | undefined);
  /** Calls the user's `actor(req)`; may throw. */
  actor?: (() => ActorResult | Promise<ActorResult>) | undefined;
  /** Calls the user's `tenant(req)`; may throw. */
  tenant?: (() => unknown) | undefined;
  /**
   * The request's URL (its query string is dropped), used only when an event of automatic
   * capture has no route template to say where the request went (an app-level refusal before
   * routing, an unknown path); a function where reading it costs work (it is called then only).
   */
  path?: string | undefined | (() => string | undefined);
  /**
   * The framework's own request object (express's `req`). A shim that passes it can find the
   * scope again from the request's logger (the express error handler does); others leave it out.
   */
  frameworkRequest?: object | undefined;
}

/**
 * The activity of one request: the bound logger, the request id to echo, and the two events
 * the middleware records on its own. Its methods are called on the scope
 * (`scope.finish(status)`); to hand one on as a callback, bind it or wrap it
 * (`(error) => scope.recordError(error)`).
 */
export interface ActivityRequestScope {
  /** The child logger with actor, tenant and request context bound. */
  readonly activity: ActivityLogger<any>;
  /** The request id to echo in the response header. */
  readonly requestId: string;
  /** The header to echo it in. */
  readonly requestIdHeader: string;
  /** Runs `fn` with {@link activity} as `currentActivity()` for everything it awaits (unless `asyncContext: false`). */
  run<T>(fn: () => T): T;
  /**
   * Records an unhandled error once, as `system.error` (`failure`, normalised error, request
   * context). Later calls for the same request are ignored, and the automatic event for the
   * request's 5xx is then skipped, so one failure is one record. An error carrying a 4xx
   * `status`/`statusCode` is a deliberate answer and is left to automatic capture.
   */
  recordError(error: unknown): void;
  /**
   * Keeps an error the app's own error middleware is about to answer, and decides at
   * `finish()`: answered with a 5xx, it is recorded as `system.error` with its details (also
   * when it carries a 4xx status of its own: the answer decides); answered with anything else (an error the app maps to a 404 or 401), it was an
   * answer, and automatic capture records the status alone. The first error is kept.
   */
  noteError(error: unknown): void;
  /** Records the automatic event for the final status code, if the capture policy asks for one. Once. */
  finish(statusCode: number): void;
  /**
   * The client went away before the app answered (the connection closed first), so
   * `finish()` will not come. The automatic event is decided as for a 499 (nginx's "client
   * closed request"): a `failure` where the capture policy records it (writes, by default;
   * not reads under `errors`), with `metadata.aborted: true`. An error kept by
   * {@link noteError} is recorded as well (no answer will say it was a 4xx), and so is one
   * noted later, at once, whatever the timing: the same two records. An error that is only
   * the echo of the closed connection (a stream's premature close, a reset) is not recorded.
   * Does nothing after `finish()`.
   */
  abandon(): void;
}

/** Opens the scope of one request. Synchronous: `actor` and `tenant` are called later, when first needed. */
export type RequestScopeFactory = (input: RequestScopeInput) => ActivityRequestScope;
/** The status recorded for a request whose client left before the response was complete (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499;
/** The scheme and authority of an absolute-form request target (`http://host:port`). */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/** What every scope of one middleware shares, compiled once. */
interface ScopeSettings {
  readonly logger: ActivityLogger<any>;
  readonly policy: CapturePolicy;
  readonly headerName: string;
  readonly asyncContext: boolean;
}

/**
 * Compiles the middleware options once and returns the per-request scope opener every
 * framework shim calls. All the logic of the middleware lives here; shims only convert.
 * Nothing here awaits: not storage, and not the app's `actor`/`tenant` (see LazyIdentity).
 */
export function createRequestScopeFactory<Req>(logger: ActivityLogger<any>, options: ActivityMiddlewareOptions<Req> = {}): RequestScopeFactory {
  return requestScopeFactory('createRequestScopeFactory', logger, options);
}

/**
 * {@link createRequestScopeFactory}, its options refused under `where` (the shim's own name)
 * against `known` (the shim's options: these and its own). @internal
 */
export function requestScopeFactory<Req>(
  where: string,
  logger: ActivityLogger<any>,
  options: ActivityMiddlewareOptions<Req> = {},
  known: readonly string[] = MIDDLEWARE_OPTIONS,
): RequestScopeFactory {
  if (!logger || typeof logger.log !== 'function' || typeof logger.with !== 'function') {
    throw new ActivityLogError('INVALID_OPTIONS', 'activity middleware: the first argument must be an activity logger from createActivityLogger()');
  }
  // `actor` and `tenant` are the shims' to call (see RequestScopeInput): known here, not read.
  refuseUnknownOptions(where, options, known);
  const { requestIdHeader = 'x-request-id', capture, asyncContext = true } = options ?? {};
  if (typeof requestIdHeader !== 'string' || !HEADER_NAME.test(requestIdHeader)) {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `activity middleware: requestIdHeader must be an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-, at most 100), got ${describeValue(requestIdHeader)}`,
    );
  }
  if (typeof asyncContext !== 'boolean') {
    throw new ActivityLogError('INVALID_OPTIONS', `activity middleware: asyncContext must be true or false, got ${describeValue(asyncContext)}`);
  }
  // Called per request by the shims, where a throw is contained (CALLBACK_FAILED, anonymous):
  // a value that is no function would fail every request that way, so it is refused here.
  for (const name of ['actor', 'tenant'] as const) {
    const callback = (options as Record<string, unknown> | undefined)?.[name];
    if (callback != null && typeof callback !== 'function') {
      throw new ActivityLogError('INVALID_OPTIONS', `activity middleware: ${name} must be a function of the request, got ${describeValue(callback)}`);
    }
  }
  const settings: ScopeSettings = { logger, policy: compileCapturePolicy(capture), headerName: requestIdHeader.toLowerCase(), asyncContext };

  return (input) => {
    const startedAt = performance.now();
    const staticRoute = typeof input.route === 'string' ? input.route : undefined;
    const { requestId, context } = extractRequestContext(input.request, { ip: input.ip, route: staticRoute, requestIdHeader: settings.headerName });
    const routeOf = typeof input.route === 'function' ? input.route : undefined;
    const identity = new LazyIdentity(logger, input.actor, input.tenant);
    return new RequestScope(settings, requestId, context, startedAt, identity, routeOf, input.path, input.frameworkRequest);
  };
}

/**
 * One request: its logger is an ordinary child of the app's logger, bound to the request's
 * context, and tagged with a route read when an event is logged (express and hono route after
 * the middleware ran) and with this scope, so that every logger of the request (children from
 * `with()` included) leads back here.
 */
class RequestScope implements ActivityRequestScope, RequestTag {
  readonly activity: ActivityLogger<any>;
  readonly requestIdHeader: string;
  private readonly method: string;
  private readonly staticRoute: string | undefined;
  private lastRoute: string | undefined;
  private errorRecorded = false;
  /** An error the app's error middleware answers; recorded at finish() if the answer is a 5xx. */
  private notedError: { error: unknown } | undefined;
  /** The request's own loggers recorded a denied or failure event (see CaptureOptions.dedupe). */
  private ownRefusalRecorded = false;
  private finished = false;
  /** The client closed the connection before the response was complete (see abandon()). */
  private abandoned = false;
  /** The route as it was when the first error was noted (see noteError()). */
  private routePinned = false;

  constructor(
    private readonly settings: ScopeSettings,
    readonly requestId: string,
    context: ActivityContext,
    private readonly startedAt: number,
    identity: LazyIdentity,
    private readonly routeOf: (() => string | null | undefined) | undefined,
    private readonly pathOf: string | undefined | (() => string | undefined),
    /** The framework's request object this scope belongs to (see requestScopeOf). */
    readonly frameworkRequest: object | undefined,
  ) {
    this.requestIdHeader = settings.headerName;
    this.method = context.method!;
    this.staticRoute = context.route;
    const bindings: TaggedBindings = { context, [REQUEST_TAGS]: { scope: this, routeOf: routeOf && (() => this.route()), identity } };
    this.activity = settings.logger.with(bindings);
  }

  /** The route template as known now, or the last one seen (the one pinned by noteError()). */
  route(): string | undefined {
    if (!this.routeOf) return this.staticRoute;
    if (this.routePinned) return this.lastRoute;
    const route = safeRoute(this.routeOf);
    // undefined: not known now, the last one seen stands; null: that one did not answer.
    if (route !== undefined) this.lastRoute = route ?? undefined;
    return this.lastRoute;
  }

  logged(status: unknown): void {
    if (status === 'denied' || status === 'failure') this.ownRefusalRecorded = true;
  }

  run<T>(fn: () => T): T {
    return this.settings.asyncContext ? runWithActivityContext(this.activity, fn) : fn();
  }

  recordError(error: unknown): void {
    // A thrown 4xx (http-errors, fastify's statusCode, hono's HTTPException) is an
    // answer, not a failure: automatic capture records it by its status instead.
    if (!isClientErrorStatus(error)) this.recordFailure(error);
  }

  /**
   * Records the request's failure, once, as `system.error` with the error's details; where no
   * route template says where it failed (an app-level middleware before routing, an unknown
   * path), its URL path does, as for the automatic event.
   */
  private recordFailure(error: unknown): void {
    if (this.errorRecorded) return;
    this.errorRecorded = true;
    const path = this.route() === undefined ? this.path() : undefined;
    this.activity.log(
      path === undefined ? { action: 'system.error', status: 'failure', error } : { action: 'system.error', status: 'failure', error, metadata: { path } },
    );
  }

  noteError(error: unknown): void {
    // Where the error was raised: express restores req.baseUrl, not req.route, once the error
    // leaves the router it was raised in, so a template read later (at finish(), after the
    // app's error middleware answered) would drop the router's mount path.
    if (!this.routePinned) {
      this.route();
      this.routePinned = true;
    }
    // Nobody will answer the client that left: the error is recorded now, unless it is only
    // the client's leaving, seen again by a stream that was writing to it.
    if (this.abandoned) {
      if (!isClientGone(error)) this.recordError(error);
    } else if (this.notedError === undefined) {
      this.notedError = { error };
    }
  }

  finish(statusCode: number): void {
    if (this.finished) return;
    this.finished = true;
    // What the app answered decides, not the status the error carries: an error with a 404 on
    // it that the app's error handler answered with a 500 is a failure, with its details.
    if (this.notedError !== undefined && statusCode >= 500) this.recordFailure(this.notedError.error);
    // The unhandled error already stands for this request's failure.
    if (this.errorRecorded && statusCode >= 500) return;
    this.recordRequest(statusCode, false);
  }

  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    this.abandoned = true;
    // Whatever status the app had set, the client got no answer: not a success. Recorded
    // whether the error came before the client left or comes after, so that one aborted
    // failure is the same records whatever the timing.
    this.recordRequest(CLIENT_CLOSED_REQUEST, true);
    if (this.notedError !== undefined && !isClientGone(this.notedError.error)) this.recordError(this.notedError.error);
  }

  /** The automatic event of the request, if the capture policy asks for one. */
  private recordRequest(statusCode: number, aborted: boolean): void {
    const { policy } = this.settings;
    const route = this.route();
    const decision = policy.decide(this.method, route, statusCode);
    if (!decision) return;
    // The request already said why it was refused: one refusal, one record.
    if (policy.dedupe && this.ownRefusalRecorded && decision.status !== 'success') return;
    const metadata: Record<string, unknown> = { statusCode, durationMs: Math.round((performance.now() - this.startedAt) * 100) / 100 };
    // No route template says where the request went: its path does (redacted like any value).
    if (route === undefined) {
      const path = this.path();
      if (path !== undefined) metadata.path = path;
    }
    if (aborted) metadata.aborted = true;
    this.activity.log({ action: decision.action, status: decision.status, metadata });
  }

  /**
   * The URL path without its query string, capped at the route's length; undefined when unknown.
   * An absolute-form target (`GET http://host/path`, which Node passes on as it was sent) is
   * recorded by its path alone, as hono's is: the host is the client's to name.
   */
  private path(): string | undefined {
    if (!this.pathOf) return undefined;
    try {
      const target = typeof this.pathOf === 'function' ? this.pathOf() : this.pathOf;
      if (typeof target !== 'string' || target.length === 0) return undefined;
      const origin = ABSOLUTE_FORM.exec(target);
      const url = origin ? target.slice(origin[0].length) || '/' : target;
      const end = url.search(/[?#]/);
      return cutText(end === -1 ? url : url.slice(0, end) || '/', LIMITS.route);
    } catch {
      return undefined;
    }
  }
}

/**
 * The scope of `frameworkRequest`'s request, found from a logger the middleware made for it:
 * the request logger (`req.activity` as set, or `currentActivity()` inside the request) or a
 * child of it from `.with()`, at any depth: they carry the scope in their request tags.
 * `undefined` for any other logger or value, and for a scope opened for another request.
 * Lets a shim reach the scope without a table keyed by request (see the framework benchmark).
 */
export function requestScopeOf(logger: unknown, frameworkRequest: object): ActivityRequestScope | undefined {
  const scope = requestTagsOf(logger)?.scope;
  return scope instanceof RequestScope && scope.frameworkRequest === frameworkRequest ? scope : undefined;
}

/** Node's errors for a peer that went away: what a stream writing to a closed response fails with. */
const CLIENT_GONE_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Whether an error only says that the client closed the connection. */
function isClientGone(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  try {
    const { code } = error as { code?: unknown };
    return typeof code === 'string' && CLIENT_GONE_CODES.has(code);
  } catch {
    return false;
  }
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

function safeRoute(routeOf: () => string | null | undefined): string | null | undefined {
  try {
    const route = routeOf();
    if (route === null) return null;
    return typeof route === 'string' && route.length > 0 ? cutText(route, LIMITS.route) : undefined;
  } catch {
    return undefined;
  }
}

/** Context fields, for shims that need to read what was bound. */
export type { ActivityContext };
