import { once } from 'node:events';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Helpers the Node shims (express, fastify) share: the conversion of a Node request into a
 * fetch `Request`, and streaming a fetch `Response` back with backpressure. Only conversion
 * lives here; the logic is in src/http.
 */

/**
 * Builds a fetch `Request` (GET-style, without a body) from a Node request's parts, or
 * `undefined` when the request line cannot be one (the shim answers 400).
 *
 * The URL is the origin joined to the request target as text, never resolved against it:
 * resolving `//evil.example/summary` would make `evil.example` the host, and `//` alone is
 * not a URL at all. A header that fetch refuses is left out rather than failing the request.
 */
export function toWebRequest(method: string, url: string, headers: IncomingHttpHeaders, host: string | undefined): Request | undefined {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    try {
      web.set(name, Array.isArray(value) ? value.join(', ') : value);
    } catch {
      // Not a header fetch can hold; the admin API reads only a few standard ones.
    }
  }
  const safeHost = host && /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(host) ? host : 'localhost';
  const target = url.startsWith('/') ? url : `/${url}`;
  try {
    return new Request(`http://${safeHost}${target}`, { method, headers: web });
  } catch {
    return undefined;
  }
}

/** The 400 a shim answers for a request target that is not a URL. */
export function badRequestTarget(): Response {
  return new Response(JSON.stringify({ error: 'bad_request', message: 'the request target is not a valid URL path' }), {
    status: 400,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  });
}

/** The path of a request target, without its query string, still percent-encoded. */
export function pathOf(target: string): string {
  const end = target.search(/[?#]/);
  const path = end === -1 ? target : target.slice(0, end);
  return path.startsWith('/') ? path : `/${path}`;
}

/**
 * Writes a fetch `Response` to a Node response, one chunk at a time, waiting for `drain`
 * when the socket is full, and cancelling the body when the client goes away, so a large
 * export never piles up in memory.
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  const body = response.body;
  if (!body) {
    res.end();
    return;
  }
  const reader = body.getReader();
  let closed = false;
  const onClose = () => {
    closed = true;
    reader.cancel().catch(() => {});
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed) break;
      if (!res.write(value)) {
        await Promise.race([once(res, 'drain'), once(res, 'close')]);
      }
    }
    if (!closed) res.end();
  } catch (error) {
    // Headers are gone already: all that can be done is to cut the response short.
    res.destroy(error instanceof Error ? error : undefined);
  } finally {
    res.off('close', onClose);
  }
}
