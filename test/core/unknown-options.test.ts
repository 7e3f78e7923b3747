import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createActivityLogger, installShutdownHandlers, type ActivityLogger } from '../../src/index.js';
import { createActivityLogsHandler, createRequestScopeFactory } from '../../src/http/index.js';
import { createRedactor, parseActivityFilter, parseActivityQuery, parsePurgeOptions, parseSummaryQuery } from '../../src/for-store-authors.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { captureChanges, kyselyStore, removeChangeCapture } from '../../adapters/storage/kysely.js';
import { activityLogsRouter, activityMiddleware as expressMiddleware } from '../../adapters/frameworks/express.js';
import { activityLogsPlugin, activityPlugin } from '../../adapters/frameworks/fastify.js';
import { activityLogsApp, activityMiddleware as honoMiddleware } from '../../adapters/frameworks/hono.js';
import { createTestLogger, describeActivityStore } from '../../adapters/testing/index.js';
import { MYSQL_URL, POSTGRES_URL } from '../stores/databases.js';

/**
 * Every public function that takes an options object refuses a key it does not know, in the
 * same words: where, the key, the nearest known name (README, "Unknown options"). A misspelt
 * option silently ignored would leave off what it meant to turn on.
 */

const dir = mkdtempSync(join(tmpdir(), 'activity-log-unknown-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The refusal of `key` by `where`, suggesting `near`. */
function refusal(where: string, key: string, near: string, code = 'INVALID_OPTIONS') {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return expect.objectContaining({
    code,
    message: expect.stringMatching(new RegExp(`^${escape(where)}: unknown option "${escape(key)}" \\(did you mean "${escape(near)}"\\?\\); the options are `)),
  });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

const quiet = { onError: () => undefined };
const logger = () => createActivityLogger({ store: memoryStore(), ...quiet });
const admin = { authorize: () => true };

describe('createActivityLogger and its nested options', () => {
  const create = (options: object) => () => createActivityLogger({ store: memoryStore(), ...quiet, ...options } as never);

  it.each([
    ['createActivityLogger', { batchsize: 10 }, 'batchsize', 'batchSize'],
    ['retry', { retry: { maxAtempts: 2 } }, 'maxAtempts', 'maxAttempts'],
    ['spool', { spool: { fileName: join(dir, 'spool.db') } }, 'fileName', 'filename'],
    ['integrity', { integrity: { key: 'k'.repeat(32), personl: ['email'] } }, 'personl', 'personal'],
    ['redact', { redact: { censr: '***' } }, 'censr', 'censor'],
    ['retention', { retention: { dayz: 30 } }, 'dayz', 'days'],
    ['retention.rules.1', { retention: { rules: [{ action: 'a.*', days: 1 }, { tenant: 't1', days: 2 }] } }, 'tenant', 'tenantId'],
  ])('%s', async (where, options, key, near) => {
    expect(thrown(create(options))).toEqual(refusal(where, key, near));
  });

  it('takes every option spelt right', async () => {
    const activity = createActivityLogger({
      store: memoryStore(),
      ...quiet,
      batchSize: 10,
      retry: { maxAttempts: 2 },
      redact: { censor: '***', paths: ['pin'] },
      retention: { days: 30, rules: [{ tenantId: 't1', days: 60 }] },
      integrity: { key: 'k'.repeat(32), personal: ['email'] },
    });
    activity.log({ action: 'recipe.create', metadata: { pin: '1234' } });
    await activity.flush();
    expect((await activity.query()).items[0]?.metadata).toEqual({ pin: '***' });
    await activity.close();
  });

  it('createRedactor (activity-log/store) refuses as the logger does', () => {
    expect(thrown(() => createRedactor({ path: ['pin'] } as never))).toEqual(refusal('redact', 'path', 'paths'));
    expect(createRedactor({ paths: ['pin'] }).redact({ pin: 1 })).toEqual({ pin: '[REDACTED]' });
  });
});

describe('the logger’s queries', () => {
  const activity = logger();
  afterAll(() => activity.close());

  it.each([
    ['query', () => activity.query({ actorid: 'u1' } as never), 'actorid', 'actorId'],
    ['count', () => activity.count({ tenantID: 't1' } as never), 'tenantID', 'tenantId'],
    ['summarize', () => activity.summarize({ by: 'action', actionn: 'a.b' } as never), 'actionn', 'action'],
    ['purge', () => activity.purge({ befor: new Date() } as never), 'befor', 'before'],
    ['history', () => activity.history({ type: 'recipe', id: 1 }, { limt: 5 } as never), 'limt', 'limit'],
    ['verify', () => createActivityLogger({ store: memoryStore(), ...quiet, integrity: { key: 'k'.repeat(32) } }).verify({ chian: 'c' } as never), 'chian', 'chain'],
  ])('%s', async (where, call, key, near) => {
    await expect(call()).rejects.toEqual(refusal(where, key, near, 'INVALID_QUERY'));
  });

  it('the parsers of activity-log/store refuse as the logger does', () => {
    expect(thrown(() => parseActivityQuery({ limits: 5 } as never))).toEqual(refusal('query', 'limits', 'limit', 'INVALID_QUERY'));
    expect(thrown(() => parseActivityFilter({ acton: 'a.b' } as never))).toEqual(refusal('count', 'acton', 'action', 'INVALID_QUERY'));
    expect(thrown(() => parseSummaryQuery({ by: 'action', tz: 'UTC', form: new Date() } as never))).toEqual(refusal('summarize', 'form', 'from', 'INVALID_QUERY'));
    expect(thrown(() => parsePurgeOptions({ before: new Date(), limits: 1 } as never))).toEqual(refusal('purge', 'limits', 'limit', 'INVALID_QUERY'));
  });

  it('take every option spelt right', async () => {
    activity.log({ action: 'recipe.update', actor: { type: 'user', id: 'u1' }, target: { type: 'recipe', id: 1 }, changes: { before: { title: 'a' }, after: { title: 'b' } } });
    await activity.flush();
    expect((await activity.query({ actorId: 'u1', limit: 5 })).items).toHaveLength(1);
    expect(await activity.count({ action: 'recipe.update' })).toBe(1);
    expect(await activity.summarize({ by: 'action', action: 'recipe.*' })).toEqual([{ key: 'recipe.update', count: 1 }]);
    expect((await activity.history({ type: 'recipe', id: 1 }, { limit: 5 })).items).toHaveLength(1);
    expect(await activity.purge({ before: new Date(0), limit: 10 })).toBe(0);
  });
});

describe('fields inside a validated value: named with the nearest field they allow', () => {
  const activity = logger();

  it.each([
    ['history target', () => activity.history({ type: 'recipe', id: 1, tpye: 'x' } as never), 'invalid history query: target: unknown field "tpye" (did you mean "type"?)'],
    ['stateAt target', () => activity.stateAt({ type: 'recipe', idd: 1, id: 1 } as never, new Date()), 'invalid stateAt: target: unknown field "idd" (did you mean "id"?)'],
    [
      'purge except entry',
      () => activity.purge({ before: new Date(), except: [{ action: 'a.*' }, { acton: 'b.*' }] } as never),
      'invalid purge options: except.1: unknown field "acton" (did you mean "action"?)',
    ],
    [
      'two fields, one far from any',
      () => activity.history({ type: 'recipe', id: 1, tpye: 'x', zzzzzz: 1 } as never),
      'invalid history query: target: unknown fields "tpye" (did you mean "type"?), "zzzzzz"',
    ],
  ])('%s', async (_name, call, message) => {
    const error = await (call() as Promise<unknown>).then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'INVALID_QUERY', message });
    // The admin API answers with these issues: the same words, field by field.
    const { issues } = (error as { details: { issues: { path: string[]; message: string }[] } }).details;
    expect(message).toContain(`${issues[0]!.path.join('.')}: ${issues[0]!.message}`);
  });

  it('a record\'s own target, name and all, still reads its history', async () => {
    activity.log({ action: 'recipe.update', target: { type: 'recipe', id: 7, name: 'Soup' }, changes: { before: { title: 'a' }, after: { title: 'b' } } });
    await activity.flush();
    const [record] = (await activity.query({ targetId: '7' })).items;
    expect((await activity.history(record!.target!)).items.map((item) => item.id)).toEqual([record!.id]);
  });

  it('an event\'s nested field, and a catalog schema\'s (zod 4 and zod 3)', async () => {
    const { z } = await import('zod');
    const z3 = (await import('zod/v3')).z;
    const errors: Error[] = [];
    const cataloged = createActivityLogger({
      store: memoryStore(),
      onError: (error) => errors.push(error),
      catalog: { 'recipe.rate': z.strictObject({ stars: z.number(), comment: z.string().optional() }), 'recipe.share': z3.object({ channel: z3.string() }).strict() },
    });
    cataloged.log({ action: 'recipe.view', actor: { type: 'user', id: 'u1', nmae: 'Ada' } } as never);
    cataloged.log({ action: 'recipe.rate', metadata: { stars: 5, coment: 'good' } } as never);
    cataloged.log({ action: 'recipe.share', metadata: { chanel: 'mail' } } as never);
    await cataloged.close();
    expect(errors.map((error) => error.message)).toEqual([
      'actor: unknown field "nmae" (did you mean "name"?)',
      'metadata: unknown field "coment" (did you mean "comment"?)',
      // zod 3's own words for the missing field, ours for the unknown one.
      'metadata.channel: Required; metadata: unknown field "chanel" (did you mean "channel"?)',
    ]);
  });
});

describe('the nearest-field suggestion is a courtesy: never at the cost of the message', () => {
  /** The messages a catalog schema's refusal of `metadata` gives, through a real logger. */
  async function refusals(schema: unknown, metadata: Record<string, unknown>): Promise<string[]> {
    const errors: Error[] = [];
    const cataloged = createActivityLogger({ store: memoryStore(), onError: (error) => errors.push(error), catalog: { 'order.place': schema as never } });
    cataloged.log({ action: 'order.place', metadata } as never);
    await cataloged.close();
    return errors.map((error) => error.message);
  }

  it('found inside arrays, tuples, records and catchalls, zod 4 and zod 3 alike', async () => {
    const { z } = await import('zod');
    const z3 = (await import('zod/v3')).z;
    const line = z.strictObject({ quantity: z.number().optional() });
    const line3 = z3.object({ quantity: z3.number().optional() }).strict();
    const bad = { quantty: 1 };
    expect(await refusals(z.object({ items: z.array(line) }), { items: [bad] })).toEqual(['metadata.items.0: unknown field "quantty" (did you mean "quantity"?)']);
    expect(await refusals(z3.object({ items: z3.array(line3) }), { items: [bad] })).toEqual(['metadata.items.0: unknown field "quantty" (did you mean "quantity"?)']);
    expect(await refusals(z.object({ pair: z.tuple([z.string(), line]) }), { pair: ['a', bad] })).toEqual(['metadata.pair.1: unknown field "quantty" (did you mean "quantity"?)']);
    expect(await refusals(z.object({ byId: z.record(z.string(), line) }), { byId: { 42: bad } })).toEqual(['metadata.byId.42: unknown field "quantty" (did you mean "quantity"?)']);
    expect(await refusals(z3.object({}).catchall(line3), { extra: bad })).toEqual(['metadata.extra: unknown field "quantty" (did you mean "quantity"?)']);
    expect(await refusals(z3.object({ items: z3.array(line3) }).brand('Order'), { items: [bad] })).toEqual(['metadata.items.0: unknown field "quantty" (did you mean "quantity"?)']);
  });

  it('a schema that throws when looked into, or reports keys of its own kind, still gets its message', async () => {
    const { z } = await import('zod');
    const real = z.strictObject({ quantity: z.number().optional() });
    // Another library's schema: a safeParse, and an object whose every other property throws.
    const opaque = new Proxy(
      { safeParse: (data: unknown) => real.safeParse(data) },
      { get: (target, key) => (key === 'safeParse' ? target.safeParse : (() => { throw new Error(`no ${String(key)}`); })()) },
    );
    expect(await refusals(opaque, { quantty: 1 })).toEqual(['metadata: unknown field "quantty"']);
    const failing = (issue: object) => ({ safeParse: () => ({ success: false, error: { issues: [issue] } }), shape: { quantity: {} } });
    expect(await refusals(failing({ code: 'unrecognized_keys', path: [], keys: [42], message: 'odd' }), {})).toEqual(['metadata: unknown field 42']);
    expect(await refusals(failing({ code: 'unrecognized_keys', path: [], keys: 'quantty', message: 'not a list' }), {})).toEqual(['metadata: not a list']);
  });

  it('a key far longer than any field name gets no suggestion, and the message names it', async () => {
    const { z } = await import('zod');
    const long = 'x'.repeat(100_000);
    const [message] = await refusals(z.strictObject({ quantity: z.number().optional() }), { [long]: 1 });
    expect(message).toBe(`metadata: unknown field "${long}"`);
  });

  it('a history target\'s name is accepted whatever it holds: it is not part of the filter', async () => {
    const activity = logger();
    for (const name of [null, 42, 'Soup']) await expect(activity.history({ type: 'recipe', id: 1, name })).resolves.toEqual({ items: [] });
  });
});

describe('stores', () => {
  it('memoryStore', async () => {
    expect(thrown(() => memoryStore({ failinsert: () => false } as never))).toEqual(refusal('memoryStore', 'failinsert', 'failInsert'));
    expect(memoryStore({ failInsert: () => false }).name).toBe('memory');
  });

  it('sqliteStore, on a real file', async () => {
    const filename = join(dir, 'activity.db');
    expect(thrown(() => sqliteStore({ filename, tablename: 'logs' } as never))).toEqual(refusal('sqliteStore', 'tablename', 'tableName'));
    expect(thrown(() => sqliteStore({ filename, busyTimeout: 100 } as never))).toEqual(refusal('sqliteStore', 'busyTimeout', 'busyTimeoutMs'));
    const activity = createActivityLogger({ store: sqliteStore({ filename, tableName: 'logs', busyTimeoutMs: 100, writer: 'main', migrate: true }), ...quiet });
    activity.log({ action: 'recipe.create' });
    await activity.flush();
    expect(await activity.count()).toBe(1);
    await activity.close();
  });

  it('sqliteStore over a database the app opened', async () => {
    const database = new Database(join(dir, 'own.db'));
    expect(thrown(() => sqliteStore({ database, migrat: false } as never))).toEqual(refusal('sqliteStore', 'migrat', 'migrate'));
    const store = sqliteStore({ database });
    await store.migrate();
    await store.close();
    database.close();
  });

  it.skipIf(!POSTGRES_URL)('postgresStore; poolConfig goes to pg as it is', async () => {
    const connectionString = POSTGRES_URL!;
    expect(thrown(() => postgresStore({ connectionString, partition: 'monthly' } as never))).toEqual(refusal('postgresStore', 'partition', 'partitioning'));
    expect(thrown(() => postgresStore({ connectionstring: connectionString } as never))).toEqual(refusal('postgresStore', 'connectionstring', 'connectionString'));
    // pg's own settings are pg's to judge: a key it does not know is passed on, not refused.
    const store = postgresStore({ connectionString, tableName: 'unknown_options_pg', poolConfig: { max: 2, application_name: 'unknown-options' } });
    await store.migrate();
    expect(await store.count({})).toBeGreaterThanOrEqual(0);
    await store.close();
  });

  it.skipIf(!MYSQL_URL)('mysqlStore; poolOptions go to mysql2 as they are', async () => {
    const uri = MYSQL_URL!;
    expect(thrown(() => mysqlStore({ uri, shema: 'test' } as never))).toEqual(refusal('mysqlStore', 'shema', 'schema'));
    const store = mysqlStore({ uri, tableName: 'unknown_options_my', poolOptions: { connectionLimit: 2 } });
    await store.migrate();
    expect(await store.count({})).toBeGreaterThanOrEqual(0);
    await store.close();
  });

  it('kyselyStore, captureChanges and removeChangeCapture, on a real SQLite file', async () => {
    const database = new Database(join(dir, 'kysely.db'));
    database.exec('create table recipes (id integer primary key, title text)');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database }) });
    expect(thrown(() => kyselyStore({ db, dialekt: 'sqlite' } as never))).toEqual(refusal('kyselyStore', 'dialekt', 'dialect'));
    const activity = createActivityLogger({ store: kyselyStore({ db, dialect: 'sqlite', tableName: 'activity_logs' }), ...quiet });

    await expect(captureChanges(db, activity, { recipes: { target: 'recipe' } }, { dialekt: 'sqlite' } as never)).rejects.toEqual(
      refusal('captureChanges', 'dialekt', 'dialect'),
    );
    await expect(captureChanges(db, activity, { recipes: { target: 'recipe', ignores: ['title'] } } as never)).rejects.toEqual(
      refusal('captureChanges: tables.recipes', 'ignores', 'ignore'),
    );
    await expect(captureChanges(db, activity, { recipes: { target: 'recipe', actions: { create: 'recipe.made' } } } as never)).rejects.toEqual(
      refusal('captureChanges: tables.recipes.actions', 'create', 'created'),
    );
    expect(await captureChanges(db, activity, { recipes: { target: 'recipe', ignore: ['title'] } }, { dialect: 'sqlite' })).toEqual({ installed: ['recipes'], unchanged: [] });
    await db.insertInto('recipes').values({ id: 1, title: 'Soup' }).execute();
    expect(await activity.count({ action: 'recipe.created' })).toBe(1);

    await expect(removeChangeCapture(db, ['recipes'], { tablename: 'activity_logs' } as never)).rejects.toEqual(
      refusal('removeChangeCapture', 'tablename', 'tableName'),
    );
    expect(await removeChangeCapture(db, ['recipes'], { tableName: 'activity_logs' })).toEqual(['recipes']);
    await activity.close();
    await db.destroy();
  });
});

describe('the HTTP layer (activity-log/http)', () => {
  it('createRequestScopeFactory, and capture inside it', () => {
    const activity = logger();
    expect(thrown(() => createRequestScopeFactory(activity, { requestIDHeader: 'x-id' } as never))).toEqual(
      refusal('createRequestScopeFactory', 'requestIDHeader', 'requestIdHeader'),
    );
    expect(thrown(() => createRequestScopeFactory(activity, { capture: { read: 'all' } } as never))).toEqual(refusal('capture', 'read', 'reads'));
    expect(thrown(() => createRequestScopeFactory(activity, { capture: { routes: { '/x': { acton: 'x.y' } } } } as never))).toEqual(
      refusal('capture.routes["/x"]', 'acton', 'action'),
    );
    const open = createRequestScopeFactory(activity, { requestIdHeader: 'x-id', capture: { reads: 'all', routes: { '/x': { action: 'x.y' } } } });
    const scope = open({ request: new Request('http://localhost/x', { headers: { 'x-id': 'abc' } }) });
    expect(scope.requestId).toBe('abc');
  });

  it('createActivityLogsHandler', async () => {
    const activity = logger();
    expect(thrown(() => createActivityLogsHandler(activity, { ...admin, exportPagesize: 10 } as never))).toEqual(
      refusal('createActivityLogsHandler', 'exportPagesize', 'exportPageSize'),
    );
    const handler = createActivityLogsHandler(activity, { ...admin, exportPageSize: 10 });
    expect((await handler(new Request('http://localhost/'), undefined, '/')).status).toBe(200);
  });
});

describe('framework adapters, on real apps', () => {
  it('express activityMiddleware and activityLogsRouter', async () => {
    const activity = logger();
    expect(thrown(() => expressMiddleware(activity, { asyncContex: false } as never))).toEqual(refusal('activityMiddleware', 'asyncContex', 'asyncContext'));
    expect(thrown(() => activityLogsRouter(activity, { ...admin, onUnauthorised: () => undefined } as never))).toEqual(
      refusal('activityLogsRouter', 'onUnauthorised', 'onUnauthorized'),
    );
    const app = express();
    app.use(expressMiddleware(activity, { asyncContext: false, actor: () => ({ type: 'user', id: 'u1' }) }));
    app.use('/admin/logs', activityLogsRouter(activity, { ...admin, viewer: false }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    expect((await fetch(`http://127.0.0.1:${port}/admin/logs`)).status).toBe(200);
    await new Promise((resolve) => server.close(resolve));
    await activity.close();
  });

  it('fastify activityPlugin and activityLogsPlugin; fastify’s own register options pass', async () => {
    const activity = logger();
    const refused = Fastify();
    await expect(refused.register(activityPlugin, { logger: activity, requestIdHeadr: 'x-id' } as never).ready()).rejects.toEqual(
      refusal('activityPlugin', 'requestIdHeadr', 'requestIdHeader'),
    );
    const refusedLogs = Fastify();
    await expect(refusedLogs.register(activityLogsPlugin, { prefix: '/admin/logs', logger: activity, ...admin, basepath: '/x' } as never).ready()).rejects.toEqual(
      refusal('activityLogsPlugin', 'basepath', 'basePath'),
    );
    const app = Fastify();
    await app.register(activityPlugin, { logger: activity, requestIdHeader: 'x-id', logLevel: 'warn' } as never);
    await app.register(activityLogsPlugin, { prefix: '/admin/logs', logLevel: 'warn', logger: activity, ...admin });
    const response = await app.inject({ method: 'GET', url: '/admin/logs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-id']).toBeDefined();
    await app.close();
    await activity.close();
  });

  it('hono activityMiddleware and activityLogsApp', async () => {
    const activity = logger();
    expect(thrown(() => honoMiddleware(activity, { trustproxy: true } as never))).toEqual(refusal('activityMiddleware', 'trustproxy', 'trustProxy'));
    expect(thrown(() => activityLogsApp(activity, { ...admin, viewr: true } as never))).toEqual(refusal('activityLogsApp', 'viewr', 'viewer'));
    const app = new Hono();
    app.use(honoMiddleware(activity, { trustProxy: true, clientIp: () => '10.0.0.1' }));
    app.route('/admin/logs', activityLogsApp(activity, { ...admin, viewer: true }));
    expect((await app.request('/admin/logs')).status).toBe(200);
    await activity.close();
  });
});

describe('the rest', () => {
  it('installShutdownHandlers', () => {
    const activity: ActivityLogger = logger();
    expect(thrown(() => installShutdownHandlers(activity, { signal: ['SIGTERM'] } as never))).toEqual(refusal('installShutdownHandlers', 'signal', 'signals'));
    const uninstall = installShutdownHandlers(activity, { signals: ['SIGUSR2'], flushBeforeExit: false });
    expect(process.listenerCount('SIGUSR2')).toBeGreaterThan(0);
    uninstall();
  });

  it('createTestLogger names itself', async () => {
    expect(thrown(() => createTestLogger({ maxQueu: 5 } as never))).toEqual(refusal('createTestLogger', 'maxQueu', 'maxQueue'));
    const activity = createTestLogger({ maxQueue: 5 });
    activity.log({ action: 'recipe.create' });
    await activity.flush();
    expect(activity.records()).toHaveLength(1);
  });

  // Spelt right, it registers a suite: every store's conformance test under test/stores does.
  it('describeActivityStore', () => {
    expect(thrown(() => describeActivityStore({ name: 'x', setup: async () => ({ store: memoryStore(), cleanup: async () => {} }), skp: 'no' } as never))).toEqual(
      refusal('describeActivityStore', 'skp', 'skip'),
    );
    expect(
      thrown(() =>
        describeActivityStore({ name: 'x', skip: 'no', setup: async () => ({ store: memoryStore(), cleanup: async () => {} }), capabilities: { transaction: true } } as never),
      ),
    ).toEqual(refusal('describeActivityStore: capabilities', 'transaction', 'transactions'));
  });
});
