import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, parseRow, startTestApp, type ActivityRow, type TestApp } from './helpers.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PASSWORD = 'correct horse battery';

/**
 * Every action the recipe app logs, success and failure, and the row changes change capture
 * records of its recipes and users tables, checked field by field in the activity_logs table,
 * read through its own SQLite connection (not through the store).
 */
describe('recipe app activity log', () => {
  let app: TestApp;
  let raw: Database.Database;
  let adminToken: string;
  let adminId: string;
  let step = 0;

  beforeAll(async () => {
    app = await startTestApp();
    raw = new Database(app.databaseFile, { timeout: 5000 });
    adminToken = await app.login(ADMIN.email, ADMIN.password);
    adminId = (await app.request('GET', '/me', { token: adminToken })).body.user.id;
  });
  afterAll(async () => {
    raw?.close();
    await app?.stop();
  });

  /** Sends one request with a fresh request id; returns the response and every row logged for it. */
  async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
    const requestId = `step-${++step}`;
    const response = await app.request(method, path, { ...options, headers: { 'x-request-id': requestId, 'user-agent': 'recipe-test/1.0' } });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    await app.activity.flush();
    const rows = raw
      .prepare(`select * from activity_logs where json_extract(context, '$.requestId') = ? order by id`)
      .all(requestId)
      .map((row) => parseRow(row as Record<string, unknown>));
    return { response, rows, requestId };
  }

  function only(rows: ActivityRow[], action: string): ActivityRow {
    const matching = rows.filter((row) => row.action === action);
    expect(matching, `exactly one ${action} in ${JSON.stringify(rows.map((r) => r.action))}`).toHaveLength(1);
    return matching[0]!;
  }

  function expectContext(row: ActivityRow, requestId: string, method: string, route: string) {
    expect(row.context).toEqual({ requestId, method, route, ip: '127.0.0.1', userAgent: 'recipe-test/1.0' });
    expect(row.id).toMatch(UUIDV7);
    // SQLite keeps epoch milliseconds.
    expect(Date.now() - Number(row.occurred_at)).toBeLessThan(60_000);
    expect(row.tenant_id).toBeNull();
  }

  function party(row: ActivityRow, side: 'actor' | 'target') {
    return { type: row[`${side}_type`], id: row[`${side}_id`], name: row[`${side}_name`] };
  }

  let user: { id: string; name: string; email: string };
  let token: string;

  it('user.signup: success with the new user as actor and target, failure with the attempted email; the row captured with its hash redacted', async () => {
    const ok = await call('POST', '/auth/signup', { body: { name: 'Grace', email: 'grace@example.com', password: PASSWORD } });
    expect(ok.response.status).toBe(201);
    user = ok.response.body.user;
    token = ok.response.body.token;
    // The captured insert and the explicit outcome may share a millisecond: no order between them.
    expect(ok.rows.map((r) => r.action).sort()).toEqual(['user.created', 'user.signup']);
    const created = only(ok.rows, 'user.created');
    expect(created.status).toBe('success');
    // Made before anyone was signed in: the request's actor.
    expect(party(created, 'actor')).toEqual({ type: 'anonymous', id: null, name: null });
    expect(party(created, 'target')).toEqual({ type: 'user', id: user.id, name: 'grace@example.com' });
    expect(created.metadata).toEqual({ table: 'users', operation: 'insert' });
    expect(created.changes).toMatchObject({
      id: { before: null, after: user.id },
      name: { before: null, after: 'Grace' },
      email: { before: null, after: 'grace@example.com' },
      password_hash: { before: null, after: '[REDACTED]' },
      role: { before: null, after: 'user' },
      status: { before: null, after: 'active' },
    });
    expect(created.changes).not.toHaveProperty('updated_at');
    expectContext(created, ok.requestId, 'POST', '/auth/signup');
    const { password_hash: hash } = raw.prepare('select password_hash from users where id = ?').get(user.id) as { password_hash: string };
    expect(raw.prepare(`select count(*) as n from activity_logs where instr(coalesce(changes, '') || coalesce(metadata, ''), ?) > 0`).get(hash)).toEqual({ n: 0 });
    const row = only(ok.rows, 'user.signup');
    expect(row.status).toBe('success');
    expect(party(row, 'actor')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(party(row, 'target')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(row.metadata).toEqual({ email: 'grace@example.com' });
    expect(row.changes).toBeNull();
    expect(row.error).toBeNull();
    expectContext(row, ok.requestId, 'POST', '/auth/signup');

    const taken = await call('POST', '/auth/signup', { body: { name: 'Grace 2', email: 'GRACE@example.com', password: 'another-secret-pw' } });
    expect(taken.response.status).toBe(409);
    const failed = only(taken.rows, 'user.signup');
    expect(failed.status).toBe('failure');
    expect(party(failed, 'actor')).toEqual({ type: 'anonymous', id: null, name: null });
    expect(failed.target_type).toBeNull();
    expect(failed.metadata).toEqual({ email: 'grace@example.com', reason: 'email_taken' });
    expectContext(failed, taken.requestId, 'POST', '/auth/signup');
    expect(JSON.stringify(taken.rows)).not.toContain('another-secret-pw');

    const invalid = await call('POST', '/auth/signup', { body: { email: 'x@example.com', password: 'short' } });
    expect(invalid.response.status).toBe(400);
    expect(only(invalid.rows, 'user.signup').metadata).toEqual({ email: 'x@example.com', reason: 'invalid_input' });
  });

  it('user.login: success as the user; a failed login is one denied record with the email, never the password', async () => {
    const ok = await call('POST', '/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(ok.response.status).toBe(200);
    const row = only(ok.rows, 'user.login');
    expect(row.status).toBe('success');
    expect(party(row, 'actor')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(party(row, 'target')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(row.metadata).toEqual({ email: user.email });
    expectContext(row, ok.requestId, 'POST', '/auth/login');
    expect(ok.rows).toHaveLength(1);

    const wrong = await call('POST', '/auth/login', { body: { email: 'Grace@Example.com', password: 'hunter2-wrong' } });
    expect(wrong.response.status).toBe(401);
    const denied = only(wrong.rows, 'user.login');
    expect(denied.status).toBe('denied');
    expect(party(denied, 'actor')).toEqual({ type: 'anonymous', id: null, name: null });
    expect(party(denied, 'target')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(denied.metadata).toEqual({ email: 'grace@example.com', reason: 'wrong_password' });
    expectContext(denied, wrong.requestId, 'POST', '/auth/login');
    // One refusal, one record: the 401 adds no automatic http.post.
    expect(wrong.rows.map((r) => r.action)).toEqual(['user.login']);
    expect(JSON.stringify(wrong.rows)).not.toContain('hunter2');

    const unknown = await call('POST', '/auth/login', { body: { email: 'ghost@example.com', password: 'hunter2-wrong' } });
    const ghost = only(unknown.rows, 'user.login');
    expect(ghost.metadata).toEqual({ email: 'ghost@example.com', reason: 'unknown_email' });
    expect(ghost.target_type).toBeNull();
  });

  it('user.preferences.update: the first answers from nothing, then only the changed fields', async () => {
    const first = await call('PUT', '/me/preferences', { token, body: { diet: 'vegan', allergies: ['soy'], caloriesPerDay: 1800, mealsPerDay: 3 } });
    expect(first.response.status).toBe(200);
    const row = only(first.rows, 'user.preferences.update');
    expect(row.status).toBe('success');
    expect(party(row, 'actor')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(party(row, 'target')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(row.metadata).toBeNull();
    expect(row.changes).toEqual({
      diet: { before: null, after: 'vegan' },
      allergies: { before: null, after: ['soy'] },
      caloriesPerDay: { before: null, after: 1800 },
      mealsPerDay: { before: null, after: 3 },
    });
    expectContext(row, first.requestId, 'PUT', '/me/preferences');

    const second = await call('PUT', '/me/preferences', { token, body: { diet: 'vegan', allergies: ['soy', 'sesame'], caloriesPerDay: 2000, mealsPerDay: 3 } });
    expect(only(second.rows, 'user.preferences.update').changes).toEqual({
      allergies: { before: ['soy'], after: ['sesame', 'soy'] },
      caloriesPerDay: { before: 1800, after: 2000 },
    });

    const invalid = await call('PUT', '/me/preferences', { token, body: { diet: 'keto' } });
    expect(invalid.response.status).toBe(400);
    const failed = only(invalid.rows, 'user.preferences.update');
    expect(failed.status).toBe('failure');
    expect(failed.metadata).toEqual({ reason: 'invalid_input' });
    expect(failed.changes).toBeNull();
  });

  it('plan.generate: failure with the reason, success with the plan size', async () => {
    const tooFew = await call('POST', '/plans', { token });
    expect(tooFew.response.status).toBe(422);
    const failed = only(tooFew.rows, 'plan.generate');
    expect(failed.status).toBe('failure');
    expect(party(failed, 'actor')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(party(failed, 'target')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(failed.metadata).toEqual({ reason: 'not_enough_recipes', fitting: tooFew.response.body.details.fitting, needed: 7 });
    expectContext(failed, tooFew.requestId, 'POST', '/plans');
    expect(tooFew.rows).toHaveLength(1);

    await call('PUT', '/me/preferences', { token, body: { diet: 'omnivore', allergies: [], caloriesPerDay: 2000, mealsPerDay: 2 } });
    const ok = await call('POST', '/plans', { token });
    expect(ok.response.status).toBe(201);
    const plan = ok.response.body.plan;
    const row = only(ok.rows, 'plan.generate');
    expect(row.status).toBe('success');
    expect(party(row, 'target')).toEqual({ type: 'meal_plan', id: plan.id, name: null });
    expect(row.metadata).toEqual({ weekStart: plan.weekStart, meals: 14, recipes: 12, fitting: 12 });
    expectContext(row, ok.requestId, 'POST', '/plans');
  });

  let recipeId: string;

  it('recipe.created / recipe.updated: captured by the triggers in the same transaction as the change, as the admin, with the changed columns', async () => {
    const created = await call('POST', '/admin/recipes', {
      token: adminToken,
      body: { title: 'Audit Stew', diet: 'omnivore', allergens: [], calories: 500, ingredients: ['beef'], instructions: 'Stew.' },
    });
    expect(created.response.status).toBe(201);
    recipeId = created.response.body.recipe.id;
    // The captured row is the record: no explicit recipe.create restates it.
    expect(created.rows.map((r) => r.action)).toEqual(['recipe.created']);
    const create = only(created.rows, 'recipe.created');
    expect(create.status).toBe('success');
    expect(party(create, 'actor')).toEqual({ type: 'admin', id: adminId, name: 'Admin' });
    expect(party(create, 'target')).toEqual({ type: 'recipe', id: recipeId, name: 'Audit Stew' });
    expect(create.metadata).toEqual({ table: 'recipes', operation: 'insert' });
    expect(create.changes).toMatchObject({
      title: { before: null, after: 'Audit Stew' },
      slug: { before: null, after: 'audit-stew' },
      calories: { before: null, after: 500 },
      published: { before: null, after: 1 },
      active: { before: null, after: 1 },
    });
    expect(create.changes).not.toHaveProperty('updated_at');
    expectContext(create, created.requestId, 'POST', '/admin/recipes');

    const updated = await call('PATCH', `/admin/recipes/${recipeId}`, { token: adminToken, body: { title: 'Audit Stew Supreme', calories: 550, allergens: ['celery'] } });
    expect(updated.response.status).toBe(200);
    expect(updated.rows.map((r) => r.action)).toEqual(['recipe.updated']);
    const update = only(updated.rows, 'recipe.updated');
    expect(update.status).toBe('success');
    expect(party(update, 'actor')).toEqual({ type: 'admin', id: adminId, name: 'Admin' });
    expect(party(update, 'target')).toEqual({ type: 'recipe', id: recipeId, name: 'Audit Stew Supreme' });
    expect(update.metadata).toEqual({ table: 'recipes', operation: 'update' });
    // The changed columns only, as stored: the allergens column holds JSON text.
    expect(update.changes).toEqual({
      title: { before: 'Audit Stew', after: 'Audit Stew Supreme' },
      slug: { before: 'audit-stew', after: 'audit-stew-supreme' },
      calories: { before: 500, after: 550 },
      allergens: { before: '[]', after: '["celery"]' },
    });
    expectContext(update, updated.requestId, 'PATCH', '/admin/recipes/:id');

    const missing = await call('PATCH', '/admin/recipes/no-such-recipe', { token: adminToken, body: { calories: 1 } });
    expect(missing.response.status).toBe(404);
    const failedUpdate = only(missing.rows, 'recipe.update');
    expect(failedUpdate.status).toBe('failure');
    expect(party(failedUpdate, 'target')).toEqual({ type: 'recipe', id: 'no-such-recipe', name: null });
    expect(failedUpdate.metadata).toEqual({ reason: 'recipe_not_found' });

    // A soft delete is an update of the active flag.
    const deleted = await call('DELETE', `/admin/recipes/${recipeId}`, { token: adminToken });
    expect(deleted.response.status).toBe(204);
    expect(deleted.rows.map((r) => r.action)).toEqual(['recipe.updated']);
    const remove = only(deleted.rows, 'recipe.updated');
    expect(remove.status).toBe('success');
    expect(party(remove, 'actor')).toEqual({ type: 'admin', id: adminId, name: 'Admin' });
    expect(party(remove, 'target')).toEqual({ type: 'recipe', id: recipeId, name: 'Audit Stew Supreme' });
    expect(remove.changes).toEqual({ active: { before: 1, after: 0 } });
    expectContext(remove, deleted.requestId, 'DELETE', '/admin/recipes/:id');

    const again = await call('DELETE', `/admin/recipes/${recipeId}`, { token: adminToken });
    expect(again.response.status).toBe(404);
    expect(only(again.rows, 'recipe.delete')).toMatchObject({ status: 'failure', metadata: { reason: 'recipe_not_found' } });

    const invalid = await call('POST', '/admin/recipes', { token: adminToken, body: { title: 'x' } });
    expect(invalid.response.status).toBe(400);
    expect(only(invalid.rows, 'recipe.create')).toMatchObject({ status: 'failure', metadata: { reason: 'invalid_input' } });
  });

  it('rolls a recipe update back when its captured record cannot be written (the trigger runs in the update)', async () => {
    const created = await app.request('POST', '/admin/recipes', {
      token: adminToken,
      body: { title: 'Atomic Soup', diet: 'vegan', allergens: [], calories: 200, ingredients: ['water'], instructions: 'Boil.' },
    });
    const id = created.body.recipe.id as string;
    raw.exec(`create trigger refuse_atomic before insert on activity_logs when new.target_name = 'Atomic Soup 2'
      begin select raise(abort, 'audit write refused'); end`);
    try {
      const refused = await call('PATCH', `/admin/recipes/${id}`, { token: adminToken, body: { title: 'Atomic Soup 2' } });
      expect(refused.response.status).toBe(500);
      expect(refused.response.body).toEqual({ error: 'internal_error', message: 'something went wrong; it has been logged', requestId: refused.requestId });
      const recipe = await app.db.selectFrom('recipes').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      expect(recipe.title).toBe('Atomic Soup');
      expect(recipe.updated_at).toBe(created.body.recipe.updatedAt);
      expect(refused.rows.map((r) => r.action)).toEqual(['system.error']);
      expect(refused.rows[0]!.error.message).toContain('audit write refused');
    } finally {
      raw.exec('drop trigger refuse_atomic');
    }
  });

  it('suspend / reactivate: captured as user.updated of the status, by the admin; a refusal is admin.user.suspend failure; a suspended user is denied automatically', async () => {
    const suspended = await call('POST', `/admin/users/${user.id}/suspend`, { token: adminToken });
    expect(suspended.response.status).toBe(200);
    expect(suspended.rows.map((r) => r.action)).toEqual(['user.updated']);
    const row = only(suspended.rows, 'user.updated');
    expect(row.status).toBe('success');
    expect(party(row, 'actor')).toEqual({ type: 'admin', id: adminId, name: 'Admin' });
    expect(party(row, 'target')).toEqual({ type: 'user', id: user.id, name: user.email });
    // updated_at is ignored: the status is the change.
    expect(row.changes).toEqual({ status: { before: 'active', after: 'suspended' } });
    expect(row.metadata).toEqual({ table: 'users', operation: 'update' });
    expectContext(row, suspended.requestId, 'POST', '/admin/users/:id/suspend');

    const twice = await call('POST', `/admin/users/${user.id}/suspend`, { token: adminToken });
    expect(only(twice.rows, 'admin.user.suspend')).toMatchObject({ status: 'failure', target_id: user.id, metadata: { reason: 'already_suspended' } });

    const refused = await call('GET', '/me', { token });
    expect(refused.response.status).toBe(403);
    const automatic = only(refused.rows, 'http.get');
    expect(automatic.status).toBe('denied');
    expect(party(automatic, 'actor')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(automatic.metadata).toMatchObject({ statusCode: 403 });
    expectContext(automatic, refused.requestId, 'GET', '/me');

    const login = await call('POST', '/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(login.response.status).toBe(403);
    expect(only(login.rows, 'user.login')).toMatchObject({ status: 'denied', target_id: user.id, metadata: { email: user.email, reason: 'suspended' } });
    expect(login.rows).toHaveLength(1);

    const reactivated = await call('POST', `/admin/users/${user.id}/reactivate`, { token: adminToken });
    expect(reactivated.response.status).toBe(200);
    expect(reactivated.rows.map((r) => r.action)).toEqual(['user.updated']);
    const back = only(reactivated.rows, 'user.updated');
    expect(back.status).toBe('success');
    expect(party(back, 'actor')).toEqual({ type: 'admin', id: adminId, name: 'Admin' });
    expect(party(back, 'target')).toEqual({ type: 'user', id: user.id, name: user.email });
    expect(back.changes).toEqual({ status: { before: 'suspended', after: 'active' } });
    expectContext(back, reactivated.requestId, 'POST', '/admin/users/:id/reactivate');
  });

  it('records every 401 and 403 automatically, with the route template', async () => {
    const anonymous = await call('GET', '/plans/current');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.rows).toHaveLength(1);
    expect(anonymous.rows[0]).toMatchObject({ action: 'http.get', status: 'denied', actor_type: 'anonymous', metadata: { statusCode: 401 } });
    expectContext(anonymous.rows[0]!, anonymous.requestId, 'GET', '/plans/current');

    const notAdmin = await call('DELETE', `/admin/recipes/${recipeId}`, { token });
    expect(notAdmin.response.status).toBe(403);
    expect(notAdmin.rows).toHaveLength(1);
    expect(notAdmin.rows[0]).toMatchObject({ action: 'http.delete', status: 'denied', actor_type: 'user', actor_id: user.id, metadata: { statusCode: 403 } });
    expectContext(notAdmin.rows[0]!, notAdmin.requestId, 'DELETE', '/admin/recipes/:id');

    const logs = await call('GET', '/admin/logs', { token });
    expect(logs.response.status).toBe(403);
    // One record: the admin API's own denied read, with the mount's route and the full path.
    expect(logs.rows.map((r) => r.action)).toEqual(['activity.query']);
    expect(logs.rows[0]).toMatchObject({ status: 'denied', actor_id: user.id, metadata: { path: '/admin/logs' } });
    expectContext(logs.rows[0]!, logs.requestId, 'GET', '/admin/logs/*');
    const one = await call('GET', '/admin/logs/some-id', { token });
    expect(one.rows[0]).toMatchObject({ action: 'activity.query', status: 'denied', metadata: { path: '/admin/logs/some-id' } });
    expectContext(one.rows[0]!, one.requestId, 'GET', '/admin/logs/*');
  });

  it('user.logout: as the user', async () => {
    const out = await call('POST', '/auth/logout', { token });
    expect(out.response.status).toBe(204);
    const row = only(out.rows, 'user.logout');
    expect(row.status).toBe('success');
    expect(party(row, 'actor')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(party(row, 'target')).toEqual({ type: 'user', id: user.id, name: 'Grace' });
    expect(row.metadata).toEqual({ scope: 'this' });
    expectContext(row, out.requestId, 'POST', '/auth/logout');
  });

  it('records an unhandled error once as system.error, and the client gets a clean 500', async () => {
    const other = await app.signup('Error Case');
    await app.request('PUT', '/me/preferences', { token: other.token, body: { diet: 'omnivore', allergies: [], caloriesPerDay: 2000, mealsPerDay: 3 } });
    // A real failure: the plans table is gone when the plan is saved.
    raw.exec('alter table meal_plans rename to meal_plans_away');
    try {
      const broken = await call('POST', '/plans', { token: other.token });
      expect(broken.response.status).toBe(500);
      expect(broken.response.body).toEqual({ error: 'internal_error', message: 'something went wrong; it has been logged', requestId: broken.requestId });
      expect(broken.response.text).not.toMatch(/meal_plans|at .*\.ts/);
      expect(broken.rows.map((r) => r.action)).toEqual(['system.error']);
      const row = broken.rows[0]!;
      expect(row.status).toBe('failure');
      expect(party(row, 'actor')).toEqual({ type: 'user', id: other.user.id, name: 'Error Case' });
      expect(row.error).toMatchObject({ name: 'SqliteError', message: 'no such table: meal_plans', code: 'SQLITE_ERROR' });
      expectContext(row, broken.requestId, 'POST', '/plans');
    } finally {
      raw.exec('alter table meal_plans_away rename to meal_plans');
    }
  });

  it('loses nothing: the logger reports no invalid, dropped or failed event', () => {
    expect(app.activity.stats()).toMatchObject({ invalid: 0, dropped: 0, failed: 0 });
  });
});
