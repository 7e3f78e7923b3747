import { once } from 'node:events';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Helpers the Node shims (express, fastify) share: the conversion of a Node request into a
 * fetch `Request`, and streaming a fetch `Response` back with backpressure. Only conversion
 * lives here; the logic is in src/http.
 */

/** Builds a fetch `Request` (GET-style, without a body) from a Node request's parts. */
export function toWebRequest(method: string, url: string, headers: IncomingHttpHeaders, host: string | undefined): Request {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    web.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const safeHost = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : 'localhost';
  return new Request(new URL(url, `http://${safeHost}`), { method, headers: web });
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
