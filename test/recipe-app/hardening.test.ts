import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottle } from '../../examples/recipe-app/domain/throttle.js';
import { parseRow, startTestApp, type ActivityRow, type TestApp } from './helpers.js';

/**
 * The reference app as an example worth copying: throttled logins, sessions that end, bad
 * cookies that fail nothing, pages that cannot be framed. Against the real app on 127.0.0.1.
 */
describe('recipe app hardening', () => {
  let app: TestApp;
  let raw: Database.Database;
  let clock = Date.now();

  beforeAll(async () => {
    app = await startTestApp({
      accounts: { sessionIdleMs: 30 * 60_000, sessionMaxAgeMs: 8 * 3_600_000, now: () => clock, throttle: createLoginThrottle({ now: () => clock }) },
    });
    raw = new Database(app.databaseFile, { timeout: 5000 });
  });
  afterAll(async () => {
    raw?.close();
    await app?.stop();
  });

  async function rowsOf(requestId: string): Promise<ActivityRow[]> {
    await app.activity.flush();
    return raw
      .prepare(`select * from activity_logs where json_extract(context, '$.requestId') = ? order by id`)
      .all(requestId)
      .map((row) => parseRow(row as Record<string, unknown>));
  }

  it('throttles an account after 5 wrong passwords: 40 guesses in a row, then the right password, are refused with 429 and recorded as denied, throttled', async () => {
    const { user } = await app.signup('Throttled');
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const wrong = await app.request('POST', '/auth/login', { body: { email: user.email, password: `guess-${i}` }, headers: { 'x-forwarded-for': `10.0.0.${i}` } });
      statuses.push(wrong.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
    const right = await app.request('POST', '/auth/login', { body: { email: user.email, password: 'correct horse battery' }, headers: { 'x-request-id': 'throttle-right' } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(right.body).toMatchObject({ error: 'too_many_attempts' });
    const rows = await rowsOf('throttle-right');
    expect(rows.map((row) => [row.action, row.status, row.metadata?.reason])).toEqual([['user.login', 'denied', 'throttled']]);
    expect(JSON.stringify(rows)).not.toContain('correct horse');

    // After the window, the right password works again.
    clock += 16 * 60_000;
    expect((await app.request('POST', '/auth/login', { body: { email: user.email, password: 'correct horse battery' } })).status).toBe(200);
  });

  it('throttles a client after 20 wrong passwords, whatever accounts it tries', async () => {
    const throttle = createLoginThrottle({ now: () => clock });
    for (let i = 0; i < 20; i++) {
      expect(throttle.retryAfter(`user${i}@example.com`, '203.0.113.9')).toBe(0);
      throttle.failed(`user${i}@example.com`, '203.0.113.9');
    }
    expect(throttle.retryAfter('someone-else@example.com', '203.0.113.9')).toBeGreaterThan(0);
    expect(throttle.retryAfter('someone-else@example.com', '203.0.113.10')).toBe(0);
  });

  it('ends a session after its idle lifetime, and after its absolute lifetime however much it is used', async () => {
    const idle = await app.signup('Idle');
    expect((await app.request('GET', '/me', { token: idle.token })).status).toBe(200);
    clock += 31 * 60_000;
    expect((await app.request('GET', '/me', { token: idle.token })).status).toBe(401);

    const busy = await app.signup('Busy');
    for (let hour = 0; hour < 8; hour++) {
      expect((await app.request('GET', '/me', { token: busy.token })).status, `hour ${hour}`).toBe(200);
      clock += 20 * 60_000;
      expect((await app.request('GET', '/me', { token: busy.token })).status).toBe(200);
      clock += 20 * 60_000;
      expect((await app.request('GET', '/me', { token: busy.token })).status).toBe(200);
      clock += 20 * 60_000;
    }
    expect((await app.request('GET', '/me', { token: busy.token })).status).toBe(401);
    const cookie = (await app.request('POST', '/auth/login', { body: { email: busy.user.email, password: 'correct horse battery' } })).headers.get('set-cookie');
    expect(cookie).toMatch(/Max-Age=28800/);
  });

  it('logs out every session of the user at once, as one user.logout record', async () => {
    const { user, token } = await app.signup('Everywhere');
    const second = await app.login(user.email, 'correct horse battery');
    const out = await app.request('POST', '/auth/logout/all', { token, headers: { 'x-request-id': 'logout-all' } });
    expect(out.status).toBe(204);
    expect((await app.request('GET', '/me', { token })).status).toBe(401);
    expect((await app.request('GET', '/me', { token: second })).status).toBe(401);
    const rows = await rowsOf('logout-all');
    expect(rows.map((row) => [row.action, row.status, row.metadata])).toEqual([['user.logout', 'success', { scope: 'all', ended: 2 }]]);
  });

  it('ignores a session cookie that is not valid percent-encoding, instead of an unlogged 500', async () => {
    for (const cookie of ['session=%E0%A4%A', 'session=%', 'session=%zz; other=1']) {
      const home = await app.request('GET', '/', { headers: { cookie } });
      expect(home.status, cookie).toBe(200);
      expect(home.text).toContain('Log in');
      const me = await app.request('GET', '/me', { headers: { cookie, 'x-request-id': 'bad-cookie' } });
      expect(me.status).toBe(401);
    }
    const rows = await rowsOf('bad-cookie');
    expect(rows.every((row) => row.action === 'http.get' && row.status === 'denied')).toBe(true);
  });

  it('serves the home and login pages under a CSP that runs no script and forbids framing', async () => {
    const home = await app.request('GET', '/');
    const failedLogin = await fetch(`${app.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=nobody%40example.com&password=x',
      redirect: 'manual',
    });
    for (const headers of [home.headers, failedLogin.headers]) {
      const policy = headers.get('content-security-policy') ?? '';
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).toContain("default-src 'none'");
      expect(policy).not.toContain('unsafe-inline');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(failedLogin.status).toBe(401);
  });
});
