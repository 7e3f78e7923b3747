import { afterAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
import { createRequestScopeFactory, requestScopeOf, type ActivityRequestScope } from '../../src/http/scope.js';
import { createActivityLogger } from '../../src/index.js';

describe('requestScopeOf', () => {
  const logger = createActivityLogger({ store: memoryStore() });
  afterAll(() => logger.close());
  const open = createRequestScopeFactory(logger);
  const openFor = (frameworkRequest: object) =>
    open({ request: new HeaderRecordRequest('GET', {}), ip: '127.0.0.1', route: '/recipes/:id', frameworkRequest }) as ActivityRequestScope;

  it("finds a request's scope from the logger it bound, for that request only", () => {
    const req = {};
    const scope = openFor(req);
    expect(requestScopeOf(scope.activity, req)).toBe(scope);
    expect(requestScopeOf(scope.activity, {})).toBeUndefined();
    expect(requestScopeOf(openFor({}).activity, req)).toBeUndefined();
  });

  it('finds it from a child of the request logger made with with(), at any depth, for that request only', () => {
    const req = {};
    const scope = openFor(req);
    const child = scope.activity.with({ metadata: { plan: 'pro' } });
    const grandchild = child.with({ metadata: { depth: 2 } });
    expect(requestScopeOf(child, req)).toBe(scope);
    expect(requestScopeOf(grandchild, req)).toBe(scope);
    expect(requestScopeOf(child, {})).toBeUndefined();
    // The children still log with the request's bindings merged with their own.
    expect(grandchild.bindings).toMatchObject({ context: { route: '/recipes/:id' }, metadata: { plan: 'pro', depth: 2 } });
  });

  it('finds nothing from any other logger or value', () => {
    const req = {};
    const scope = openFor(req);
    expect(requestScopeOf(scope, req)).toBeUndefined();
    expect(requestScopeOf(logger, req)).toBeUndefined();
    expect(requestScopeOf(logger.with({ actor: { type: 'system' } }), req)).toBeUndefined();
    for (const value of [undefined, null, 42, 'activity', {}, { scope, frameworkRequest: req }]) expect(requestScopeOf(value, req)).toBeUndefined();
  });
});

describe('createRequestScopeFactory options', () => {
  const logger = createActivityLogger({ store: memoryStore() });
  afterAll(() => logger.close());

  it('refuses a requestIdHeader that is not a header name, and a non-boolean asyncContext, naming the option', () => {
    for (const requestIdHeader of ['has space', '', 'x-id:', 'x'.repeat(101), 42]) {
      expect(() => createRequestScopeFactory(logger, { requestIdHeader: requestIdHeader as string })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('requestIdHeader must be an HTTP header name') }),
      );
    }
    expect(() => createRequestScopeFactory(logger, { asyncContext: 1 as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('asyncContext must be true or false, got 1') }),
    );
    expect(() => createRequestScopeFactory(logger, { requestIdHeader: 'X-Correlation-Id', asyncContext: false })).not.toThrow();
    expect(() => createRequestScopeFactory(logger, { requestIdHeader: 'x'.repeat(100) })).not.toThrow();
  });
});

describe('the request logger and the late route', () => {
  it('writes the route read when an event is logged, unless a child bound a route of its own', async () => {
    const store = memoryStore();
    const logger = createActivityLogger({ store });
    let route: string | undefined;
    const scope = createRequestScopeFactory(logger)({ request: new HeaderRecordRequest('GET', {}), route: () => route }) as ActivityRequestScope;
    route = '/recipes/:id';
    scope.activity.log({ action: 'from.request' });
    scope.activity.with({ context: { route: '/admin/logs/*' } }).log({ action: 'from.child' });
    await logger.flush();
    const routeOf = (action: string) => store.all().find((record) => record.action === action)?.context?.route;
    expect(routeOf('from.request')).toBe('/recipes/:id');
    expect(routeOf('from.child')).toBe('/admin/logs/*');
    await logger.close();
  });
});
