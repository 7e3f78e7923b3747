import type { AddressInfo } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { memoryStore, type MemoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';

/**
 * Requests refused in an onRequest hook, by the real @fastify/rate-limit (429) and
 * @fastify/under-pressure (503), reach the log wherever the plugin is registered: first (as
 * the README advises, with the actor read from a later preHandler) or after them.
 */
type WithSession = FastifyRequest & { session?: { id: string } };

let app: FastifyInstance | undefined;
let logger: ActivityLogger | undefined;
afterEach(async () => {
  await app?.close();
  await logger?.close();
  app = undefined;
  logger = undefined;
});

async function build(order: 'plugin first' | 'plugin last', guard: 'rate limit' | 'under pressure'): Promise<{ url: string; store: MemoryStore }> {
  const store = memoryStore();
  logger = createActivityLogger({ store, flushIntervalMs: 5 });
  app = Fastify({ logger: false });
  const plugin = () => app!.register(activityPlugin, { logger: logger!, actor: (request) => (request as WithSession).session && { type: 'user', id: (request as WithSession).session!.id } });
  const guardPlugin = () =>
    guard === 'rate limit'
      ? app!.register(rateLimit, { max: 1, timeWindow: 60_000 })
      : // Always under pressure: any heap is over one byte (sampled every 5 ms).
        app!.register(underPressure, { maxHeapUsedBytes: 1, sampleInterval: 5 });
  if (order === 'plugin first') {
    await plugin();
    await guardPlugin();
  } else {
    await guardPlugin();
    await plugin();
  }
  app.get(
    '/recipes',
    {
      preHandler: async (request) => {
        const id = request.headers['x-session'];
        if (typeof id === 'string') (request as WithSession).session = { id };
      },
    },
    async (request) => {
      request.activity.log({ action: 'recipe.list' });
      return { ok: true };
    },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  if (guard === 'under pressure') await new Promise((resolve) => setTimeout(resolve, 50));
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, store };
}

describe('fastify: early refusals from hooks reach the log', () => {
  it.each(['plugin first', 'plugin last'] as const)('a 429 from @fastify/rate-limit is recorded as denied (%s)', async (order) => {
    const { url, store } = await build(order, 'rate limit');
    const allowed = await fetch(`${url}/recipes`, { headers: { 'x-session': 'u_1' } });
    const limited = await fetch(`${url}/recipes?page=2`, { headers: { 'x-session': 'u_1', 'x-request-id': 'limited-1' } });
    expect([allowed.status, limited.status]).toEqual([200, 429]);
    await logger!.flush();
    const records = store.all().sort((a, b) => (a.id < b.id ? -1 : 1));
    // The allowed request: the route's event and the automatic one, both with the actor the
    // preHandler found (the actor is read when the request's first event is logged).
    // (A GET that succeeds is not recorded on its own by the default capture policy.)
    expect(records.map((r) => [r.action, r.status, r.actor, r.metadata?.statusCode])).toEqual([
      ['recipe.list', 'success', { type: 'user', id: 'u_1' }, undefined],
      // Refused before any preHandler ran: nobody was authenticated yet.
      ['http.get', 'denied', { type: 'anonymous' }, 429],
    ]);
    expect(records[1]!.context).toMatchObject({ requestId: 'limited-1', route: '/recipes', method: 'GET' });
    if (order === 'plugin first') expect(limited.headers.get('x-request-id')).toBe('limited-1');
  });

  it.each(['plugin first', 'plugin last'] as const)('a 503 from @fastify/under-pressure is recorded as a failure (%s)', async (order) => {
    const { url, store } = await build(order, 'under pressure');
    const response = await fetch(`${url}/recipes`, { headers: { 'x-session': 'u_1', 'x-request-id': 'pressed-1' } });
    expect(response.status).toBe(503);
    await logger!.flush();
    const records = store.all();
    expect(records).toHaveLength(1);
    // under-pressure answers by throwing its own 503 error: fastify hands it to onError, so
    // the one record is the error, with its details.
    expect(records[0]).toMatchObject({
      action: 'system.error',
      status: 'failure',
      actor: { type: 'anonymous' },
      error: { message: "Service Unavailable" },
      context: { requestId: 'pressed-1', route: '/recipes' },
    });
  });
});
