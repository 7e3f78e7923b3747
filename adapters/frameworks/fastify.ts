import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { ActivityLogger } from '../../src/logger.js';
import type { RegisteredActivityLogger } from '../../src/register.js';
import { LOGS_OPTIONS, logsHandler, type ActivityLogsOptions } from '../../src/http/logs-handler.js';
import { MIDDLEWARE_OPTIONS, requestScopeFactory, type ActivityMiddlewareOptions, type ActivityRequestScope } from '../../src/http/scope.js';
import { optionNames } from '../../src/option-keys.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
import { endOnClientClose } from './response-end.js';
import { badRequestTarget, pathOf, toWebRequest } from './shared.js';

/**
 * activity-log for fastify 5: `activityPlugin` binds a request-scoped logger as
 * `request.activity`; `activityLogsPlugin` serves the admin logs API under a `prefix`. Both
 * are plain plugins declaring their name and supported fastify version themselves, so
 * neither fastify nor fastify-plugin is loaded at run time by this module.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The activity logger of this request, with actor, tenant and request context bound.
     * Set by `activityPlugin` from `activity-log/fastify`.
     * Typed as the logger the app registered in `ActivityLogRegister`, if it did.
     */
    activity: RegisteredActivityLogger;
  }
}

/** Options of {@link activityPlugin}. `actor(request)` receives fastify's `request`. */
export interface FastifyActivityOptions extends ActivityMiddlewareOptions<FastifyRequest> {
  /** The logger from `createActivityLogger()`. */
  logger: ActivityLogger<any>;
}

/** Options of {@link activityLogsPlugin}. `authorize(request)` and `tenant(request)` receive fastify's `request`. */
export interface FastifyActivityLogsOptions extends ActivityLogsOptions<FastifyRequest> {
  /** The logger from `createActivityLogger()`. */
  logger: ActivityLogger<any>;
}

/**
 * The options fastify itself reads from `register(plugin, options)` and hands on to the plugin
 * with the plugin's own: accepted beside them on purpose, and left to fastify.
 */
const FASTIFY_REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'] as const;
/** The options of {@link activityPlugin} and {@link activityLogsPlugin}, for the check that refuses others. */
const PLUGIN_OPTIONS = [...optionNames<FastifyActivityOptions>()([...MIDDLEWARE_OPTIONS, 'logger']), ...FASTIFY_REGISTER_OPTIONS];
const LOGS_PLUGIN_OPTIONS = [...optionNames<FastifyActivityLogsOptions>()([...LOGS_OPTIONS, 'logger']), ...FASTIFY_REGISTER_OPTIONS];

/** The fastify versions these plugins are written for. */
export const SUPPORTED_FASTIFY = '>=4.10.0 <6';

/**
 * Where the request's scope is kept for the onError and onResponse hooks: a request
 * decoration of its own, so it survives an app that replaces `request.activity`, and, being
 * declared up front, costs fastify nothing per request.
 */
const SCOPE = Symbol('activity-log.scope');
type ScopedRequest = FastifyRequest & { [SCOPE]: ActivityRequestScope | null };

/**
 * Request plugin. It is not encapsulated (`skip-override`), so its hooks cover every route of
 * the instance it is registered on. The client address is fastify's `request.ip`, which
 * follows the server's `trustProxy` option. Errors are seen in the `onError` hook, which
 * fastify runs before its error handler without changing the reply, and recorded when the
 * response ends with a 5xx.
 *
 * @example
 * await app.register(activityPlugin, { logger: activity, actor: (request) => request.user && { type: 'user', id: request.user.id } });
 */
export const activityPlugin: FastifyPluginCallback<FastifyActivityOptions> = Object.assign(
  function activityPlugin(fastify: FastifyInstance, options: FastifyActivityOptions, done: (error?: Error) => void): void {
    const { logger, actor, tenant } = options;
    let open: ReturnType<typeof requestScopeFactory>;
    try {
      open = requestScopeFactory('activityPlugin', logger, options, PLUGIN_OPTIONS);
    } catch (error) {
      // A bad option fails fastify's start-up (register/ready rejects), not the process.
      done(error as Error);
      return;
    }
    // Registered again in a child context: the hooks of the first registration run for the
    // child's routes already, and a second decoration would throw.
    if (fastify.hasRequestDecorator(SCOPE)) {
      done();
      return;
    }
    fastify.decorateRequest('activity', null as unknown as ActivityLogger<any>);
    fastify.decorateRequest(SCOPE, null);

    const openFor = (request: FastifyRequest): ActivityRequestScope =>
      open({
        request: new HeaderRecordRequest(request.method, request.headers),
        ip: request.ip,
        route: request.routeOptions.url,
        path: request.url,
        actor: actor && (() => actor(request)),
        tenant: tenant && (() => tenant(request)),
      });
    // A request answered by an onRequest hook that ran before this plugin's (a rate limiter or
    // an overload guard registered first) reaches onError/onResponse with no scope: it is
    // opened there, so that every request is recorded wherever the plugin is registered.
    const scopeOf = (request: FastifyRequest): ActivityRequestScope => ((request as ScopedRequest)[SCOPE] ??= openFor(request));

    fastify.addHook('onRequest', (request, reply, next) => {
      start(request, reply, next, openFor(request));
    });
    // fastify runs onError before the app's own error handler answers: the error is kept and
    // decided on when the response ends (a 5xx answer records it with its details; an error the
    // handler turns into a 404 or a 401 was an answer, recorded by its status).
    fastify.addHook('onError', (request, _reply, error, next) => {
      scopeOf(request).noteError(error);
      next();
    });
    fastify.addHook('onResponse', (request, reply, next) => {
      scopeOf(request).finish(reply.statusCode);
      next();
    });
    done();
  },
  {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'activity-log',
    [Symbol.for('plugin-meta')]: { name: 'activity-log', fastify: SUPPORTED_FASTIFY },
  },
);

function start(request: FastifyRequest, reply: FastifyReply, next: () => void, scope: ActivityRequestScope): void {
  (request as ScopedRequest)[SCOPE] = scope;
  request.activity = scope.activity;
  // On Node's response, which merges it into whatever head is written: fastify's own (where a
  // reply.header() of the app's for the same name wins) and that of a hijacked reply, which
  // the app writes to reply.raw itself.
  if (!reply.raw.headersSent) reply.raw.setHeader(scope.requestIdHeader, scope.requestId);
  // fastify runs onResponse on 'finish' only, which a client that leaves never lets come.
  endOnClientClose(reply.raw, scope);
  scope.run(next);
}

/**
 * The admin logs API as a fastify plugin; mount it with `prefix`. Encapsulated, so its routes
 * live under the prefix. Throws `INVALID_OPTIONS` at registration without `authorize`.
 *
 * @example
 * await app.register(activityLogsPlugin, { prefix: '/admin/logs', logger: activity, authorize: (request) => request.user?.role === 'admin' });
 */
export const activityLogsPlugin: FastifyPluginCallback<FastifyActivityLogsOptions> = Object.assign(
  function activityLogsPlugin(fastify: FastifyInstance, options: FastifyActivityLogsOptions, done: (error?: Error) => void): void {
    let handler: ReturnType<typeof logsHandler<FastifyRequest>>;
    try {
      // The handler reads its own options by name; fastify's (prefix, logLevel) pass.
      handler = logsHandler<FastifyRequest>('activityLogsPlugin', options.logger, options, LOGS_PLUGIN_OPTIONS);
    } catch (error) {
      // Refused at start-up: register/ready rejects with the INVALID_OPTIONS error.
      done(error as Error);
      return;
    }
    const mount = fastify.prefix;
    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      const web = toWebRequest(request.method, request.url, request.headers, request.headers.host);
      // The path below the prefix, still percent-encoded, as every shim passes it.
      const fullPath = pathOf(request.url);
      const rest = (request.params as { '*'?: string })['*'];
      const path = fullPath.startsWith(mount) ? fullPath.slice(mount.length) : `/${encodeURI(rest ?? '')}`;
      const response = web
        ? await handler(web, request, { path, mount, activity: (request.activity as ActivityLogger<any> | null) ?? undefined })
        : badRequestTarget();
      reply.code(response.status);
      response.headers.forEach((value, name) => void reply.header(name, value));
      // As a Node stream: fastify before 4.2x sends a web ReadableStream as JSON (`{}`) or
      // refuses it (a 500), and fastify 4's HEAD routes cannot measure one (a 500). fastify
      // pipes a Node stream with backpressure, and destroys it (cancelling the web stream, so
      // the export stops reading pages) when the client goes away.
      return reply.send(response.body ? Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>) : '');
    };
    fastify.get('/', serve);
    fastify.get('/*', serve);
    done();
  },
  {
    [Symbol.for('fastify.display-name')]: 'activity-log-logs',
    [Symbol.for('plugin-meta')]: { name: 'activity-log-logs', fastify: SUPPORTED_FASTIFY },
  },
);
