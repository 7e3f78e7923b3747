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

  it('serves the app and logs to PostgreSQL, the recipe update inside the same transaction', async () => {
    const adminToken = await app.login(ADMIN.email, ADMIN.password);
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

    const { rows } = await admin.query(`select * from ${schema}.activity_logs order by id`);
    const stored = rows.map(parseRow);
    expect(stored.map((r) => `${r.action}:${r.status}`)).toEqual([
      'user.login:success',
      'user.signup:success',
      'user.preferences.update:success',
      'plan.generate:failure',
      'recipe.update:success',
      'admin.user.suspend:success',
      'http.get:denied',
    ]);
    const update = stored.find((r) => r.action === 'recipe.update')!;
    expect(update).toMatchObject({ actor_type: 'admin', target_type: 'recipe', target_id: recipe.id, target_name: 'Beef Chili' });
    expect(update.changes).toEqual({ calories: { before: 650, after: 640 } });
    expect(update.context).toMatchObject({ requestId: 'pg-update-1', route: '/admin/recipes/:id', method: 'PATCH' });
    expect(update.occurred_at).toBeInstanceOf(Date);
    expect(stored.find((r) => r.action === 'plan.generate')!.metadata).toMatchObject({ reason: 'not_enough_recipes', needed: 7 });
    expect((await admin.query(`select calories from ${schema}.recipes where id = $1`, [recipe.id])).rows[0].calories).toBe(640);
  });
});
