import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/logger.js';
import { closedAfterEach, listenFastify } from './servers.js';

/**
 * The request id is echoed on every response fastify's server writes, also one the app writes
 * itself after `reply.hijack()` (a proxy, a download, server-sent events), and the app's own
 * `reply.header()` for that name still wins. Real server on 127.0.0.1.
 */
const closers = closedAfterEach();

async function start() {
  const store = memoryStore();
  const logger = createActivityLogger({ store, flushIntervalMs: 5 });
  closers.push(() => logger.close());
  const app = Fastify({ logger: false });
  await app.register(activityPlugin, { logger });
  app.post('/raw', async (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(201, { 'content-type': 'text/plain' });
    reply.raw.end('written by the app');
  });
  app.get('/own', async (_request, reply) => reply.header('x-request-id', 'set-by-the-app').send({ ok: true }));
  app.get('/plain', async () => ({ ok: true }));
  return { store, logger, url: await listenFastify(app, closers) };
}

describe('fastify: the request id header', () => {
  it('is on a hijacked reply the app wrote itself, and its record carries the same id', async () => {
    const { store, logger, url } = await start();
    const response = await fetch(`${url}/raw`, { method: 'POST', headers: { 'x-request-id': 'hijacked-1' } });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('written by the app');
    expect(response.headers.get('x-request-id')).toBe('hijacked-1');
    await logger.flush();
    expect(store.all()).toMatchObject([{ action: 'http.post', context: { requestId: 'hijacked-1' }, metadata: { statusCode: 201 } }]);
  });

  it('is on a plain reply, and the app can still set its own', async () => {
    const { url } = await start();
    expect((await fetch(`${url}/plain`, { headers: { 'x-request-id': 'plain-1' } })).headers.get('x-request-id')).toBe('plain-1');
    const own = await fetch(`${url}/own`, { headers: { 'x-request-id': 'plain-2' } });
    expect(own.headers.get('x-request-id')).toBe('set-by-the-app');
  });
});
