import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecipeApp } from '../../examples/recipe-app/app.js';
import { readConfig } from '../../examples/recipe-app/config.js';
import { ADMIN, parseRow, startTestApp, type ActivityRow, type TestApp } from './helpers.js';

/**
 * Change capture in the recipe app, over real HTTP on 127.0.0.1 and a real SQLite file: who a
 * captured row change is attributed to (the admin of the request, the seed, `database` for a
 * change made outside the app), and a bulk publish recorded row by row. The log is read through
 * a second connection of its own, which is also the "outside" writer.
 */
describe('recipe app change capture (SQLite)', () => {
  let app: TestApp;
  let outside: Database.Database;
  let adminToken: string;
  let adminId: string;

  beforeAll(async () => {
    app = await startTestApp();
    outside = new Database(app.databaseFile, { timeout: 5000 });
    adminToken = await app.login(ADMIN.email, ADMIN.password);
    adminId = (await app.request('GET', '/me', { token: adminToken })).body.user.id;
  });
  afterAll(async () => {
    outside?.close();
    await app?.stop();
  });

  function captured(where: string, ...params: unknown[]): ActivityRow[] {
    return outside
      .prepare(`select * from activity_logs where json_extract(metadata, '$.table') is not null and (${where}) order by id`)
      .all(...params)
      .map((row) => parseRow(row as Record<string, unknown>));
  }
  const ofRequest = (requestId: string) => captured(`json_extract(context, '$.requestId') = ?`, requestId);
  const admin = () => ({ actor_type: 'admin', actor_id: adminId, actor_name: 'Admin' });

  async function draft(title: string): Promise<string> {
    const response = await app.request('POST', '/admin/recipes', {
      token: adminToken,
      body: { title, diet: 'vegan', allergens: [], calories: 300, ingredients: ['beans'], instructions: 'Cook.', draft: true },
    });
    expect(response.status).toBe(201);
    expect(response.body.recipe).toMatchObject({ published: false, active: true });
    return response.body.recipe.id;
  }

  it('records the seeded admin and recipes as the seed, once: a restart on the same file records nothing', async () => {
    const seeded = captured(`actor_id = 'recipe-app.seed'`);
    expect(seeded.map((row) => row.action).sort()).toEqual([...Array(12).fill('recipe.created'), 'user.created']);
    expect(seeded.every((row) => row.actor_type === 'system' && row.actor_name === 'Seed data')).toBe(true);
    expect(seeded.find((row) => row.target_name === 'Beef Chili')!.changes).toMatchObject({ calories: { before: null, after: 650 } });

    await app.activity.flush();
    const before = (outside.prepare('select count(*) as n from activity_logs').get() as { n: number }).n;
    // A second process on the same file: migrations, capture and seed again, all no-ops.
    const again = await startRecipeApp({ ...readConfig({}), port: 0, host: '127.0.0.1', databaseFile: app.databaseFile });
    try {
      expect(again.seeded).toEqual({ adminCreated: false, recipesCreated: 0 });
    } finally {
      await again.close();
    }
    expect((outside.prepare('select count(*) as n from activity_logs').get() as { n: number }).n).toBe(before);
  });

  it('records a recipe edited through the admin API as recipe.updated by the admin, with the changed fields only', async () => {
    const recipe = (await app.request('GET', '/recipes/chickpea-curry')).body.recipe;
    const edited = await app.request('PATCH', `/admin/recipes/${recipe.id}`, {
      token: adminToken,
      body: { description: 'A warming, fragrant coconut curry.', calories: 540 },
      headers: { 'x-request-id': 'capture-edit' },
    });
    expect(edited.status).toBe(200);
    const rows = ofRequest('capture-edit');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'recipe.updated',
      status: 'success',
      ...admin(),
      target_type: 'recipe',
      target_id: recipe.id,
      target_name: 'Chickpea Curry',
      metadata: { table: 'recipes', operation: 'update' },
      context: { requestId: 'capture-edit', method: 'PATCH', route: '/admin/recipes/:id', ip: '127.0.0.1' },
    });
    expect(rows[0]!.changes).toEqual({
      description: { before: 'A warming coconut curry.', after: 'A warming, fragrant coconut curry.' },
      calories: { before: 520, after: 540 },
    });
    // The same edit again changes only updated_at, which is ignored: nothing is recorded.
    const same = await app.request('PATCH', `/admin/recipes/${recipe.id}`, { token: adminToken, body: { calories: 540 }, headers: { 'x-request-id': 'capture-same' } });
    expect(same.status).toBe(200);
    expect(ofRequest('capture-same')).toEqual([]);
  });

  it('records a bulk publish, one UPDATE statement, as one recipe.updated per recipe, each by the admin', async () => {
    const ids = [];
    for (let i = 1; i <= 6; i++) ids.push(await draft(`Bulk Draft ${i}`));
    // Drafts are not public.
    expect((await app.request('GET', `/recipes/${ids[0]}`)).status).toBe(404);
    expect((await app.request('GET', '/recipes?q=bulk draft')).body.total).toBe(0);

    // A chosen set first.
    const some = await app.request('POST', '/admin/recipes/publish', { token: adminToken, body: { ids: ids.slice(0, 2) }, headers: { 'x-request-id': 'capture-publish-some' } });
    expect(some.status).toBe(200);
    expect(some.body).toEqual({ published: ids.slice(0, 2).sort() });
    expect(ofRequest('capture-publish-some').map((row) => row.target_id).sort()).toEqual(ids.slice(0, 2).sort());

    // Then every draft left.
    const all = await app.request('POST', '/admin/recipes/publish', { token: adminToken, headers: { 'x-request-id': 'capture-publish-all' } });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ published: ids.slice(2).sort() });
    const rows = ofRequest('capture-publish-all');
    expect(rows).toHaveLength(4);
    expect(rows.map((row) => row.target_id).sort()).toEqual(ids.slice(2).sort());
    for (const row of rows) {
      expect(row).toMatchObject({ action: 'recipe.updated', status: 'success', ...admin(), target_type: 'recipe', context: { route: '/admin/recipes/publish', method: 'POST' } });
      expect(row.target_name).toMatch(/^Bulk Draft [3-6]$/);
      expect(row.changes).toEqual({ published: { before: 0, after: 1 } });
    }
    expect(new Set(rows.map((row) => row.id)).size).toBe(4);
    expect((await app.request('GET', '/recipes?q=bulk draft')).body.total).toBe(6);

    // Nothing left to publish: nothing recorded.
    const none = await app.request('POST', '/admin/recipes/publish', { token: adminToken, headers: { 'x-request-id': 'capture-publish-none' } });
    expect(none.body).toEqual({ published: [] });
    expect(ofRequest('capture-publish-none')).toEqual([]);
  });

  it('refuses a publish to a non-admin (403) and an invalid one (400, recipe.publish failure)', async () => {
    const { token } = await app.signup('Not Admin');
    expect((await app.request('POST', '/admin/recipes/publish', { token })).status).toBe(403);
    const invalid = await app.request('POST', '/admin/recipes/publish', { token: adminToken, body: { ids: 'all' }, headers: { 'x-request-id': 'capture-publish-bad' } });
    expect(invalid.status).toBe(400);
    await app.activity.flush();
    const rows = outside.prepare(`select * from activity_logs where json_extract(context, '$.requestId') = 'capture-publish-bad'`).all().map((row) => parseRow(row as Record<string, unknown>));
    expect(rows.map((row) => `${row.action}:${row.status}`)).toEqual(['recipe.publish:failure']);
    expect(rows[0]!.metadata).toEqual({ reason: 'invalid_input' });
  });

  it('records a row changed by hand through another connection (the sqlite3 shell) with the actor database', async () => {
    const recipe = (await app.request('GET', '/recipes/beef-chili')).body.recipe;
    const since = (outside.prepare('select max(id) as id from activity_logs').get() as { id: string }).id;
    outside.prepare(`update recipes set calories = 700, updated_at = ? where slug = 'beef-chili'`).run(new Date().toISOString());
    const user = (await app.signup('Hand Edited')).user;
    outside.prepare(`update users set name = 'Edited By Hand' where id = ?`).run(user.id);

    const rows = captured('id > ? and actor_type = ?', since, 'database');
    expect(rows.map((row) => `${row.action}:${row.target_id}`)).toEqual([`recipe.updated:${recipe.id}`, `user.updated:${user.id}`]);
    expect(rows[0]).toMatchObject({ actor_id: 'sqlite', actor_name: null, target_name: 'Beef Chili', context: null, metadata: { table: 'recipes', operation: 'update' } });
    expect(rows[0]!.changes).toEqual({ calories: { before: 650, after: 700 } });
    expect(rows[1]!.changes).toEqual({ name: { before: 'Hand Edited', after: 'Edited By Hand' } });
    // The app sees the change.
    expect((await app.request('GET', '/recipes/beef-chili')).body.recipe.calories).toBe(700);
  });

  it('loses nothing: the logger reports no invalid, dropped or failed event', () => {
    expect(app.activity.stats()).toMatchObject({ invalid: 0, dropped: 0, failed: 0 });
  });
});
