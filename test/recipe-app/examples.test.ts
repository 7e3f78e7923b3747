import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, readSqliteActivity, ROOT } from './helpers.js';

const children: ChildProcess[] = [];


afterAll(() => {
  for (const child of children) if (child.pid && alive(child.pid)) process.kill(-child.pid, 'SIGKILL');
});

/** Each small example runs with one command, logs through the middleware and currentActivity(), and writes everything on SIGTERM. */
describe.each(['express', 'fastify', 'hono'])('examples/%s.ts', (framework) => {
  it('runs with tsx, records the handler, the nested function and the refusal, serves the admin API, and stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), `example-${framework}-`));
    try {
      const databaseFile = join(dir, 'activity.db');
      const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [`examples/${framework}.ts`], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', DATABASE_FILE: databaseFile },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise((r) => child.once('exit', r));
      let url: string | undefined;
      for (let i = 0; !url && i < 300; i++) {
        url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 50));
      }
      expect(url, output).toBeDefined();

      const published = await fetch(`${url}/recipes/42/publish`, { method: 'POST', headers: { 'x-user': 'ada', 'x-request-id': 'ex-1' } });
      expect(await published.json()).toEqual({ published: '42' });
      expect((await fetch(`${url}/recipes/42/publish`, { method: 'POST' })).status).toBe(401);
      // Events are written in the background (the first batch also starts the SQLite writer thread): poll.
      let actions: string[] = [];
      for (let i = 0; i < 100 && actions.length < 2; i++) {
        const logs = await fetch(`${url}/admin/logs?action=recipe.*`, { headers: { 'x-user': 'root', 'x-role': 'admin' } });
        expect(logs.status).toBe(200);
        actions = ((await logs.json()) as { items: { action: string }[] }).items.map((r) => r.action);
        if (actions.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      expect(actions).toEqual(['recipe.notify', 'recipe.publish']);
      expect((await fetch(`${url}/admin/logs`, { headers: { 'x-user': 'ada' } })).status).toBe(403);

      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      for (let i = 0; i < 50 && alive(child.pid!); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(child.pid!)).toBe(false);

      const rows = readSqliteActivity(databaseFile);
      const nested = rows.find((row) => row.action === 'recipe.notify')!;
      expect(nested).toMatchObject({ actor_type: 'user', actor_id: 'ada', target_id: '42', metadata: { followers: 3 } });
      expect(nested.context).toMatchObject({ requestId: 'ex-1', route: '/recipes/:id/publish', method: 'POST' });
      expect(rows.find((row) => row.status === 'denied' && row.action === 'http.post')).toMatchObject({ actor_type: 'anonymous', metadata: { statusCode: 401 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
