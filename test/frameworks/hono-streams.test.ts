import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { describe, expect, it } from 'vitest';
import { activityMiddleware } from '../../adapters/frameworks/hono.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/logger.js';
import { closedAfterEach, leaveAfterFirstChunk, serveHono } from './servers.js';

/**
 * On @hono/node-server a response is written after the app returns it, a streamed one for as
 * long as it streams. The request's record must cover that: its time to the last byte, and a
 * client that leaves mid-stream as aborted, not as the 200 the app had returned. Real server
 * on 127.0.0.1, real sockets.
 */
const closers = closedAfterEach();

function start() {
  const store = memoryStore();
  const logger = createActivityLogger({ store, flushIntervalMs: 5 });
  closers.push(() => logger.close());
  const app = new Hono();
  app.use(activityMiddleware(logger));
  // Three chunks, 150 ms apart: the response takes at least 300 ms to write.
  app.post('/reports', (c) =>
    stream(c, async (out) => {
      for (let i = 0; i < 3; i++) {
        await out.write(`chunk ${i}\n`);
        if (i < 2) await out.sleep(150);
      }
    }),
  );
  // Streams until the client leaves.
  app.post('/live', (c) =>
    stream(c, async (out) => {
      while (!out.aborted && !out.closed) {
        await out.write('tick\n');
        await out.sleep(20);
      }
    }),
  );
  app.post('/plain', (c) => c.json({ ok: true }, 201));
  return { store, logger, app };
}

async function recordsOf(logger: ReturnType<typeof createActivityLogger>, store: ReturnType<typeof memoryStore>, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    await logger.flush();
    if (store.all().length >= count || Date.now() > deadline) return store.all();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('hono on @hono/node-server: a request ends when its response does', () => {
  it('records a streamed response when its last chunk is written, with the time it took', async () => {
    const { store, logger, app } = start();
    const url = await serveHono(app.fetch, closers);
    const response = await fetch(`${url}/reports`, { method: 'POST', headers: { 'x-request-id': 'streamed' } });
    expect(await response.text()).toBe('chunk 0\nchunk 1\nchunk 2\n');
    const [record] = await recordsOf(logger, store, 1);
    expect(record).toMatchObject({ action: 'http.post', status: 'success', context: { requestId: 'streamed', route: '/reports' }, metadata: { statusCode: 200 } });
    // Recorded when the app returned the stream, it said about 0 ms.
    expect(record!.metadata!.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('records a client that leaves mid-stream as aborted, not as the 200 the app returned', async () => {
    const { store, logger, app } = start();
    await leaveAfterFirstChunk(await serveHono(app.fetch, closers), 'POST', '/live', 'left');
    const records = await recordsOf(logger, store, 1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ action: 'http.post', status: 'failure', context: { requestId: 'left' }, metadata: { statusCode: 499, aborted: true } });
  });

  it('still records a plain response by the status written', async () => {
    const { store, logger, app } = start();
    const url = await serveHono(app.fetch, closers);
    const response = await fetch(`${url}/plain`, { method: 'POST' });
    expect(response.status).toBe(201);
    const records = await recordsOf(logger, store, 1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ action: 'http.post', status: 'success', metadata: { statusCode: 201 } });
  });
});
