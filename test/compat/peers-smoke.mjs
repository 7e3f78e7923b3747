// Run by test/package.test.ts in an app with the packed tarball and the oldest or newest peers
// of each range installed: the SQLite store and one request through each framework, echoing the
// versions it ran on. PEER_EXPRESS / PEER_FASTIFY name an npm alias to run instead (express4@npm:express@^4).
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createActivityLogger } from 'activity-log';
import { sqliteStore } from 'activity-log/sqlite';
import { activityMiddleware as expressActivity } from 'activity-log/express';
import { activityPlugin } from 'activity-log/fastify';
import { activityMiddleware as honoActivity } from 'activity-log/hono';

const names = { express: process.env.PEER_EXPRESS || 'express', fastify: process.env.PEER_FASTIFY || 'fastify', 'better-sqlite3': 'better-sqlite3', hono: 'hono' };
const express = (await import(names.express)).default;
const Fastify = (await import(names.fastify)).default;
const dir = mkdtempSync(join(tmpdir(), 'peer-'));
const logger = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'a.db') }), onError: (e) => console.error('onError', e.code, e.message) });
const versions = {};
for (const [name, installed] of Object.entries(names)) versions[name] = JSON.parse(readFileSync(`node_modules/${installed}/package.json`, 'utf8')).version;

const ex = express();
ex.use(expressActivity(logger, { actor: (req) => ({ type: 'user', id: String(req.headers['x-user'] ?? 'anon') }) }));
ex.post('/recipes/:id', (req, res) => { req.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: req.params.id } }); res.status(201).json({ ok: true }); });
const exServer = createServer(ex);
await new Promise((r) => exServer.listen(0, '127.0.0.1', r));

const fa = Fastify();
await fa.register(activityPlugin, { logger, actor: (request) => ({ type: 'user', id: String(request.headers['x-user'] ?? 'anon') }) });
fa.post('/recipes/:id', async (request, reply) => { request.activity.log({ action: 'recipe.update', target: { type: 'recipe', id: request.params.id } }); return reply.code(201).send({ ok: true }); });
await fa.listen({ port: 0, host: '127.0.0.1' });

const ho = new Hono();
ho.use(honoActivity(logger));
ho.post('/recipes/:id', (c) => { c.get('activity').log({ action: 'recipe.update', target: { type: 'recipe', id: c.req.param('id') } }); return c.json({ ok: true }, 201); });
const hoServer = await new Promise((r) => { const s = serve({ fetch: ho.fetch, port: 0, hostname: '127.0.0.1' }, () => r(s)); });

const urls = { express: `http://127.0.0.1:${exServer.address().port}`, fastify: `http://127.0.0.1:${fa.server.address().port}`, hono: `http://127.0.0.1:${hoServer.address().port}` };
const ids = {};
for (const [name, url] of Object.entries(urls)) {
  const response = await fetch(`${url}/recipes/${name}`, { method: 'POST', headers: { 'x-user': '42' } });
  if (response.status !== 201) throw new Error(`${name}: ${response.status}`);
  ids[name] = response.headers.get('x-request-id');
}
await logger.flush();
const { items } = await logger.query({ action: 'recipe.update' });
const byTarget = Object.fromEntries(items.map((r) => [r.target.id, r.context.requestId]));
for (const name of Object.keys(urls)) if (byTarget[name] !== ids[name]) throw new Error(`${name}: record ${byTarget[name]} vs header ${ids[name]}`);
console.log(JSON.stringify({ versions, records: items.length, written: logger.stats().written }));
exServer.close(); await fa.close(); hoServer.close(); await logger.close();
