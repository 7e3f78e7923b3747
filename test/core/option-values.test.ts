import { describe, expect, it } from 'vitest';
import { createActivityLogger, installShutdownHandlers } from '../../src/index.js';
import { createActivityLogsHandler } from '../../src/http/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { activityLogsRouter, activityMiddleware as expressMiddleware } from '../../adapters/frameworks/express.js';
import { activityPlugin } from '../../adapters/frameworks/fastify.js';
import { activityMiddleware as honoMiddleware } from '../../adapters/frameworks/hono.js';
import Fastify from 'fastify';

// An option whose value is read only later (per request, or when a signal comes) must be
// refused at start-up when it cannot work, naming the option and the rule: else every request
// pays for it (an actor() that throws makes each one anonymous, reported once per request), or
// the shutdown that must save the log fails, unseen. Misspelt names are unknown-options.test.ts's.

const logger = () => createActivityLogger({ store: memoryStore(), onError: () => {} });
const refused = (make: () => unknown, message: string) =>
  expect(make).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining(message) }));

describe('option values refused at start-up', () => {
  it('a middleware actor or tenant that is not a function, on every framework', async () => {
    const activity = logger();
    refused(() => expressMiddleware(activity, { actor: 'bob' as never }), 'actor must be a function of the request, got "bob"');
    refused(() => expressMiddleware(activity, { tenant: 5 as never }), 'tenant must be a function of the request, got 5');
    refused(() => honoMiddleware(activity, { actor: {} as never }), 'actor must be a function of the request, got an object');
    const app = Fastify();
    await expect(app.register(activityPlugin, { logger: activity, tenant: 't1' as never }).ready()).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('tenant must be a function of the request, got "t1"'),
    });
    await app.close();
    // Left out, or null as configuration may give it: no callback.
    expect(() => expressMiddleware(activity, { actor: undefined, tenant: null as never })).not.toThrow();
  });

  it("hono's trustProxy that is not a boolean and clientIp that is not a function", () => {
    const activity = logger();
    refused(() => honoMiddleware(activity, { trustProxy: 'false' as never }), 'trustProxy must be true or false, got "false"');
    refused(() => honoMiddleware(activity, { clientIp: 'x' as never }), 'clientIp must be a function of the context');
  });

  it("the admin API's basePath that is not a string", () => {
    const activity = logger();
    refused(() => createActivityLogsHandler(activity, { authorize: () => true, basePath: 5 as never }), 'basePath must be a path');
    refused(() => activityLogsRouter(activity, { authorize: () => true, basePath: ['/x'] as never }), 'basePath must be a path');
  });

  it("installShutdownHandlers' signals that are not a list of signal names, and a beforeClose that is not a function", () => {
    const activity = logger();
    const before = process.listenerCount('SIGTERM');
    refused(() => installShutdownHandlers(activity, { signals: 'SIGTERM' as never }), "signals: must be a list of signal names such as ['SIGTERM', 'SIGINT'], got \"SIGTERM\"");
    refused(() => installShutdownHandlers(activity, { signals: ['SIGTREM' as never] }), 'signals: "SIGTREM" is not a signal name');
    refused(() => installShutdownHandlers(activity, { beforeClose: 'server.close' as never }), 'beforeClose: must be a function, got "server.close"');
    // Nothing was installed by a refused call.
    expect(process.listenerCount('SIGTERM')).toBe(before);
    const uninstall = installShutdownHandlers(activity, { signals: ['SIGUSR2'], beforeClose: async () => {} });
    expect(process.listenerCount('SIGUSR2')).toBeGreaterThan(0);
    uninstall();
  });
});
