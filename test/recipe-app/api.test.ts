import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from './helpers.js';

/** The recipe app's HTTP API, end to end, on a real server over a temporary SQLite file. */
describe('recipe app API', () => {
  let app: TestApp;
  let adminToken: string;

  beforeAll(async () => {
    app = await startTestApp();
    adminToken = await app.login(ADMIN.email, ADMIN.password);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('accounts', () => {
    it('signs a user up with a hashed password and returns a session token and cookie', async () => {
      const response = await app.request('POST', '/auth/signup', { body: { name: 'Ada', email: ' Ada@Example.com ', password: 'correct horse battery' } });
      expect(response.status).toBe(201);
      expect(response.body.user).toMatchObject({ name: 'Ada', email: 'ada@example.com', role: 'user', status: 'active' });
      expect(response.body.user).not.toHaveProperty('password_hash');
      expect(response.body.token).toMatch(/^[\w-]{40,}$/);
      expect(response.headers.get('set-cookie')).toMatch(/^session=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      const stored = await app.db.selectFrom('users').select('password_hash').where('email', '=', 'ada@example.com').executeTakeFirstOrThrow();
      expect(stored.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
      expect(stored.password_hash).not.toContain('correct horse');
      const me = await app.request('GET', '/me', { token: response.body.token });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ user: { email: 'ada@example.com' }, preferences: null });
    });

    it('refuses a sign-up with invalid fields (400, naming them) or a taken email (409)', async () => {
      const invalid = await app.request('POST', '/auth/signup', { body: { name: '', email: 'not-an-email', password: 'short' } });
      expect(invalid.status).toBe(400);
      expect(invalid.body.error).toBe('invalid_input');
      expect(invalid.body.details.fields.map((f: { field: string }) => f.field).sort()).toEqual(['email', 'name', 'password']);
      const taken = await app.request('POST', '/auth/signup', { body: { name: 'Admin 2', email: ADMIN.email, password: 'whatever-long' } });
      expect(taken.status).toBe(409);
      expect(taken.body).toEqual({ error: 'email_taken', message: 'an account with this email already exists' });
    });

    it('logs in with the right password only', async () => {
      const { user } = await app.signup('Login Tester');
      const ok = await app.request('POST', '/auth/login', { body: { email: user.email, password: 'correct horse battery' } });
      expect(ok.status).toBe(200);
      expect(ok.body.user.id).toBe(user.id);
      const wrong = await app.request('POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: 'invalid_credentials', message: 'wrong email or password' });
      const unknown = await app.request('POST', '/auth/login', { body: { email: 'nobody@example.com', password: 'whatever' } });
      expect(unknown.status).toBe(401);
      expect(unknown.body.error).toBe('invalid_credentials');
      const missing = await app.request('POST', '/auth/login', { body: { email: user.email } });
      expect(missing.status).toBe(400);
    });

    it('logs out: the token stops working', async () => {
      const { token } = await app.signup();
      expect((await app.request('POST', '/auth/logout', { token })).status).toBe(204);
      expect((await app.request('GET', '/me', { token })).status).toBe(401);
      expect((await app.request('POST', '/auth/logout', { token })).status).toBe(401);
    });

    it('answers 401 on authenticated routes without a valid session', async () => {
      for (const [method, path] of [['GET', '/me'], ['PUT', '/me/preferences'], ['POST', '/plans'], ['GET', '/plans/current']] as const) {
        const response = await app.request(method, path, { token: method === 'POST' ? 'not-a-real-token' : undefined });
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.body.error).toBe('unauthorized');
      }
    });

    it('saves the preferences questionnaire, and refuses invalid answers', async () => {
      const { token } = await app.signup();
      expect((await app.request('GET', '/me/preferences', { token })).body).toEqual({ preferences: null });
      const saved = await app.request('PUT', '/me/preferences', {
        token,
        body: { diet: 'vegetarian', allergies: ['Peanuts', 'milk', 'peanuts'], caloriesPerDay: 2100, mealsPerDay: 3 },
      });
      expect(saved.status).toBe(200);
      expect(saved.body.preferences).toMatchObject({ diet: 'vegetarian', allergies: ['milk', 'peanuts'], caloriesPerDay: 2100, mealsPerDay: 3 });
      expect((await app.request('GET', '/me/preferences', { token })).body.preferences).toEqual(saved.body.preferences);
      const invalid = await app.request('PUT', '/me/preferences', { token, body: { diet: 'carnivore', allergies: 'none', caloriesPerDay: 100, mealsPerDay: 9 } });
      expect(invalid.status).toBe(400);
      expect(invalid.body.details.fields.map((f: { field: string }) => f.field).sort()).toEqual(['allergies', 'caloriesPerDay', 'diet', 'mealsPerDay']);
    });

    it('serves a sign-in page, signs in through the form with a cookie, and signs out', async () => {
      const page = await app.request('GET', '/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('<form method="post" action="/auth/login">');
      const form = (password: string) =>
        fetch(`${app.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ email: ADMIN.email, password }),
          redirect: 'manual',
        });
      const refused = await form('wrong');
      expect(refused.status).toBe(401);
      expect(await refused.text()).toContain('wrong email or password');
      const signedIn = await form(ADMIN.password);
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.get('location')).toBe('/');
      const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
      const home = await app.request('GET', '/', { headers: { cookie } });
      expect(home.text).toContain('Signed in as <strong>Admin</strong>');
      expect(home.text).toContain('<a href="/admin/logs">Activity Logs</a>');
      expect((await app.request('GET', '/admin/logs', { headers: { cookie } })).status).toBe(200);
      const out = await fetch(`${app.url}/auth/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
      expect(out.status).toBe(303);
      expect((await app.request('GET', '/me', { headers: { cookie } })).status).toBe(401);
    });
  });

  describe('recipes', () => {
    it('lists the dozen seeded recipes by title, with pagination', async () => {
      const first = await app.request('GET', '/recipes?pageSize=5');
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ page: 1, pageSize: 5 });
      expect(first.body.total).toBeGreaterThanOrEqual(12);
      const titles = first.body.items.map((r: { title: string }) => r.title);
      expect(titles).toEqual([...titles].sort());
      const all = await app.request('GET', '/recipes?pageSize=100');
      const third = await app.request('GET', '/recipes?pageSize=5&page=3');
      expect(third.body.items.map((r: { id: string }) => r.id)).toEqual(all.body.items.slice(10, 15).map((r: { id: string }) => r.id));
      expect((await app.request('GET', '/recipes?page=0')).status).toBe(400);
      expect((await app.request('GET', '/recipes?pageSize=101')).status).toBe(400);
    });

    it('searches titles and descriptions, case-insensitively, with LIKE wildcards taken literally', async () => {
      const chicken = await app.request('GET', '/recipes?q=CHICKEN');
      expect(chicken.body.items.map((r: { slug: string }) => r.slug)).toEqual(['chicken-caesar-salad', 'roast-chicken-and-vegetables']);
      expect((await app.request('GET', '/recipes?q=lemony')).body.items.map((r: { slug: string }) => r.slug)).toEqual(['red-lentil-soup']);
      expect((await app.request('GET', '/recipes?q=%25')).body.total).toBe(0);
    });

    it('shows one active recipe by slug or id, and 404 for an unknown one', async () => {
      const bySlug = await app.request('GET', '/recipes/beef-chili');
      expect(bySlug.status).toBe(200);
      expect(bySlug.body.recipe).toMatchObject({ slug: 'beef-chili', title: 'Beef Chili', diet: 'omnivore', active: true });
      const byId = await app.request('GET', `/recipes/${bySlug.body.recipe.id}`);
      expect(byId.body.recipe).toEqual(bySlug.body.recipe);
      const missing = await app.request('GET', '/recipes/no-such-dish');
      expect(missing.status).toBe(404);
      expect(missing.body.error).toBe('recipe_not_found');
    });

    const newRecipe = { title: 'Green Pea Soup!', diet: 'vegan', allergens: ['Celery'], calories: 300, ingredients: ['peas', 'mint'], instructions: 'Simmer and blend.' };

    it('lets an admin create recipes, with a unique slug from the title', async () => {
      const created = await app.request('POST', '/admin/recipes', { token: adminToken, body: newRecipe });
      expect(created.status).toBe(201);
      expect(created.body.recipe).toMatchObject({ slug: 'green-pea-soup', title: 'Green Pea Soup!', description: '', allergens: ['celery'], active: true });
      expect(created.body.recipe.createdAt).toBe(created.body.recipe.updatedAt);
      const again = await app.request('POST', '/admin/recipes', { token: adminToken, body: newRecipe });
      expect(again.body.recipe.slug).toBe('green-pea-soup-2');
      expect((await app.request('GET', '/recipes/green-pea-soup-2')).status).toBe(200);
    });

    it('refuses recipe changes to anonymous (401), non-admins (403) and invalid input (400)', async () => {
      const { token } = await app.signup();
      expect((await app.request('POST', '/admin/recipes', { body: newRecipe })).status).toBe(401);
      const forbidden = await app.request('POST', '/admin/recipes', { token, body: newRecipe });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error).toBe('forbidden');
      expect((await app.request('PATCH', '/admin/recipes/x', { token, body: { calories: 1 } })).status).toBe(403);
      expect((await app.request('DELETE', '/admin/recipes/x', { token })).status).toBe(403);
      const invalid = await app.request('POST', '/admin/recipes', { token: adminToken, body: { ...newRecipe, calories: -5, extra: 1 } });
      expect(invalid.status).toBe(400);
      expect(invalid.body.error).toBe('invalid_input');
    });

    it('updates a recipe: a new title gets a new slug, updatedAt moves and createdAt stays', async () => {
      const created = (await app.request('POST', '/admin/recipes', { token: adminToken, body: { ...newRecipe, title: 'Plain Rice' } })).body.recipe;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const updated = await app.request('PATCH', `/admin/recipes/${created.id}`, { token: adminToken, body: { title: 'Saffron Rice', calories: 350 } });
      expect(updated.status).toBe(200);
      expect(updated.body.recipe).toMatchObject({ id: created.id, title: 'Saffron Rice', slug: 'saffron-rice', calories: 350, createdAt: created.createdAt });
      expect(Date.parse(updated.body.recipe.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
      expect((await app.request('GET', '/recipes/saffron-rice')).body.recipe).toEqual(updated.body.recipe);
      expect((await app.request('GET', '/recipes/plain-rice')).status).toBe(404);
      const same = await app.request('PATCH', `/admin/recipes/${created.id}`, { token: adminToken, body: { title: 'Saffron Rice' } });
      expect(same.body.recipe.slug).toBe('saffron-rice');
      expect((await app.request('PATCH', '/admin/recipes/no-such-id', { token: adminToken, body: { calories: 1 } })).status).toBe(404);
      expect((await app.request('PATCH', `/admin/recipes/${created.id}`, { token: adminToken, body: {} })).status).toBe(400);
      expect((await app.request('PATCH', `/admin/recipes/${created.id}`, { token: adminToken, body: { diet: 'keto' } })).status).toBe(400);
    });

    it('deletes softly: the recipe leaves the public list and detail, and stays in the database', async () => {
      const created = (await app.request('POST', '/admin/recipes', { token: adminToken, body: { ...newRecipe, title: 'Doomed Dish' } })).body.recipe;
      const before = (await app.request('GET', '/recipes?pageSize=100')).body.total;
      expect((await app.request('DELETE', `/admin/recipes/${created.id}`, { token: adminToken })).status).toBe(204);
      const after = await app.request('GET', '/recipes?pageSize=100');
      expect(after.body.total).toBe(before - 1);
      expect(after.body.items.some((r: { id: string }) => r.id === created.id)).toBe(false);
      expect((await app.request('GET', `/recipes/${created.id}`)).status).toBe(404);
      expect((await app.request('GET', '/recipes?q=doomed')).body.total).toBe(0);
      const row = await app.db.selectFrom('recipes').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
      expect(row.active).toBe(0);
      expect((await app.request('DELETE', `/admin/recipes/${created.id}`, { token: adminToken })).status).toBe(404);
    });
  });

  describe('meal plans', () => {
    const setPreferences = (token: string, preferences: object) => app.request('PUT', '/me/preferences', { token, body: preferences });

    it('asks for preferences before generating a plan (422)', async () => {
      const { token } = await app.signup();
      const response = await app.request('POST', '/plans', { token });
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('preferences_required');
      expect((await app.request('GET', '/plans/current', { token })).status).toBe(404);
    });

    it('fails with a clear message when too few recipes fit the preferences (422)', async () => {
      const { token } = await app.signup();
      await setPreferences(token, { diet: 'vegan', allergies: ['soy'], caloriesPerDay: 1800, mealsPerDay: 3 });
      const response = await app.request('POST', '/plans', { token });
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('not_enough_recipes');
      expect(response.body.message).toMatch(/^only \d+ active recipes? fits? your preferences \(vegan, without soy, at most 720 kcal per meal\); a weekly plan needs at least 7 different recipes/);
      expect(response.body.details.needed).toBe(7);
      expect(response.body.details.fitting).toBeLessThan(7);
    });

    it('generates a weekly plan from active recipes that fit, and shows it as the current plan', async () => {
      const { token } = await app.signup();
      await setPreferences(token, { diet: 'vegetarian', allergies: ['peanuts'], caloriesPerDay: 2000, mealsPerDay: 3 });
      const response = await app.request('POST', '/plans', { token });
      expect(response.status).toBe(201);
      const plan = response.body.plan;
      expect(plan.days).toHaveLength(7);
      expect(plan.mealCount).toBe(21);
      const recipes = (await app.request('GET', '/recipes?pageSize=100')).body.items as { id: string; diet: string; allergens: string[]; calories: number }[];
      for (const day of plan.days) {
        expect(day.meals).toHaveLength(3);
        for (const meal of day.meals) {
          const recipe = recipes.find((r) => r.id === meal.recipeId)!;
          expect(recipe, 'an active recipe').toBeDefined();
          expect(['vegetarian', 'vegan']).toContain(recipe.diet);
          expect(recipe.allergens).not.toContain('peanuts');
          expect(recipe.calories).toBeLessThanOrEqual(800);
        }
      }
      expect((await app.request('GET', '/plans/current', { token })).body.plan).toEqual(plan);
    });
  });

  describe('admin: users', () => {
    it('lists users newest first, with search, sign-up date filters and pagination', async () => {
      const tag = `Zebra${Date.now()}`;
      const a = await app.signup(`${tag} One`);
      const b = await app.signup(`${tag} Two`);
      const found = await app.request('GET', `/admin/users?q=${tag.toLowerCase()}`, { token: adminToken });
      expect(found.status).toBe(200);
      expect(found.body.items.map((u: { id: string }) => u.id)).toEqual([b.user.id, a.user.id]);
      expect(found.body.total).toBe(2);
      const byEmail = await app.request('GET', `/admin/users?q=${encodeURIComponent(a.user.email)}`, { token: adminToken });
      expect(byEmail.body.items.map((u: { id: string }) => u.id)).toEqual([a.user.id]);
      const paged = await app.request('GET', `/admin/users?q=${tag}&pageSize=1&page=2`, { token: adminToken });
      expect(paged.body).toMatchObject({ page: 2, pageSize: 1, total: 2 });
      expect(paged.body.items.map((u: { id: string }) => u.id)).toEqual([a.user.id]);
      const bRow = await app.db.selectFrom('users').select('created_at').where('id', '=', b.user.id).executeTakeFirstOrThrow();
      const from = await app.request('GET', `/admin/users?q=${tag}&signedUpFrom=${bRow.created_at}`, { token: adminToken });
      expect(from.body.items.map((u: { id: string }) => u.id)).toEqual([b.user.id]);
      const to = await app.request('GET', `/admin/users?q=${tag}&signedUpTo=${bRow.created_at}`, { token: adminToken });
      expect(to.body.items.map((u: { id: string }) => u.id)).toEqual([a.user.id]);
      expect((await app.request('GET', '/admin/users?signedUpFrom=2099-01-01', { token: adminToken })).body.total).toBe(0);
      const bad = await app.request('GET', '/admin/users?signedUpFrom=yesterday', { token: adminToken });
      expect(bad.status).toBe(400);
      expect(bad.body.details.fields[0].field).toBe('signedUpFrom');
    });

    it('shows a user with preferences and plan status', async () => {
      const { token, user } = await app.signup();
      const bare = await app.request('GET', `/admin/users/${user.id}`, { token: adminToken });
      expect(bare.body).toMatchObject({ user: { id: user.id }, preferences: null, plan: { status: 'none' } });
      await app.request('PUT', '/me/preferences', { token, body: { diet: 'omnivore', allergies: [], caloriesPerDay: 2400, mealsPerDay: 2 } });
      const plan = (await app.request('POST', '/plans', { token })).body.plan;
      const full = await app.request('GET', `/admin/users/${user.id}`, { token: adminToken });
      expect(full.body.preferences).toMatchObject({ diet: 'omnivore', caloriesPerDay: 2400, mealsPerDay: 2 });
      expect(full.body.plan).toEqual({ status: 'generated', planId: plan.id, weekStart: plan.weekStart, meals: 14, generatedAt: plan.createdAt });
      expect((await app.request('GET', '/admin/users/nobody', { token: adminToken })).status).toBe(404);
    });

    it('refuses the admin endpoints to users (403) and anonymous callers (401)', async () => {
      const { token, user } = await app.signup();
      for (const [method, path] of [['GET', '/admin/users'], ['GET', `/admin/users/${user.id}`], ['POST', `/admin/users/${user.id}/suspend`], ['POST', `/admin/users/${user.id}/reactivate`]] as const) {
        expect((await app.request(method, path, { token })).status, `${method} ${path}`).toBe(403);
        expect((await app.request(method, path)).status, `${method} ${path}`).toBe(401);
      }
    });

    it('suspends a user (403 everywhere, login refused) and reactivates them', async () => {
      const { token, user } = await app.signup();
      const suspended = await app.request('POST', `/admin/users/${user.id}/suspend`, { token: adminToken });
      expect(suspended.status).toBe(200);
      expect(suspended.body.user).toMatchObject({ id: user.id, status: 'suspended' });
      for (const [method, path] of [['GET', '/me'], ['GET', '/me/preferences'], ['PUT', '/me/preferences'], ['POST', '/plans'], ['GET', '/plans/current'], ['POST', '/auth/logout']] as const) {
        const response = await app.request(method, path, { token, body: method === 'PUT' ? {} : undefined });
        expect(response.status, `${method} ${path}`).toBe(403);
        expect(response.body.error).toBe('account_suspended');
      }
      const login = await app.request('POST', '/auth/login', { body: { email: user.email, password: 'correct horse battery' } });
      expect(login.status).toBe(403);
      expect(login.body.error).toBe('account_suspended');
      expect((await app.request('POST', `/admin/users/${user.id}/suspend`, { token: adminToken })).status).toBe(409);
      expect((await app.request('GET', `/admin/users/${user.id}`, { token: adminToken })).body.user.status).toBe('suspended');

      const reactivated = await app.request('POST', `/admin/users/${user.id}/reactivate`, { token: adminToken });
      expect(reactivated.status).toBe(200);
      expect(reactivated.body.user.status).toBe('active');
      expect((await app.request('GET', '/me', { token })).status).toBe(200);
      expect((await app.request('POST', `/admin/users/${user.id}/reactivate`, { token: adminToken })).status).toBe(409);
    });

    it('refuses to suspend an unknown user (404) or the admin themself (409)', async () => {
      expect((await app.request('POST', '/admin/users/nobody/suspend', { token: adminToken })).status).toBe(404);
      const me = (await app.request('GET', '/me', { token: adminToken })).body.user;
      const self = await app.request('POST', `/admin/users/${me.id}/suspend`, { token: adminToken });
      expect(self.status).toBe(409);
      expect(self.body.error).toBe('cannot_change_self');
    });
  });

  describe('the activity log API and the rest', () => {
    it('serves /admin/logs to the admin only', async () => {
      const { token } = await app.signup();
      const list = await app.request('GET', '/admin/logs?limit=5', { token: adminToken });
      expect(list.status).toBe(200);
      expect(list.body.items.length).toBeGreaterThan(0);
      expect((await app.request('GET', '/admin/logs?action=user.signup&limit=1', { token: adminToken })).body.items[0].action).toBe('user.signup');
      expect((await app.request('GET', '/admin/logs', { token })).status).toBe(403);
      expect((await app.request('GET', '/admin/logs')).status).toBe(403);
    });

    it('answers unknown routes and malformed bodies with JSON errors and a request id', async () => {
      const missing = await app.request('GET', '/nope');
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ error: 'not_found', message: 'no route GET /nope' });
      const malformed = await fetch(`${app.url}/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
      expect(malformed.status).toBe(400);
      expect((await malformed.json()).error).toBe('bad_request');
      expect(malformed.headers.get('x-request-id')).toBeTruthy();
    });
  });
});
