import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { createActivityLogsHandler } from '../../src/http/logs-handler.js';
import { VIEWER_HTML } from '../../src/http/viewer/page.js';
import { VIEWER_SCRIPT } from '../../src/http/viewer/client.js';
import { VIEWER_STYLES } from '../../src/http/viewer/styles.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { activityLogsRouter } from '../../adapters/frameworks/express.js';
import { activityLogsPlugin } from '../../adapters/frameworks/fastify.js';
import { activityLogsApp } from '../../adapters/frameworks/hono.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64');

function setup(options: Partial<Parameters<typeof createActivityLogsHandler>[1]> = {}) {
  const store = memoryStore();
  const logger = createActivityLogger({ store });
  const handler = createActivityLogsHandler(logger, { authorize: (req: Request) => req.headers.get('x-role') === 'admin', viewer: true, ...options });
  const request = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    handler(new Request(`http://x${path}`, { method, headers: { 'x-role': 'admin', ...headers } }));
  return { store, logger, handler, request };
}

describe('the activity logs viewer', () => {
  it('serves the page to a browser at the mount point when viewer is on', async () => {
    const { request } = setup();
    const response = await request('/', { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('vary')).toBe('accept');
    const body = await response.text();
    expect(body).toBe(VIEWER_HTML);
    expect(body).toContain('<title>Activity log</title>');
  });

  it('sends a strict Content-Security-Policy that allows exactly its own script and stylesheet', async () => {
    const { request } = setup();
    const response = await request('/', { accept: BROWSER_ACCEPT });
    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(directives.get('default-src')).toBe("'none'");
    expect(directives.get('script-src')).toBe(`'sha256-${sha256(VIEWER_SCRIPT)}'`);
    expect(directives.get('style-src')).toBe(`'sha256-${sha256(VIEWER_STYLES)}'`);
    expect(directives.get('connect-src')).toBe("'self'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(directives.get('require-trusted-types-for')).toBe("'script'");
    // The hashed text is exactly what sits between the tags.
    const body = await response.text();
    expect(body).toContain(`<script>${VIEWER_SCRIPT}</script>`);
    expect(body).toContain(`<style>${VIEWER_STYLES}</style>`);
  });

  it('loads nothing from outside the server and builds no markup from strings', () => {
    expect(VIEWER_HTML.match(/<script/g)).toHaveLength(1);
    expect(VIEWER_HTML).not.toMatch(/\bsrc=/);
    expect(VIEWER_HTML).not.toMatch(/\bon[a-z]+=/);
    expect(VIEWER_HTML.replace('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
    expect(VIEWER_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    expect(VIEWER_SCRIPT).not.toContain('</script');
    expect(VIEWER_STYLES).not.toMatch(/@import|url\(/);
  });

  it('serves the page for a linked, filtered view (its query is the page\'s, not checked here)', async () => {
    const { request } = setup();
    const response = await request('/?status=failure&limit=5&whatever=1', { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('answers HEAD with the headers and no body', async () => {
    const { request } = setup();
    const response = await request('/', { accept: BROWSER_ACCEPT }, 'HEAD');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toBe('');
  });

  it('is behind authorize: a refused browser gets a 403 page saying to sign in (not JSON), and the refusal is recorded', async () => {
    const { request, logger, store } = setup();
    const response = await request('/', { accept: BROWSER_ACCEPT, 'x-role': 'guest' });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const body = await response.text();
    expect(body).toContain('Sign in first');
    expect(body).not.toContain('forbidden');
    // An API client refused keeps its JSON.
    const api = await request('/', { accept: 'application/json', 'x-role': 'guest' });
    expect(api.status).toBe(403);
    expect(await api.json()).toMatchObject({ error: 'forbidden' });
    await logger.flush();
    const { items } = await store.query({ status: 'denied', limit: 10 } as never);
    expect(items.filter((item) => item.metadata?.view === 'viewer')).toEqual([expect.objectContaining({ action: 'activity.query' })]);
  });

  it('answers a refusal with onUnauthorized when given (a redirect to the login), and records it as denied', async () => {
    const seen: string[] = [];
    const { request, logger, store } = setup({
      onUnauthorized: (source: unknown) => {
        const req = source as Request;
        seen.push(new URL(req.url).pathname);
        return req.headers.get('accept')?.includes('text/html') ? new Response(null, { status: 303, headers: { location: '/login?next=/admin/logs' } }) : undefined;
      },
    });
    const browser = await request('/', { accept: BROWSER_ACCEPT, 'x-role': 'guest' });
    expect(browser.status).toBe(303);
    expect(browser.headers.get('location')).toBe('/login?next=/admin/logs');
    // Returning nothing keeps the default answer: JSON for an API client.
    const api = await request('/summary?by=day', { 'x-role': 'guest' });
    expect(api.status).toBe(403);
    expect(await api.json()).toMatchObject({ error: 'forbidden' });
    expect(seen).toEqual(['/', '/summary']);
    // An admin is never sent there.
    expect((await request('/', { accept: BROWSER_ACCEPT })).status).toBe(200);
    await logger.flush();
    expect((await store.query({ status: 'denied', limit: 10 } as never)).items).toHaveLength(2);
  });

  it('tells onUnauthorized why: forbidden (authorize) or no-tenant (tenant), so only the first goes to the login', async () => {
    const reasons: string[] = [];
    const { request } = setup({
      tenant: (req: unknown) => (req as Request).headers.get('x-tenant') ?? undefined,
      // The README's and the JSDoc's example: a relative Location, no new URL(…, req.url).
      onUnauthorized: (_req: unknown, { reason }: { reason: string }) => {
        reasons.push(reason);
        return reason === 'forbidden' ? new Response(null, { status: 303, headers: { location: '/login?next=/admin/logs' } }) : undefined;
      },
    });
    const guest = await request('/', { accept: BROWSER_ACCEPT, 'x-role': 'guest' });
    expect(guest.status).toBe(303);
    expect(guest.headers.get('location')).toBe('/login?next=/admin/logs');
    // Signed in as an admin, but of no tenant: the default 403, not the login again.
    const noTenant = await request('/summary?by=day', {});
    expect(noTenant.status).toBe(403);
    expect(await noTenant.json()).toMatchObject({ error: 'forbidden', message: 'no tenant for this caller' });
    expect(reasons).toEqual(['forbidden', 'no-tenant']);
    expect((await request('/summary?by=day', { 'x-tenant': 't1' })).status).toBe(200);
  });

  it('falls back to the default refusal, and reports, when onUnauthorized throws', async () => {
    const errors: unknown[] = [];
    const store = memoryStore();
    const logger = createActivityLogger({ store, onError: (error) => errors.push(error) });
    const handler = createActivityLogsHandler(logger, {
      authorize: () => false,
      onUnauthorized: () => {
        throw new Error('login page broken');
      },
    });
    const response = await handler(new Request('http://x/', { headers: { accept: BROWSER_ACCEPT } }));
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('Sign in first');
    expect(errors).toEqual([expect.objectContaining({ code: 'CALLBACK_FAILED', message: expect.stringContaining('onUnauthorized() threw') })]);
    expect(() => createActivityLogsHandler(logger, { authorize: () => true, onUnauthorized: 'no' as never })).toThrow('options.onUnauthorized must be a function');
    await logger.close();
  });

  it('is behind tenant too: no tenant for the caller is a 403', async () => {
    const { request } = setup({ tenant: () => undefined });
    expect((await request('/', { accept: BROWSER_ACCEPT })).status).toBe(403);
  });

  it('is off by default: a browser gets the JSON list', async () => {
    const { request } = setup({ viewer: undefined });
    const response = await request('/', { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ items: [], nextCursor: null });
  });

  it('leaves the JSON API as it was for API clients', async () => {
    const { request, logger } = setup();
    logger.log({ action: 'recipe.create', target: { type: 'recipe', id: 'r_1' } });
    await logger.flush();
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html']) {
      const response = await request('/?action=recipe.create', accept ? { accept } : {});
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await response.json()).items).toHaveLength(1);
    }
    // Bad parameters are still a 400 for API clients.
    expect((await request('/?whatever=1', { accept: 'application/json' })).status).toBe(400);
    // Below the mount point a browser gets JSON: only the mount point is the page.
    const summary = await request('/summary?by=status', { accept: BROWSER_ACCEPT });
    expect(summary.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('serves the page under basePath', async () => {
    const { request } = setup({ basePath: '/admin/logs' });
    for (const path of ['/admin/logs', '/admin/logs/']) {
      const response = await request(path, { accept: BROWSER_ACCEPT });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });

  it('refuses a viewer option that is not a boolean', () => {
    const logger = createActivityLogger({ store: memoryStore() });
    expect(() => createActivityLogsHandler(logger, { authorize: () => true, viewer: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringMatching(/viewer/) }),
    );
  });
});

interface Mounted {
  url: string;
  close(): Promise<void>;
}

function listen(server: Server): Promise<Mounted> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}

/** The test's `onUnauthorized`: a redirect when the request asks for one, else the default answer. */
const toLogin = (asked: string | undefined) => (asked ? new Response(null, { status: 303, headers: { location: '/login?next=/admin/logs' } }) : undefined);

const mounts: Record<string, (logger: ActivityLogger<any>) => Promise<Mounted>> = {
  express: async (logger) => {
    const app = express();
    app.use('/admin/logs', activityLogsRouter(logger, { authorize: (req) => req.get('x-role') === 'admin', viewer: true, onUnauthorized: (req) => toLogin(req.get('x-to-login')) }));
    return listen(createServer(app));
  },
  fastify: async (logger) => {
    const app = Fastify({ logger: false });
    await app.register(activityLogsPlugin, {
      prefix: '/admin/logs',
      logger,
      authorize: (request) => request.headers['x-role'] === 'admin',
      viewer: true,
      onUnauthorized: (request) => toLogin(request.headers['x-to-login'] as string | undefined),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  hono: async (logger) => {
    const app = new Hono();
    app.route('/admin/logs', activityLogsApp(logger, { authorize: (c) => c.req.header('x-role') === 'admin', viewer: true, onUnauthorized: (c) => toLogin(c.req.header('x-to-login')) }));
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve({
          url: `http://127.0.0.1:${info.port}`,
          close: () => new Promise<void>((done) => {
            (server as Server).closeAllConnections?.();
            server.close(() => done());
          }),
        });
      });
    });
  },
};

for (const [framework, mount] of Object.entries(mounts)) {
  describe(`the viewer mounted with ${framework}`, () => {
    let app: Mounted;
    let logger: ActivityLogger<any>;
    beforeAll(async () => {
      logger = createActivityLogger({ store: memoryStore() });
      logger.log({ action: 'recipe.create', target: { type: 'recipe', id: 'r_1' } });
      await logger.flush();
      app = await mount(logger);
    });
    afterAll(async () => {
      await app?.close();
      await logger?.close();
    });

    it('serves the page at the mount path, with and without a trailing slash', async () => {
      for (const path of ['/admin/logs', '/admin/logs/', '/admin/logs?status=failure']) {
        const response = await fetch(`${app.url}${path}`, { headers: { accept: BROWSER_ACCEPT, 'x-role': 'admin' } });
        expect(response.status, path).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(response.headers.get('content-security-policy')).toContain(`'sha256-${sha256(VIEWER_SCRIPT)}'`);
        expect(await response.text()).toBe(VIEWER_HTML);
      }
    });

    it('refuses the page without authorization: a sign-in page by default, or the answer of onUnauthorized', async () => {
      const response = await fetch(`${app.url}/admin/logs`, { headers: { accept: BROWSER_ACCEPT } });
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await response.text()).toContain('Sign in first');
      const redirected = await fetch(`${app.url}/admin/logs`, { headers: { accept: BROWSER_ACCEPT, 'x-to-login': 'yes' }, redirect: 'manual' });
      expect(redirected.status).toBe(303);
      expect(redirected.headers.get('location')).toBe('/login?next=/admin/logs');
    });

    it('keeps answering API calls at the same path with JSON', async () => {
      const response = await fetch(`${app.url}/admin/logs?action=recipe.create`, { headers: { accept: 'application/json', 'x-role': 'admin' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await response.json()).items).toHaveLength(1);
      const summary = await fetch(`${app.url}/admin/logs/summary?by=hour&action=recipe.create`, { headers: { accept: 'application/json', 'x-role': 'admin' } });
      expect((await summary.json()).buckets[0].byStatus).toEqual({ success: 1 });
    });
  });
}
