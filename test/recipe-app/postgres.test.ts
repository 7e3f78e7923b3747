import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../examples/recipe-app/config.js';
import { ADMIN, parseRow, startTestApp, type TestApp } from './helpers.js';

const POSTGRES_URL = process.env.ACTIVITY_LOG_POSTGRES_URL;
if (!POSTGRES_URL) console.warn('[recipe-app] PostgreSQL variant skipped: set ACTIVITY_LOG_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it');

/** With the search_path pinned to one schema, so the app's tables and its activity log live there alone. */
function inSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

describe.skipIf(!POSTGRES_URL)('recipe app on PostgreSQL (DATABASE_URL)', () => {
  const schema = `recipe_app_${process.pid}_${Date.now()}`;
  let admin: pg.Client;
  let app: TestApp;
  let adminId: string;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    const databaseUrl = inSchema(POSTGRES_URL!, schema);
    expect(readConfig({ DATABASE_URL: databaseUrl }).databaseUrl).toBe(databaseUrl);
    app = await startTestApp({ databaseUrl });
  });
  afterAll(async () => {
    await app?.stop();
    await admin?.query(`drop schema if exists ${schema} cascade`);
    await admin?.end();
  });

  it('creates its tables and the activity log in PostgreSQL, and seeds the admin and a dozen recipes', async () => {
    expect(app.dialect).toBe('postgres');
    const { rows } = await admin.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = $1 order by table_name`, [schema]);
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['activity_logs', 'activity_logs_schema', 'meal_plans', 'preferences', 'recipes', 'sessions', 'users']),
    );
    expect((await admin.query(`select count(*)::int as n from ${schema}.recipes`)).rows[0].n).toBe(12);
    expect((await app.request('GET', '/recipes?q=chicken')).body.total).toBe(2);
  });

  /** The captured records (metadata.table) apart from the events the app logs. */
  async function stored() {
    const { rows } = await admin.query(`select * from ${schema}.activity_logs order by id`);
    const all = rows.map(parseRow);
    return { logged: all.filter((r) => !r.metadata?.table), captured: all.filter((r) => r.metadata?.table) };
  }

  it('serves the app and logs to PostgreSQL; the recipe update captured inside its transaction, as the admin', async () => {
    const adminToken = await app.login(ADMIN.email, ADMIN.password);
    adminId = (await app.request('GET', '/me', { token: adminToken })).body.user.id;
    const { token, user } = await app.signup('Pg Cook');
    await app.request('PUT', '/me/preferences', { token, body: { diet: 'vegan', allergies: [], caloriesPerDay: 2000, mealsPerDay: 3 } });
    const refused = await app.request('POST', '/plans', { token });
    expect(refused.status).toBe(422);
    const recipe = (await app.request('GET', '/recipes/beef-chili')).body.recipe;
    const updated = await app.request('PATCH', `/admin/recipes/${recipe.id}`, { token: adminToken, body: { calories: 640 }, headers: { 'x-request-id': 'pg-update-1' } });
    expect(updated.status).toBe(200);
    expect((await app.request('POST', `/admin/users/${user.id}/suspend`, { token: adminToken })).status).toBe(200);
    expect((await app.request('GET', '/me', { token })).status).toBe(403);
    await app.activity.flush();

    const { logged, captured } = await stored();
    expect(logged.map((r) => `${r.action}:${r.status}`)).toEqual([
      'user.login:success',
      'user.signup:success',
      'user.preferences.update:success',
      'plan.generate:failure',
      'http.get:denied',
    ]);
    const seeded = captured.filter((r) => r.actor_id === 'recipe-app.seed');
    expect(seeded.map((r) => r.action).sort()).toEqual([...Array(12).fill('recipe.created'), 'user.created']);
    expect(captured.filter((r) => !seeded.includes(r)).map((r) => `${r.action}:${r.actor_type}`)).toEqual([
      'user.created:anonymous',
      'recipe.updated:admin',
      'user.updated:admin',
    ]);
    const update = captured.find((r) => r.action === 'recipe.updated')!;
    expect(update).toMatchObject({ actor_type: 'admin', actor_id: adminId, actor_name: 'Admin', target_type: 'recipe', target_id: recipe.id, target_name: 'Beef Chili' });
    expect(update.changes).toEqual({ calories: { before: 650, after: 640 } });
    expect(update.context).toMatchObject({ requestId: 'pg-update-1', route: '/admin/recipes/:id', method: 'PATCH' });
    expect(update.occurred_at).toBeInstanceOf(Date);
    const suspend = captured.find((r) => r.action === 'user.updated')!;
    expect(suspend).toMatchObject({ actor_id: adminId, target_id: user.id, target_name: user.email, changes: { status: { before: 'active', after: 'suspended' } } });
    const signedUp = captured.find((r) => r.action === 'user.created' && r.target_id === user.id)!;
    expect(signedUp.changes.password_hash).toEqual({ before: null, after: '[REDACTED]' });
    expect(JSON.stringify(captured)).not.toContain('scrypt$');
    expect(logged.find((r) => r.action === 'plan.generate')!.metadata).toMatchObject({ reason: 'not_enough_recipes', needed: 7 });
    expect((await admin.query(`select calories from ${schema}.recipes where id = $1`, [recipe.id])).rows[0].calories).toBe(640);
  });

  it('records a bulk publish as one recipe.updated per recipe, by the admin', async () => {
    const adminToken = await app.login(ADMIN.email, ADMIN.password);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const created = await app.request('POST', '/admin/recipes', {
        token: adminToken,
        body: { title: `Pg Draft ${i}`, diet: 'vegan', allergens: [], calories: 300, ingredients: ['beans'], instructions: 'Cook.', draft: true },
      });
      ids.push(created.body.recipe.id);
    }
    const published = await app.request('POST', '/admin/recipes/publish', { token: adminToken, headers: { 'x-request-id': 'pg-publish' } });
    expect(published.status).toBe(200);
    expect(published.body).toEqual({ published: [...ids].sort() });
    const { captured } = await stored();
    const rows = captured.filter((r) => r.context?.requestId === 'pg-publish');
    expect(rows.map((r) => r.target_id).sort()).toEqual([...ids].sort());
    for (const row of rows) {
      expect(row).toMatchObject({ action: 'recipe.updated', actor_type: 'admin', actor_id: adminId, context: { route: '/admin/recipes/publish' } });
      expect(row.changes).toEqual({ published: { before: 0, after: 1 } });
    }
  });

  it('records a row changed by hand (psql on the app\'s DATABASE_URL) with the actor database and the database user', async () => {
    const psql = new pg.Client({ connectionString: inSchema(POSTGRES_URL!, schema), application_name: 'psql' });
    await psql.connect();
    try {
      await psql.query(`update recipes set calories = 660 where slug = 'beef-chili'`);
    } finally {
      await psql.end();
    }
    const { rows } = await admin.query<{ current_user: string }>('select current_user');
    const { captured } = await stored();
    const byHand = captured.filter((r) => r.actor_type === 'database');
    expect(byHand).toHaveLength(1);
    expect(byHand[0]).toMatchObject({ action: 'recipe.updated', actor_id: rows[0]!.current_user, actor_name: 'psql', target_name: 'Beef Chili', context: null });
    expect(byHand[0]!.changes).toEqual({ calories: { before: 640, after: 660 } });
  });
});
