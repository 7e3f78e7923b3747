import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createActivityLogger, isActivityLogError, uuidv7Time, type ActivityLogger } from '../../src/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { controllableStore, errorCollector, waitFor } from '../helpers.js';

describe('log()', () => {
  it('stamps a time-ordered UUIDv7 id and occurredAt, and defaults status to success', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const before = Date.now();
    for (let i = 0; i < 50; i++) activity.log({ action: 'recipe.view', metadata: { i } });
    await activity.flush();
    const records = store.all().reverse(); // oldest first
    expect(records).toHaveLength(50);
    const ids = records.map((record) => record.id);
    expect([...ids].sort()).toEqual(ids);
    for (const record of records) {
      expect(record.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(uuidv7Time(record.id)).toBeGreaterThanOrEqual(before);
      expect(record.occurredAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(record.status).toBe('success');
    }
    await activity.close();
  });

  it('keeps a caller-supplied id and occurredAt, so a retried log() is stored once', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const event = { id: 'order-42-paid', action: 'order.pay', occurredAt: '2026-01-02T03:04:05.678Z' };
    activity.log(event);
    activity.log(event);
    await activity.flush();
    expect(store.all()).toHaveLength(1);
    expect(await activity.get('order-42-paid')).toMatchObject({ occurredAt: new Date('2026-01-02T03:04:05.678Z') });
  });

  it('stores the event as it was when logged, not as the caller mutates it afterwards', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const metadata = { title: 'Soup', tags: ['warm'] };
    const event = { action: 'recipe.create', metadata, actor: { type: 'user', id: 'u1' } };
    activity.log(event);
    metadata.title = 'Changed';
    metadata.tags.push('cold');
    event.actor.id = 'u2';
    await activity.flush();
    expect(store.all()[0]).toMatchObject({ metadata: { title: 'Soup', tags: ['warm'] }, actor: { id: 'u1' } });
  });

  it("never mutates the caller's object (a deeply frozen event is accepted)", async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const event = deepFreeze({
      action: 'user.update',
      actor: { type: 'user', id: 7 },
      metadata: { password: 'hunter2', nested: { token: 'abc' } },
      changes: { before: { name: 'a' }, after: { name: 'b' } },
    });
    const json = JSON.stringify(event);
    expect(() => activity.log(event)).not.toThrow();
    await activity.flush();
    expect(JSON.stringify(event)).toBe(json);
    expect(store.all()[0]?.metadata).toEqual({ password: '[REDACTED]', nested: { token: '[REDACTED]' } });
  });

  it('logs when log() is handed on as a callback, detached from its logger', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const { log } = activity;
    expect(() => log({ action: 'detached.call' })).not.toThrow();
    ['first', 'second'].map((name) => ({ action: `list.${name}` })).forEach(activity.log);
    const child = activity.with({ actor: { type: 'user', id: 'u_1' } });
    const childLog = child.log;
    childLog({ action: 'child.detached' });
    await activity.flush();
    expect(store.all().map((record) => record.action).sort()).toEqual(['child.detached', 'detached.call', 'list.first', 'list.second']);
    expect(store.all().find((record) => record.action === 'child.detached')?.actor).toEqual({ type: 'user', id: 'u_1' });
    await activity.close();
  });

  it("works with every one of the app logger's methods handed on detached (afterAll(activity.close), process.on('SIGTERM', activity.close))", async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const { log, with: bind, flush, stats, query, get, count, summarize, history, close } = activity;
    bind({ actor: { type: 'user', id: 'u_9' } }).log({ action: 'detached.child', target: { type: 'recipe', id: 'r_1' } });
    log({ action: 'detached.root' });
    await flush();
    expect(stats()).toMatchObject({ written: 2 });
    const page = await query({ action: 'detached.*' });
    expect(page.items).toHaveLength(2);
    expect((await get(page.items[0]!.id))?.id).toBe(page.items[0]!.id);
    expect(await count({ actorId: 'u_9' })).toBe(1);
    expect(await summarize({ by: 'action' })).toHaveLength(2);
    expect(Array.isArray((await history({ type: 'recipe', id: 'r_1' })).items)).toBe(true);
    // Every method of the public interface, not only these: each is the logger's own, bound to it.
    const methods = [
      'log', 'with', 'flush', 'close', 'stats', 'report', 'query', 'get', 'history', 'stateAt', 'count',
      'summarize', 'purge', 'runRetention', 'verify', 'erase', 'logInTransaction', 'changes',
    ] as const satisfies readonly (keyof ActivityLogger)[];
    for (const name of methods) expect(Object.hasOwn(activity, name), name).toBe(true);
    // Not listed among the logger's fields (console.log(activity), object spreads).
    expect(Object.keys(activity)).not.toContain('close');
    await close();
    expect(stats()).toMatchObject({ written: 2, queued: 0 });
  });

  it('never throws and never returns a promise, whatever it is given', async () => {
    const { errors, onError } = errorCollector();
    const store = memoryStore();
    const activity = createActivityLogger({ store, onError });
    const circular: Record<string, unknown> = { action: 'graph.save' };
    circular.metadata = { self: circular };
    const throwingGetter = Object.defineProperty({ action: 'getter.read' }, 'metadata', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    const throwingProxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap');
        },
        get() {
          throw new Error('trap');
        },
      },
    );
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const inputs: unknown[] = [
      undefined,
      null,
      'recipe.create',
      42,
      Symbol('x'),
      () => 'fn',
      [],
      circular,
      { action: 'big.int', metadata: { amount: 10n ** 30n } },
      { action: 'fn.field', metadata: { callback: () => 1 } },
      { action: 'huge.string', metadata: { text: 'x'.repeat(10 * 1024 * 1024) } },
      JSON.parse('{"action":"proto.key","metadata":{"__proto__":{"polluted":true}}}'),
      JSON.parse('{"action":"proto.key","__proto__":{"polluted":true}}'),
      { action: 'bad.date', occurredAt: new Date('not a date') },
      throwingGetter,
      throwingProxy,
      { action: 'proxy.meta', metadata: throwingProxy },
      revoked.proxy,
      { action: 'revoked.meta', metadata: revoked.proxy },
      { action: 'error.field', error: throwingProxy },
      Object.create(null),
    ];
    for (const input of inputs) {
      let returned: unknown = 'not called';
      expect(() => {
        returned = activity.log(input as never);
      }).not.toThrow();
      expect(returned).toBeUndefined();
    }
    await activity.flush();
    const stats = activity.stats();
    expect(stats.written + stats.invalid + stats.dropped + stats.failed).toBe(inputs.length);
    expect(stats.queued).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(errors.every((error) => error.code === 'INVALID_EVENT')).toBe(true);

    const byAction = (action: string) => store.all().filter((record) => record.action === action);
    expect(byAction('graph.save')[0]?.metadata).toEqual({ self: { action: 'graph.save', metadata: '[Circular]' } });
    expect(byAction('big.int')[0]?.metadata).toEqual({ amount: (10n ** 30n).toString() });
    expect(byAction('fn.field')[0]?.metadata).toBeUndefined();
    expect(byAction('huge.string')[0]?.metadata?.text).toMatch(/^\[truncated: \d+ bytes\]$/);
    expect(byAction('proxy.meta')[0]?.metadata).toBeUndefined(); // unreadable, reported as invalid
    const proto = byAction('proto.key');
    expect(proto).toHaveLength(1);
    expect(Object.getPrototypeOf(proto[0]!.metadata)).toBe(Object.prototype);
    expect(JSON.stringify(proto[0]!.metadata)).toBe('{"__proto__":{"polluted":true}}');
    expect(byAction('error.field')[0]?.error).toMatchObject({ name: 'NonError' });
    expect(errors.map((error) => error.message)).toContain('occurredAt: must be a valid date');
  });

  it('never stores a marker as an id, a tenant, an actor or a context value: what it cannot read there is refused, naming the field', async () => {
    const { errors, onError } = errorCollector();
    const store = memoryStore();
    const activity = createActivityLogger({ store, onError });
    const throwing = (object: object, key: string) =>
      Object.defineProperty(object, key, {
        enumerable: true,
        get() {
          throw new Error('boom');
        },
      });
    const trap = new Proxy({}, { get: () => { throw new Error('trap'); }, ownKeys: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('trap'); } });
    class Actor { type = 'user'; }
    class ObjectId { constructor(private readonly hex: string) {} toJSON() { return this.hex; } }
    const self: Record<string, unknown> = { type: 'user' };
    self.id = self;
    // Values the types refuse, as a JavaScript caller (or an `any`) passes them.
    const log = (logger: ActivityLogger, event: unknown) => logger.log(event as never);
    const bind = (logger: ActivityLogger, bindings: unknown) => logger.with(bindings as never);
    log(activity, throwing({ action: 'bad.tenant' }, 'tenantId'));
    log(activity, { action: 'bad.tenant', tenantId: trap });
    log(activity, { action: 'bad.actor', actor: throwing({ type: 'user' }, 'id') });
    log(activity, { action: 'bad.actor', actor: throwing(new Actor(), 'id') });
    log(activity, { action: 'bad.actor', actor: trap });
    log(activity, { action: 'bad.target', target: { type: 'doc', id: trap } });
    log(activity, { action: 'bad.context', context: throwing({ ip: '127.0.0.1' }, 'requestId') });
    log(activity, { action: 'bad.actor', actor: self });
    log(activity, { action: 'bad.actor', actor: { type: 'user', id: new Uint8Array(4) } });
    log(activity, { action: 'bad.tenant', tenantId: new Map([['a', 1]]) });
    log(activity, throwing({ action: 'bad.id' }, 'id'));
    log(activity, { action: 'bad.tenant', tenantId: () => 't1' });
    log(activity, { action: 'bad.actor', actor: { type: 'user', id: Symbol('u1') } });
    bind(activity, { tenantId: trap }).log({ action: 'bad.bound' });
    bind(activity, { actor: throwing({ type: 'user' }, 'id') }).with({ context: { route: '/x' } }).log({ action: 'bad.bound' });
    bind(activity, { context: trap }).with({ context: { ip: '127.0.0.1' } }).log({ action: 'bad.bound' });
    bind(activity, throwing({ tenantId: 't1' }, 'metadata')).log({ action: 'bad.bound' });
    // Still stored: an id with toJSON() (an ObjectId), a BigInt, a Date; and an event's own actor over an unreadable bound one.
    log(activity, { action: 'good.ids', actor: { type: 'user', id: 12345678901234567890n }, target: { type: 'doc', id: new ObjectId('65a1b2') }, tenantId: 7n });
    bind(activity, { actor: throwing({ type: 'user' }, 'id') }).log({ action: 'good.own', actor: { type: 'system' } });
    await activity.flush();

    expect(errors.map((error) => [error.code, error.message])).toEqual([
      ['INVALID_EVENT', 'tenantId: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'tenantId: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'actor.id: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'actor.id: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'actor: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'target.id: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'context.requestId: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'actor.id: must be a string or a finite number, got an object'],
      ['INVALID_EVENT', 'actor.id: must be a string or a finite number, got an object'],
      ['INVALID_EVENT', 'tenantId: must be a string or a finite number, got an object'],
      ['INVALID_EVENT', 'id: could not be read (a Proxy or getter threw)'],
      ['INVALID_EVENT', 'tenantId: must be a string or a finite number, got function'],
      ['INVALID_EVENT', 'actor.id: must be a string or a finite number, got symbol'],
      ['INVALID_EVENT', 'tenantId: could not be read (a Proxy or getter threw), in what with() bound'],
      ['INVALID_EVENT', 'actor.id: could not be read (a Proxy or getter threw), in what with() bound'],
      ['INVALID_EVENT', 'context: could not be read (a Proxy or getter threw), in what with() bound'],
      ['INVALID_EVENT', 'metadata: must be a plain object, got "[Unreadable]"'],
    ]);
    expect(store.all().map((record) => [record.action, record.actor, record.target, record.tenantId])).toEqual([
      ['good.own', { type: 'system' }, undefined, undefined],
      ['good.ids', { type: 'user', id: '12345678901234567890' }, { type: 'doc', id: '65a1b2' }, '7'],
    ]);
    expect(activity.stats()).toMatchObject({ written: 2, invalid: 17, queued: 0 });
  });

  it('returns in time proportional to the event, not to the queue length', () => {
    const store = controllableStore();
    store.hold();
    const activity = createActivityLogger({ store, maxQueue: 200_000, batchSize: 500 });
    const event = { action: 'recipe.view', actor: { type: 'user', id: 'u1' }, metadata: { a: 1 } };
    const timeCalls = (count: number) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < count; i++) activity.log(event);
      return Number(process.hrtime.bigint() - start) / count;
    };
    timeCalls(10_000); // warm up
    const early = timeCalls(20_000);
    const late = timeCalls(20_000); // with 30,000+ events already waiting
    // Loose on purpose (this is not a benchmark): a cost that grew with the queue would be far above 5x.
    expect(late).toBeLessThan(early * 5 + 2_000);
    store.release();
  });
});

describe('stats() and drop reports', () => {
  it('has exactly its documented counters', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    activity.log({ action: 'a.b' });
    await activity.flush();
    expect(Object.keys(activity.stats()).sort()).toEqual(['dropped', 'enqueued', 'failed', 'invalid', 'purged', 'queued', 'replayed', 'retries', 'spooled', 'written']);
    await activity.close();
  });

  it('reports a burst of drops with how many it dropped, also when an event is accepted before the report', async () => {
    const reports: string[] = [];
    const activity = createActivityLogger({ store: memoryStore(), maxQueue: 10, batchSize: 5, onError: (error) => reports.push(`${error.code}: ${error.message}`) });
    for (let i = 0; i < 5; i++) activity.log({ action: 'a.b' });
    // Accepted after the drain took a batch, before the drop report fires.
    setTimeout(() => activity.log({ action: 'a.late' }), 0);
    for (let i = 0; i < 10; i++) activity.log({ action: 'a.b' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await activity.flush();
    const dropped = activity.stats().dropped;
    expect(dropped).toBe(5);
    expect(reports.filter((report) => report.startsWith('QUEUE_FULL'))).toEqual([expect.stringContaining(`${dropped} events dropped`)]);
    await activity.close();
  });
});

describe('with()', () => {
  it('binds actor, tenant, context and metadata; the event wins and context and metadata merge', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const request = activity.with({
      actor: { type: 'user', id: 'u1', name: 'Ada' },
      tenantId: 't1',
      context: { requestId: 'req-1', ip: '127.0.0.1' },
      metadata: { source: 'web', plan: 'free' },
    });
    const nested = request.with({ context: { route: '/recipes/:id' }, metadata: { plan: 'pro' } });
    nested.log({ action: 'recipe.update', metadata: { recipeId: 'r1' }, context: { ip: '10.0.0.1' } });
    request.log({ action: 'recipe.view', actor: { type: 'admin', id: 'a1' } });
    activity.log({ action: 'system.tick' });
    await activity.flush();
    const [tick, view, update] = store.all();
    expect(update).toMatchObject({
      actor: { type: 'user', id: 'u1', name: 'Ada' },
      tenantId: 't1',
      context: { requestId: 'req-1', ip: '10.0.0.1', route: '/recipes/:id' },
      metadata: { source: 'web', plan: 'pro', recipeId: 'r1' },
    });
    expect(view?.actor).toEqual({ type: 'admin', id: 'a1' });
    expect(tick?.actor).toBeUndefined();
    expect(tick?.tenantId).toBeUndefined();
    expect(request.bindings.tenantId).toBe('t1');
  });

  it('reports a field it cannot bind, once per name, and still binds the others and logs the events', async () => {
    const store = memoryStore();
    const { errors, onError } = errorCollector();
    const activity = createActivityLogger({ store, onError });
    // A typo repeated per request: reported once.
    for (let i = 0; i < 3; i++) activity.with({ actr: { type: 'user', id: 'u1' }, tenantId: 't1' } as never).log({ action: 'recipe.view' });
    activity.with('u1' as never).log({ action: 'recipe.update' });
    await activity.flush();
    expect(errors.map((error) => [error.code, error.details?.field, error.message])).toEqual([
      ['INVALID_EVENT', 'actr', 'with(): unknown field "actr" (known: actor, tenantId, context, metadata); it was not bound, the others were'],
      ['INVALID_EVENT', 'bindings', 'with(): bindings must be an object of actor, tenantId, context and metadata, got a string; nothing was bound'],
    ]);
    // Nothing is lost: every event is written, with what could be bound.
    expect(store.all().map((record) => [record.action, record.tenantId]).sort()).toEqual([
      ['recipe.update', undefined],
      ['recipe.view', 't1'],
      ['recipe.view', 't1'],
      ['recipe.view', 't1'],
    ]);
  });
});

describe('validation in the flusher', () => {
  it('reports an invalid event with INVALID_EVENT naming the field and the rule, and writes the valid events beside it', async () => {
    const { errors, onError } = errorCollector();
    const store = memoryStore();
    const activity = createActivityLogger({ store, onError });
    activity.log({ action: 'recipe.create' });
    activity.log({ action: 'Recipe Create' });
    activity.log({ action: 'recipe.update', status: 'maybe' as never });
    activity.log({ action: 'recipe.delete', actor: { id: 'u1' } as never });
    activity.log({ action: 'recipe.delete', target: { type: 'recipe' } as never });
    activity.log({ action: 'recipe.delete', user: 'u1' } as never);
    activity.log({ action: 'a'.repeat(129) });
    activity.log({ action: 'recipe.view' });
    await activity.flush();
    expect(store.all().map((record) => record.action)).toEqual(['recipe.view', 'recipe.create']);
    expect(errors.map((error) => error.code)).toEqual(Array(6).fill('INVALID_EVENT'));
    expect(errors.map((error) => error.message)).toEqual([
      'action: must be dotted lower-case like "recipe.update", got "Recipe Create"',
      'status: must be one of success, failure, denied, got "maybe"',
      'actor.type: must be a string, got undefined',
      'target.id: must be a string or a finite number, got undefined',
      expect.stringMatching(/^unknown field "user"/),
      'action: must be at most 128 characters',
    ]);
    expect(errors[0]?.details).toMatchObject({ action: 'Recipe Create' });
    expect(activity.stats()).toMatchObject({ written: 2, invalid: 6 });
  });

  it('stores numeric actor, target and tenant ids as strings', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    activity.log({ action: 'recipe.view', actor: { type: 'user', id: 17 }, target: { type: 'recipe', id: 3 }, tenantId: 9 });
    await activity.flush();
    expect(store.all()[0]).toMatchObject({ actor: { id: '17' }, target: { id: '3' }, tenantId: '9' });
  });

  it('stores changes as the changed fields only, each with before and after', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    activity.log({
      action: 'recipe.update',
      changes: {
        before: { title: 'Soup', servings: 2, tags: ['a'], slug: 'soup', removed: true },
        after: { title: 'Soup', servings: 4, tags: ['a', 'b'], slug: 'soup', added: 'x' },
      },
    });
    activity.log({ action: 'recipe.update', changes: { before: { a: 1 }, after: { a: 1 } } });
    await activity.flush();
    const [unchanged, changed] = store.all();
    expect(changed?.changes).toEqual({
      servings: { before: 2, after: 4 },
      tags: { before: ['a'], after: ['a', 'b'] },
      removed: { before: true, after: null },
      added: { before: null, after: 'x' },
    });
    expect(unchanged?.changes).toBeUndefined();
  });

  it('normalises anything thrown to { name, message, code }, with the stack only when configured', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const withCode = Object.assign(new TypeError('bad input'), { code: 'E_BAD' });
    activity.log({ action: 'a.one', status: 'failure', error: withCode });
    activity.log({ action: 'a.two', status: 'failure', error: 'plain string' });
    activity.log({ action: 'a.three', status: 'failure', error: { message: 'object', code: 42 } });
    activity.log({ action: 'a.four', status: 'failure', error: undefined });
    activity.log({ action: 'a.five', status: 'failure', error: null });
    await activity.flush();
    const byAction = Object.fromEntries(store.all().map((record) => [record.action, record.error]));
    expect(byAction['a.one']).toEqual({ name: 'TypeError', message: 'bad input', code: 'E_BAD' });
    expect(byAction['a.two']).toEqual({ name: 'Error', message: 'plain string' });
    expect(byAction['a.three']).toEqual({ name: 'NonError', message: 'object', code: '42' });
    expect(byAction['a.four']).toBeUndefined();
    expect(byAction['a.five']).toEqual({ name: 'NonError', message: 'null' });

    const withStacks = createActivityLogger({ store: memoryStore(), includeStack: true });
    withStacks.log({ action: 'a.six', error: new Error('deep') });
    await withStacks.flush();
    const [record] = (withStacks.store as ReturnType<typeof memoryStore>).all();
    expect(record?.error?.stack).toContain('Error: deep');
  });

  it('checks catalog metadata at run time and keeps what the schema outputs', async () => {
    const { errors, onError } = errorCollector();
    const store = memoryStore();
    const activity = createActivityLogger({
      store,
      onError,
      catalog: { 'recipe.create': z.object({ title: z.string().min(1), servings: z.number().int().default(2) }) },
    });
    activity.log({ action: 'recipe.create', metadata: { title: 'Soup' } });
    activity.log({ action: 'recipe.create', metadata: { title: 5 } } as never);
    await activity.flush();
    expect(store.all().map((record) => record.metadata)).toEqual([{ title: 'Soup', servings: 2 }]);
    expect(errors[0]?.message).toMatch(/^metadata\.title: /);
  });
});

describe('batching and the flush timer', () => {
  it('flushes as soon as batchSize events wait, in batches of at most batchSize', async () => {
    const store = controllableStore();
    const activity = createActivityLogger({ store, batchSize: 10, flushIntervalMs: 60_000 });
    for (let i = 0; i < 25; i++) activity.log({ action: 'x.y', metadata: { i } });
    // Well before the 60 s interval: a full batch starts a drain, which takes everything waiting.
    await waitFor(() => store.size === 25, 2000);
    expect(store.batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
  });

  it('flushes every flushIntervalMs when fewer than batchSize events wait', async () => {
    const store = controllableStore();
    const activity = createActivityLogger({ store, batchSize: 100, flushIntervalMs: 30 });
    activity.log({ action: 'x.y' });
    expect(store.batches).toHaveLength(0); // not inside log()
    await waitFor(() => store.size === 1, 2000);
    activity.log({ action: 'x.z' });
    await waitFor(() => store.size === 2, 2000);
    expect(store.batches.map((batch) => batch.length)).toEqual([1, 1]);
  });

  it('does not flush inside log(): the caller never waits for the store', () => {
    const store = controllableStore();
    const activity = createActivityLogger({ store, batchSize: 1 });
    activity.log({ action: 'x.y' });
    expect(store.batches).toHaveLength(0);
  });

  it('does not keep the process alive with its flush timer', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `
      import { createActivityLogger } from './src/index.ts';
      import { memoryStore } from './adapters/storage/memory.ts';
      const activity = createActivityLogger({ store: memoryStore(), flushIntervalMs: 60000 });
      activity.log({ action: 'x.y' });
      globalThis.started = Date.now();
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(child.status, child.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('the bounded queue', () => {
  it('drops the newest events when full (drop-newest), counts each, and reports once per burst', async () => {
    const { errors, onError } = errorCollector();
    const store = controllableStore();
    store.hold();
    const activity = createActivityLogger({ store, onError, maxQueue: 100, batchSize: 50 });
    for (let i = 0; i < 130; i++) activity.log({ action: 'x.y', metadata: { i } });
    expect(activity.stats()).toMatchObject({ dropped: 30, enqueued: 100, queued: 100 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors.filter((error) => error.code === 'QUEUE_FULL')).toHaveLength(1);
    expect(errors[0]?.details).toMatchObject({ dropped: 30 });
    store.release();
    await activity.flush();
    const kept = store.all().map((record) => record.metadata?.i);
    expect(kept).toHaveLength(100);
    expect(Math.max(...(kept as number[]))).toBe(99);
    // A second burst is reported again.
    store.hold();
    for (let i = 0; i < 130; i++) activity.log({ action: 'x.y' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors.filter((error) => error.code === 'QUEUE_FULL')).toHaveLength(2);
    store.release();
    await activity.flush();
    const stats = activity.stats();
    expect(stats.written + stats.dropped).toBe(260);
  });

  it('drops the oldest waiting events when full (drop-oldest)', async () => {
    const store = controllableStore();
    store.hold();
    const activity = createActivityLogger({ store, maxQueue: 100, batchSize: 10, overflow: 'drop-oldest', onError: () => {} });
    for (let i = 0; i < 10; i++) activity.log({ action: 'x.y', metadata: { i } });
    await waitFor(() => store.batches.length === 1); // the first 10 are in flight, held by the store
    for (let i = 10; i < 150; i++) activity.log({ action: 'x.y', metadata: { i } });
    expect(activity.stats()).toMatchObject({ dropped: 50, queued: 100 });
    store.release();
    await activity.flush();
    const kept = (store.all().map((record) => record.metadata?.i) as number[]).sort((a, b) => a - b);
    expect(kept).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 90 }, (_, i) => 60 + i)]);
  });
});

describe('retries', () => {
  it('retries a failed insert with backoff, keeps order, and never duplicates', async () => {
    const store = controllableStore();
    store.failNext(2);
    const activity = createActivityLogger({ store, batchSize: 5, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    for (let i = 0; i < 12; i++) activity.log({ action: 'x.y', metadata: { i } });
    await activity.flush();
    const stats = activity.stats();
    expect(stats).toMatchObject({ written: 12, retries: 2, failed: 0, queued: 0 });
    expect(store.all().map((record) => record.metadata?.i).reverse()).toEqual([...Array(12).keys()]);
    const firstIds = store.batches[0]!.map((record) => record.id);
    expect(store.batches[2]!.map((record) => record.id)).toEqual(firstIds); // the same batch, resent
  });

  it('reports STORE_FAILED with the cause after the last attempt and counts the batch as failed', async () => {
    const { errors, onError } = errorCollector();
    const store = controllableStore();
    store.failAlways(true);
    const activity = createActivityLogger({ store, onError, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    for (let i = 0; i < 7; i++) activity.log({ action: 'x.y' });
    await expect(activity.flush()).resolves.toBeUndefined();
    expect(activity.stats()).toMatchObject({ failed: 7, retries: 2, written: 0, queued: 0 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'STORE_FAILED', details: { count: 7, attempts: 3 } });
    expect((errors[0]?.cause as Error).message).toBe('store unavailable (injected)');
    expect(activity.stats().lastError).toBe(errors[0]);
  });
});

describe('flush() and close()', () => {
  it('flush() resolves once everything logged before it is stored', async () => {
    const store = controllableStore();
    store.hold();
    const activity = createActivityLogger({ store, batchSize: 3 });
    for (let i = 0; i < 5; i++) activity.log({ action: 'x.y' });
    let flushed = false;
    const flushing = activity.flush().then(() => (flushed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(flushed).toBe(false);
    store.release();
    await flushing;
    expect(store.size).toBe(5);
  });

  it('close() drains, closes the store, and drops (and reports) later log() calls', async () => {
    const { errors, onError } = errorCollector();
    const store = controllableStore();
    const activity = createActivityLogger({ store, onError });
    activity.log({ action: 'x.y' });
    const closing = activity.close();
    activity.log({ action: 'x.after' });
    activity.log({ action: 'x.after' });
    await closing;
    await activity.close(); // idempotent
    expect(store.closed).toBe(true);
    expect(store.size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(activity.stats()).toMatchObject({ written: 1, dropped: 2 });
    expect(errors.map((error) => error.code)).toEqual(['LOGGER_CLOSED']);
    expect(errors[0]?.details).toMatchObject({ dropped: 2 });
  });

  it('close() resolves even when the store keeps failing', async () => {
    const { errors, onError } = errorCollector();
    const store = controllableStore();
    store.failAlways(true);
    const activity = createActivityLogger({ store, onError, retry: { maxAttempts: 2, baseDelayMs: 1 } });
    activity.log({ action: 'x.y' });
    await expect(activity.close()).resolves.toBeUndefined();
    expect(activity.stats().failed).toBe(1);
    expect(errors.some((error) => isActivityLogError(error, 'STORE_FAILED'))).toBe(true);
  });

  it('close() reports a store whose close() rejects, as it reports one that throws', async () => {
    const { errors, onError } = errorCollector();
    const memory = memoryStore();
    const rejecting = { ...memory, name: 'rejecting', close: async () => Promise.reject(new Error('pool end failed')) };
    const throwing = { ...memory, name: 'throwing', close: () => { throw new Error('pool end failed'); } };
    for (const store of [rejecting, throwing]) {
      const activity = createActivityLogger({ store, onError });
      activity.log({ action: 'x.y' });
      await expect(activity.close()).resolves.toBeUndefined();
      expect(activity.stats().written).toBe(1);
    }
    expect(errors.map((error) => [error.code, error.message, (error.cause as Error).message])).toEqual([
      ['STORE_FAILED', 'store "rejecting" failed to close', 'pool end failed'],
      ['STORE_FAILED', 'store "throwing" failed to close', 'pool end failed'],
    ]);
  });
});

describe('onError', () => {
  it('defaults to a rate-limited console.warn', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const activity = createActivityLogger({ store: memoryStore() });
      for (let i = 0; i < 50; i++) activity.log({ action: 'Bad Action' });
      await activity.flush();
      expect(warn.mock.calls.length).toBe(10);
      expect(String(warn.mock.calls[0]?.[0])).toContain('INVALID_EVENT');
    } finally {
      warn.mockRestore();
    }
  });

  it('contains an onError that throws', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const store = memoryStore();
      const activity = createActivityLogger({
        store,
        onError() {
          throw new Error('handler broke');
        },
      });
      activity.log({ action: 'Bad' });
      activity.log({ action: 'good.one' });
      await expect(activity.flush()).resolves.toBeUndefined();
      expect(store.size).toBe(1);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('stats()', () => {
  it('counts enqueued, written, invalid, dropped, failed, retries and queued', async () => {
    const activity = createActivityLogger({ store: memoryStore(), onError: () => {} });
    activity.log({ action: 'a.b' });
    activity.log({ action: 'A' });
    expect(activity.stats()).toEqual({ enqueued: 2, written: 0, invalid: 0, dropped: 0, failed: 0, retries: 0, spooled: 0, replayed: 0, purged: 0, queued: 2 });
    await activity.flush();
    expect(activity.stats()).toMatchObject({ enqueued: 2, written: 1, invalid: 1, queued: 0 });
  });
});

describe('options and queries are validated at the boundary', () => {
  it('refuses bad options with INVALID_OPTIONS naming the option', () => {
    expect(() => createActivityLogger({} as never)).toThrow(/^store: must be an activity store/);
    expect(() => createActivityLogger({ store: memoryStore(), batchSize: 0 })).toThrow('batchSize: must be a whole number from 1 to 10000, got 0');
    expect(() => createActivityLogger({ store: memoryStore(), overflow: 'drop-all' as never })).toThrow(/^overflow: /);
    expect(() => createActivityLogger({ store: memoryStore(), catalog: { 'a.b': {} as never } })).toThrow('catalog.a.b: must be a zod schema');
  });

  it('refuses an option it does not know, naming it and the nearest one, at every level (a typo would turn nothing on)', () => {
    const create = (options: Record<string, unknown>) => () => createActivityLogger({ store: memoryStore(), ...options } as never);
    expect(create({ batchsize: 10 })).toThrow(/^createActivityLogger: unknown option "batchsize" \(did you mean "batchSize"\?\); the options are store, catalog, /);
    expect(create({ bogus: 1 })).toThrow(/^createActivityLogger: unknown option "bogus"; the options are /);
    expect(create({ retry: { maxAtempts: 2 } })).toThrow(/^retry: unknown option "maxAtempts" \(did you mean "maxAttempts"\?\)/);
    expect(create({ spool: { fileName: 'spool.db' } })).toThrow(/^spool: unknown option "fileName" \(did you mean "filename"\?\)/);
    expect(create({ retention: { dayz: 30 } })).toThrow(/retention/);
    expect(create({ integrity: { key: 'an application secret of 32 bytes', personl: ['email'] } })).toThrow(
      /^integrity: unknown option "personl" \(did you mean "personal"\?\); the options are key, keyId, keys, personal, /,
    );
    expect(create({ integrity: { key: 'an application secret of 32 bytes', personl: ['email'] } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    // Every documented option is known.
    expect(
      create({
        batchSize: 10,
        flushIntervalMs: 50,
        maxQueue: 100,
        overflow: 'drop-oldest',
        retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        onError: () => undefined,
        redact: false,
        maxMetadataBytes: 4096,
        includeStack: true,
        spool: false,
        closeTimeoutMs: 100,
        integrity: { key: 'an application secret of 32 bytes', keyId: 'k2', keys: {}, personal: [], checkpointRecords: 10, checkpointMs: 1000, onCheckpoint: () => undefined },
      }),
    ).not.toThrow();
  });

  it('refuses an option of the wrong type, naming it: redact, its members, retry and includeStack', async () => {
    const create = (options: Record<string, unknown>) => () => createActivityLogger({ store: memoryStore(), ...options } as never);
    const refused = (options: Record<string, unknown>, message: string) =>
      expect(create(options)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message }));
    const shape = `must be false, an array of keys and paths (['taxId', 'user.ssn']), or { paths, replaceDefaults, values, censor }`;
    refused({ redact: 'ssn' }, `redact: ${shape}, got "ssn"`);
    refused({ redact: true }, `redact: ${shape}, got true`);
    refused({ redact: null }, `redact: ${shape}, got null`);
    refused({ redact: [5] }, `redact.0: must be a key or a dotted path ('taxId', 'user.ssn', '*.pin'), got 5`);
    refused({ redact: ['ssn', '.'] }, `redact.1: must be a key or a dotted path ('taxId', 'user.ssn', '*.pin'), got "."`);
    refused({ redact: { paths: 'ssn' } }, 'redact.paths: must be an array of keys and paths, got "ssn"');
    refused({ redact: { paths: [null] } }, `redact.paths.0: must be a key or a dotted path ('taxId', 'user.ssn', '*.pin'), got null`);
    refused({ redact: { values: 'no' } }, 'redact.values: must be true or false, got "no"');
    refused({ redact: { replaceDefaults: 1 } }, 'redact.replaceDefaults: must be true or false, got 1');
    refused({ redact: { censor: 0 } }, 'redact.censor: must be a string, got 0');
    refused({ retry: 3 }, 'retry: must be an object { maxAttempts, baseDelayMs, maxDelayMs }, got 3');
    refused({ includeStack: 'yes' }, 'includeStack: must be true or false, got "yes"');
    // What the README shows is still taken, and does what it says.
    for (const redact of [['taxId'], ['user.ssn', '*.badge', '**.dob'], { paths: ['taxId'], replaceDefaults: true, censor: '***' }, { values: false }, false]) {
      expect(create({ redact })).not.toThrow();
    }
    const store = memoryStore();
    const activity = createActivityLogger({ store, redact: { paths: ['taxId'], values: false } });
    activity.log({ action: 'a.b', metadata: { taxId: 'x', password: 'y', note: 'Bearer abc' } });
    await activity.close();
    expect(store.all()[0]?.metadata).toEqual({ taxId: '[REDACTED]', password: '[REDACTED]', note: 'Bearer abc' });
  });

  it('rejects a bad query with INVALID_QUERY naming each field', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    await expect(activity.query({ limit: 100_000 })).rejects.toThrow('invalid query: limit: must be at most 500');
    await expect(activity.query({ cursor: 'nonsense' })).rejects.toThrow(/^cursor: is not a cursor this library issued/);
    await expect(activity.query({ from: new Date(2000), to: new Date(1000) })).rejects.toThrow('invalid query: from: must not be after "to"');
    await expect(activity.query({ status: 'nope' as never, actorType: '' })).rejects.toThrow(
      'invalid query: actorType: must not be empty; status: must be one of success, failure, denied, got "nope"',
    );
  });

  it('rejects logInTransaction on a store without transactions', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    await expect(activity.logInTransaction({}, { action: 'a.b' })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
