import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, alive, readSqliteActivity, ROOT } from './helpers.js';



/**
 * `npm start` as a newcomer runs it: a child process in the repository, its own process group
 * (as a terminal gives it), PORT=0 for a free port and DATABASE_FILE in a temp dir so nothing
 * is written into the clone. SIGTERM goes to the group, as a terminal or a supervisor sends it.
 */
describe('npm start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recipe-app-start-'));
  const databaseFile = join(dir, 'recipes.db');
  let child: ChildProcess | undefined;

  afterAll(() => {
    // Never leave the server behind, whatever failed.
    if (child?.pid && alive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the URL and the admin, serves requests, and writes every event of the session on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_FILE: databaseFile };
    delete env.DATABASE_URL;
    child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pgid = child.pid!;
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => child!.once('exit', (code) => resolveExit(code)));

    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!url) {
      url = /Recipe app listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no URL printed:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(output).toContain(`Admin: ${ADMIN.email} / ${ADMIN.password} (just created)`);
    expect(output).toContain(`Database: SQLite file ${databaseFile}`);

    const post = (path: string, body: unknown, token?: string) =>
      fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `npm-start-${path.replace(/\W/g, '')}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const signup = await post('/auth/signup', { name: 'Newcomer', email: 'newcomer@example.com', password: 'a good long password' });
    expect(signup.status).toBe(201);
    const { token, user } = (await signup.json()) as { token: string; user: { id: string } };
    expect((await post('/auth/login', { email: ADMIN.email, password: 'wrong' })).status).toBe(401);
    expect((await fetch(`${url}/recipes`)).status).toBe(200);
    const preferences = await fetch(`${url}/me/preferences`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ diet: 'omnivore', allergies: [], caloriesPerDay: 2000, mealsPerDay: 3 }),
    });
    expect(preferences.status).toBe(200);
    expect((await post('/plans', {}, token)).status).toBe(201);
    expect((await post('/auth/logout', {}, token)).status).toBe(204);

    // Straight after the last response: whatever is still queued must be written on the way out.
    process.kill(-pgid, 'SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    expect(code, output).not.toBe('timeout');
    for (let i = 0; i < 50 && alive(pgid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pgid), 'no process of the group is left').toBe(false);
    expect(output).toContain('stopped; every activity event is written');

    const all = readSqliteActivity(databaseFile);
    // Change capture's records (metadata.table) apart from the events the app logs.
    const captured = all.filter((row) => row.metadata?.table);
    const rows = all.filter((row) => !row.metadata?.table);
    const summary = rows.map((row) => `${row.action}:${row.status}`);
    expect(summary).toEqual([
      'user.signup:success',
      'user.login:denied',
      'user.preferences.update:success',
      'plan.generate:success',
      'user.logout:success',
    ]);
    expect(rows.filter((row) => row.actor_id === user.id).map((row) => row.action)).toEqual([
      'user.signup',
      'user.preferences.update',
      'plan.generate',
      'user.logout',
    ]);
    expect(rows[0]!.context).toMatchObject({ requestId: 'npm-start-authsignup', route: '/auth/signup', ip: '127.0.0.1' });
    // The seed's admin and sample recipes, as the seed (one statement apart: no order within it),
    // then the newcomer's row, inserted by the sign-up request.
    const seeded = captured.filter((row) => row.actor_type === 'system' && row.actor_id === 'recipe-app.seed');
    expect(seeded.map((row) => row.action).sort()).toEqual([...Array(12).fill('recipe.created'), 'user.created']);
    expect(seeded.find((row) => row.action === 'user.created')!.target_name).toBe(ADMIN.email);
    const rest = captured.filter((row) => !seeded.includes(row));
    expect(rest.map((row) => `${row.action}:${row.target_id}:${row.context?.requestId}`)).toEqual([`user.created:${user.id}:npm-start-authsignup`]);
    expect(JSON.stringify(captured)).not.toContain('scrypt$');
  }, 60_000);
});
