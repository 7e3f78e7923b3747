// Run by test/package.test.ts in an app with the packed tarball and the oldest or newest peers
// of each range installed: the SQLite store and one request through each framework, then the
// admin logs API of each framework (JSON, the viewer's HTML, a CSV export, and HEAD), echoing
// the versions it ran on. PEER_EXPRESS / PEER_FASTIFY name an npm alias to run instead (express4@npm:express@^4).
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createActivityLogger } from 'activity-log';
import { sqliteStore } from 'activity-log/sqlite';
import { activityLogsRouter, activityMiddleware as expressActivity } from 'activity-log/express';
import { activityLogsPlugin, activityPlugin } from 'activity-log/fastify';
import { activityLogsApp, activityMiddleware as honoActivity } from 'activity-log/hono';

const names = { express: process.env.PEER_EXPRESS || 'express', fastify: process.env.PEER_FASTIFY || 'fastify', 'better-sqlite3': 'better-sqlite3', hono: 'hono' };
const express = (await import(names.express)).default;
const Fastify = (await import(names.fastify)).default;
const dir = mkdtempSync(join(tmpdir(), 'peer-'));
const logger = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'a.db') }), onError: (e) => console.error('onError', e.code, e.message) });
const versions = {};
for (const [name, installed] of Object.entries(names)) versions[name] = JSON.parse(readFileSync(`node_modules/${installed}/package.json`, 'utf8')).version;

const ex = express();
ex.use(expressActivity(logger, { actor: (req) => ({ type: 'user', id: String(req.headers['x-user'] ?? 'anon') }) }));
ex.use('/admin/logs', activityLogsRouter(logger, { authorize: () => true, viewer: true }));
ex.post('/recipes/:id', (req, res) => { req.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: req.params.id } }); res.status(201).json({ ok: true }); });
// A route of a mounted router that passes the request on to express's 404 is not its place.
const exApi = express.Router();
exApi.delete('/recipes/:id', (_req, _res, next) => next());
ex.use('/api', exApi);
const exServer = createServer(ex);
await new Promise((r) => exServer.listen(0, '127.0.0.1', r));

const fa = Fastify();
await fa.register(activityPlugin, { logger, actor: (request) => ({ type: 'user', id: String(request.headers['x-user'] ?? 'anon') }) });
await fa.register(activityLogsPlugin, { prefix: '/admin/logs', logger, authorize: () => true, viewer: true });
fa.post('/recipes/:id', async (request, reply) => { request.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: request.params.id } }); return reply.code(201).send({ ok: true }); });
await fa.listen({ port: 0, host: '127.0.0.1' });

const ho = new Hono();
ho.use(honoActivity(logger));
ho.route('/admin/logs', activityLogsApp(logger, { authorize: () => true, viewer: true }));
ho.post('/recipes/:id', (c) => { c.get('activity').log({ action: 'recipe.update', target: { type: 'recipe', id: c.req.param('id') } }); return c.json({ ok: true }, 201); });
const hoServer = await new Promise((r) => { const s = serve({ fetch: ho.fetch, port: 0, hostname: '127.0.0.1' }, () => r(s)); });

const urls = { express: `http://127.0.0.1:${exServer.address().port}`, fastify: `http://127.0.0.1:${fa.server.address().port}`, hono: `http://127.0.0.1:${hoServer.address().port}` };
const ids = {};
for (const [name, url] of Object.entries(urls)) {
  const response = await fetch(`${url}/recipes/${name}`, { method: 'POST', headers: { 'x-user': '42' } });
  if (response.status !== 201) throw new Error(`${name}: ${response.status}`);
  ids[name] = response.headers.get('x-request-id');
}
if ((await fetch(`${urls.express}/api/recipes/7`, { method: 'DELETE' })).status !== 404) throw new Error('express: fall-through not 404');
await logger.flush();
const [fallThrough] = (await logger.query({ action: 'http.delete' })).items;
if (fallThrough?.context.route !== undefined || fallThrough.metadata?.path !== '/api/recipes/7') throw new Error(`express fall-through recorded under ${JSON.stringify(fallThrough?.context)} ${JSON.stringify(fallThrough?.metadata)}`);
const { items } = await logger.query({ action: 'recipe.update' });
const byTarget = Object.fromEntries(items.map((r) => [r.target.id, r.context.requestId]));
for (const name of Object.keys(urls)) if (byTarget[name] !== ids[name]) throw new Error(`${name}: record ${byTarget[name]} vs header ${ids[name]}`);
const written = logger.stats().written;
// The admin API answers the same on every framework and version: a web Response's body
// streamed back (fastify before 4.2x could not send a web ReadableStream, and fastify 4's HEAD
// routes could not measure one).
for (const [name, url] of Object.entries(urls)) {
  const answers = [
    ['GET', 'application/json', '/admin/logs?action=recipe.update', 'application/json', (body) => JSON.parse(body).items?.length === 3],
    ['GET', 'text/html', '/admin/logs', 'text/html', (body) => body.startsWith('<!doctype html>')],
    ['GET', 'text/csv', '/admin/logs/export?format=csv&action=recipe.update', 'text/csv', (body) => body.split('\n').filter(Boolean).length === 4],
    ['HEAD', 'application/json', '/admin/logs', 'application/json', (body) => body === ''],
  ];
  for (const [method, accept, path, type, check] of answers) {
    const response = await fetch(`${url}${path}`, { method, headers: { accept } });
    const body = await response.text();
    if (response.status !== 200 || !response.headers.get('content-type')?.startsWith(type) || !check(body)) {
      throw new Error(`${name} ${method} ${path} (${accept}): ${response.status} ${response.headers.get('content-type')} ${body.slice(0, 200)}`);
    }
  }
}
console.log(JSON.stringify({ versions, records: items.length, written }));
exServer.close(); await fa.close(); hoServer.close(); await logger.close();
