import type { ServerResponse } from 'node:http';
import type { ActivityRequestScope } from '../../src/http/scope.js';

/**
 * Where a request on Node's HTTP server ends: when its response has been written ('finish'),
 * or when the connection closed first. Type imports only: the hono middleware uses this on
 * `@hono/node-server` and must still load on runtimes without `node:http`.
 */

/**
 * Ends `scope` when Node's response does: `finish()` with the status written, or, when the
 * connection closes first, as {@link endOnClientClose} says. The request's time is then the
 * time to the last byte, a streamed response's included.
 */
export function endWithResponse(res: ServerResponse, scope: ActivityRequestScope): void {
  res.once('finish', () => scope.finish(res.statusCode));
  endOnClientClose(res, scope);
}

/**
 * Ends `scope` when the connection closes before the response's 'finish' (which is where
 * express and fastify end a request, and which never comes then): if the app had not answered
 * yet, the client left first (`abandon()`); if it had (its last bytes still on their way, or
 * fastify's inject() closing before it finishes), the answer stands (`finish()`). A response
 * already closed when the middleware runs (the client left during an earlier middleware) is
 * abandoned too, on the next turn, once the app has routed it (the record names its route);
 * an answer written to it counts for nothing, and fires no 'finish'.
 */
export function endOnClientClose(res: ServerResponse, scope: ActivityRequestScope): void {
  if (res.destroyed) {
    setImmediate(() => scope.abandon());
    return;
  }
  res.once('close', () => {
    if (res.writableFinished) return;
    if (res.writableEnded) scope.finish(res.statusCode);
    else scope.abandon();
  });
}
