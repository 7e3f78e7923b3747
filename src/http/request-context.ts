import { uuidv7 } from '../ids.js';
import { LIMITS, type ActivityContext } from '../schema.js';
import { cutText } from '../text.js';

/**
 * The part of a web `Request` the request context is read from. A fetch `Request` is one; the
 * framework shims pass a thin view over their own request instead of building a full
 * `Request` per call, because that would cost more than everything else the middleware does.
 */
export interface RequestLike {
  readonly method: string;
  readonly headers: { get(name: string): string | null };
}

/**
 * A `RequestLike` over a plain object of lower-cased header names, such as Node's
 * `req.headers`: no copy, and a class, so nothing is allocated per header read. What the
 * express and fastify shims, and hono on `@hono/node-server`, pass to the scope.
 */
export class HeaderRecordRequest implements RequestLike {
  constructor(
    readonly method: string,
    private readonly raw: Readonly<Record<string, string | string[] | undefined>>,
  ) {}

  get headers(): RequestLike['headers'] {
    return this;
  }

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/** Options of {@link extractRequestContext}. */
export interface RequestContextOptions {
  /**
   * The peer address of the connection, as the framework reports it. express's `req.ip` and
   * fastify's `request.ip` already apply the framework's own `trust proxy` setting; pass
   * them here and leave {@link trustProxy} off.
   */
  ip?: string | undefined;
  /**
   * Take the client address from `x-forwarded-for` (first entry), then `x-real-ip`, instead
   * of `ip`. Only turn this on behind a proxy you control: anyone can send these headers.
   * @default false
   */
  trustProxy?: boolean;
  /** The route template (`/recipes/:id`), when known. */
  route?: string | undefined;
  /**
   * Header to take the request id from and echo it in.
   * @default 'x-request-id'
   */
  requestIdHeader?: string;
}

/** What {@link extractRequestContext} returns: the context to bind, and the request id to echo. */
export interface ExtractedRequestContext {
  requestId: string;
  context: ActivityContext;
}

/**
 * A request id from a client is accepted when it is 1-128 characters of letters, digits and
 * `-_.:/+=`: enough for UUIDs, ULIDs and the ids proxies send, and nothing that could split a
 * log line or a header.
 */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:/+=-]{1,128}$/;
/** W3C Trace Context: `version-traceid-parentid-flags`, lower-case hex, all-zero ids invalid. */
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** True when `value` is a request id this library accepts from a client (and echoes back). */
export function isWellFormedRequestId(value: string | null | undefined): value is string {
  return typeof value === 'string' && value.length <= LIMITS.requestId && REQUEST_ID_PATTERN.test(value);
}

/**
 * The trace id of a W3C `traceparent` header, or `undefined` when the header is absent or
 * malformed (an invalid header must never become a bogus trace id in the log).
 */
export function traceIdFromTraceparent(header: string | null | undefined): string | undefined {
  if (!header || header.length > 512) return undefined;
  const match = TRACEPARENT_PATTERN.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId] = match;
  // Version ff is forbidden; version 00 has no trailing fields.
  if (version === 'ff' || (version === '00' && header.trim().length !== 55)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return traceId;
}

/** The client address from proxy headers, or `undefined`. Only call when the proxy is trusted. */
export function clientIpFromHeaders(headers: RequestLike['headers']): string | undefined {
  const forwarded = headers.get('x-forwarded-for');
  if (forwarded) {
    const first = forwarded.split(',')[0]!.trim();
    if (first) return first;
  }
  return headers.get('x-real-ip')?.trim() || undefined;
}

/**
 * Reads the request context the middleware binds to every event: client address, user agent
 * (capped at `LIMITS.userAgent`), request id (the client's when well-formed, else a fresh
 * UUIDv7), method, route template and W3C trace id.
 *
 * @example
 * const { requestId, context } = extractRequestContext(request, { route: '/recipes/:id' });
 */
export function extractRequestContext(
  request: RequestLike,
  { ip, trustProxy = false, route, requestIdHeader = 'x-request-id' }: RequestContextOptions = {},
): ExtractedRequestContext {
  // Its options are not checked for unknown keys (refuseUnknownOptions): this runs once per
  // request, and a check belongs at start-up, never on a request's path.
  const headers = request.headers;
  const given = headers.get(requestIdHeader);
  const requestId = isWellFormedRequestId(given) ? given : uuidv7();
  const context: ActivityContext = { requestId, method: cutText(request.method, LIMITS.method) };
  const clientIp = trustProxy ? (clientIpFromHeaders(headers) ?? ip) : ip;
  if (clientIp) context.ip = cutText(clientIp, LIMITS.ip);
  const userAgent = headers.get('user-agent');
  if (userAgent) context.userAgent = cutText(userAgent, LIMITS.userAgent);
  if (route) context.route = cutText(route, LIMITS.route);
  const traceId = traceIdFromTraceparent(headers.get('traceparent'));
  if (traceId) context.traceId = traceId;
  return { requestId, context };
}
