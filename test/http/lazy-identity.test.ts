import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import type { ActivityLogError } from '../../src/errors.js';
import { createRequestScopeFactory } from '../../src/http/index.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
import { createActivityLogger } from '../../src/logger.js';

/** The request scope's lazy identity, through the public scope factory every shim uses. */
describe('the request actor, worked out when first needed', () => {
  const request = () => new HeaderRecordRequest('POST', { 'x-request-id': 'r-1' });

  it('holds events logged while an async actor runs, counts them as queued, and flush() waits for them', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store, flushIntervalMs: 5 });
    let answer!: (actor: { type: string; id: string }) => void;
    let calls = 0;
    const open = createRequestScopeFactory(logger);
    const scope = open({
      request: request(),
      actor: () => {
        calls += 1;
        return new Promise((resolve) => (answer = resolve));
      },
    });
    expect(calls).toBe(0);
    scope.activity.log({ action: 'doc.edit' });
    scope.activity.with({ metadata: { step: 2 } }).log({ action: 'doc.save' });
    expect(calls).toBe(1);
    expect(logger.stats().queued).toBe(2);
    let flushed = false;
    const flushing = logger.flush().then(() => (flushed = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(flushed).toBe(false);
    expect(store.all()).toEqual([]);
    answer({ type: 'user', id: 'u_9' });
    await flushing;
    const records = store.all().sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(records.map((r) => [r.action, r.actor, r.context?.requestId])).toEqual([
      ['doc.edit', { type: 'user', id: 'u_9' }, 'r-1'],
      ['doc.save', { type: 'user', id: 'u_9' }, 'r-1'],
    ]);
    // Known now: later events go straight to the queue, with no second call.
    scope.finish(201);
    await logger.flush();
    expect(store.all()).toHaveLength(3);
    expect(calls).toBe(1);
    await logger.close();
  });

  it('an explicit actor from with() wins, and the app callback is not needed for it', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    let calls = 0;
    const scope = createRequestScopeFactory(logger)({ request: request(), actor: () => (calls++, { type: 'user', id: 'u_1' }), tenant: () => 't_1' });
    scope.activity.with({ actor: { type: 'system' }, tenantId: 't_2' }).log({ action: 'job.run' });
    expect(calls).toBe(0);
    scope.activity.log({ action: 'doc.view' });
    expect(calls).toBe(1);
    await logger.flush();
    const byAction = Object.fromEntries(store.all().map((r) => [r.action, [r.actor, r.tenantId]]));
    expect(byAction).toEqual({ 'job.run': [{ type: 'system' }, 't_2'], 'doc.view': [{ type: 'user', id: 'u_1' }, 't_1'] });
    await logger.close();
  });

  it('copies what actor() returned: a later change to the app object changes nothing logged', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    const user = { type: 'user', id: 'u_1', name: 'Ada' };
    const scope = createRequestScopeFactory(logger)({ request: request(), actor: () => user });
    scope.activity.log({ action: 'doc.view' });
    user.name = 'Changed';
    scope.activity.log({ action: 'doc.edit' });
    await logger.flush();
    expect(store.all().map((r) => r.actor?.name)).toEqual(['Ada', 'Ada']);
    await logger.close();
  });

  it('close() gives an actor() that never answers closeTimeoutMs, then writes the events without it and says so', async () => {
    const store = memoryStore();
    const reported: ActivityLogError[] = [];
    const logger = createActivityLogger({ store, closeTimeoutMs: 100, onError: (error) => reported.push(error) });
    const scope = createRequestScopeFactory(logger)({ request: request(), actor: () => new Promise(() => undefined) });
    scope.activity.log({ action: 'doc.edit' });
    scope.activity.log({ action: 'doc.save' });
    const started = Date.now();
    await logger.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(store.all().sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => [r.action, r.actor])).toEqual([
      ['doc.edit', undefined],
      ['doc.save', undefined],
    ]);
    expect(reported.map((error) => [error.code, error.details?.count])).toEqual([['CALLBACK_FAILED', 2]]);
    expect(logger.stats()).toMatchObject({ written: 2, queued: 0, dropped: 0 });
  });

  it('bounds events waiting for an actor by maxQueue, like any other', async () => {
    const store = memoryStore();
    const reported: ActivityLogError[] = [];
    const logger = createActivityLogger({ store, maxQueue: 3, overflow: 'drop-newest', onError: (error) => reported.push(error) });
    let answer!: (actor: { type: string }) => void;
    const scope = createRequestScopeFactory(logger)({ request: request(), actor: () => new Promise((resolve) => (answer = resolve)) });
    for (let i = 0; i < 5; i++) scope.activity.log({ action: 'doc.view' });
    expect(logger.stats()).toMatchObject({ queued: 3, dropped: 2 });
    answer({ type: 'service' });
    await logger.flush();
    // The overflow is reported once, after the caller's turn.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(reported.map((error) => error.code)).toEqual(['QUEUE_FULL']);
    expect(logger.stats()).toMatchObject({ written: 3, queued: 0, dropped: 2 });
    await logger.close();
  });

  it('a flush() waiting on an actor() that never answers resolves once close() gives up on it', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store, closeTimeoutMs: 100, onError: () => undefined });
    const scope = createRequestScopeFactory(logger)({ request: request(), actor: () => new Promise(() => undefined) });
    scope.activity.log({ action: 'doc.edit' });
    let flushed = false;
    const flushing = logger.flush().then(() => (flushed = true));
    await logger.close();
    await Promise.race([flushing, new Promise((resolve) => setTimeout(resolve, 1000))]);
    expect(flushed).toBe(true);
    expect(logger.stats()).toMatchObject({ written: 1, queued: 0 });
  });

  it('reading bindings early calls no callback: the actor is still the one the app authenticates later', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    const req: { user?: string } = {};
    let calls = 0;
    const scope = createRequestScopeFactory(logger)({
      request: request(),
      actor: () => (calls++, req.user ? { type: 'user', id: req.user } : undefined),
    });
    // What a log mixin or a tracing middleware reads before authentication.
    expect(scope.activity.bindings.context?.requestId).toBe('r-1');
    expect(scope.activity.bindings.actor).toBeUndefined();
    expect(calls).toBe(0);
    req.user = 'alice';
    scope.activity.log({ action: 'doc.view' });
    expect(scope.activity.bindings.actor).toEqual({ type: 'user', id: 'alice' });
    await logger.flush();
    expect(store.all()[0]!.actor).toEqual({ type: 'user', id: 'alice' });
    await logger.close();
  });

  it('a child with an explicit actor does not wait for the request actor() (nor call it)', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store, closeTimeoutMs: 100, onError: () => undefined });
    let calls = 0;
    const scope = createRequestScopeFactory(logger)({ request: request(), actor: () => (calls++, new Promise(() => undefined)) });
    scope.activity.with({ actor: { type: 'system', id: 'job' } }).log({ action: 'job.run' });
    expect(logger.stats().queued).toBe(1);
    await logger.flush();
    expect(store.all().map((r) => r.actor)).toEqual([{ type: 'system', id: 'job' }]);
    expect(calls).toBe(0);
    await logger.close();
  });
});
