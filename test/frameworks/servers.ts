import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';

/** What a test closes after itself, last opened first or in order: each awaited. */
export type Closer = () => Promise<void>;

/** A list of closers that is emptied after each test of the file, each awaited in order. */
export function closedAfterEach(): Closer[] {
  const closers: Closer[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  return closers;
}

/** A Node server (express's) listening on 127.0.0.1, closed with its connections by `closers`; its URL. */
export async function listenNode(server: Server, closers: Closer[]): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => closeNode(server));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A fastify app listening on 127.0.0.1, closed by `closers`; its URL. */
export async function listenFastify(app: FastifyInstance, closers: Closer[]): Promise<string> {
  closers.push(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** A hono app on @hono/node-server at 127.0.0.1, closed with its connections by `closers`; its URL. */
export async function serveHono(fetch: (request: Request) => Response | Promise<Response>, closers: Closer[]): Promise<string> {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }) as unknown as Server;
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  closers.push(() => closeNode(server));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeNode(server: Server): Promise<void> {
  return new Promise<void>((done) => {
    server.closeAllConnections?.();
    server.close(() => done());
  });
}

/**
 * Sends a request, reads the first chunk of its response and leaves (destroys the socket), as a
 * client that stops a download or closes a tab mid-stream; resolves once it has left.
 */
export function leaveAfterFirstChunk(url: string, method: string, path: string, requestId: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise<void>((resolve) => {
    const request = httpRequest({ host: hostname, port, method, path, headers: { 'x-request-id': requestId } }, (response) => {
      response.once('data', () => {
        request.destroy();
        resolve();
      });
    });
    request.on('error', () => {}); // the socket is destroyed on purpose
    request.end();
  });
}
