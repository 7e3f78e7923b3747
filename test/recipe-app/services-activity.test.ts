import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type OpenedDatabase } from '../../examples/recipe-app/data/database.js';
import { createAccounts } from '../../examples/recipe-app/domain/accounts.js';
import { activityCatalog, activityFor, actorOf } from '../../examples/recipe-app/domain/activity.js';
import { createPlans } from '../../examples/recipe-app/domain/plans.js';
import { seed } from '../../examples/recipe-app/seed.js';
import { activityMatchers, createTestLogger, type TestLogger } from '../../adapters/testing/index.js';
import { runWithActivityContext } from '../../src/index.js';
import { ADMIN } from './helpers.js';

/**
 * The recipe app's services as an app tests its own code with activity-log/testing: the real
 * services over a real SQLite database, the activity going to createTestLogger() with the
 * app's catalog, and the assertions made with toHaveLogged / toHaveLoggedTimes. (The HTTP
 * tests beside this one check the same events as stored rows, through SQLite's own client.)
 */
expect.extend(activityMatchers);

const PASSWORD = 'correct horse battery';

describe('recipe app services, with the test logger', () => {
  let dir: string;
  let database: OpenedDatabase;
  let activity: TestLogger<typeof activityCatalog>;
  let accounts: ReturnType<typeof createAccounts>;
  let plans: ReturnType<typeof createPlans>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recipe-services-'));
    database = openDatabase({ databaseFile: join(dir, 'app.db') });
    await migrate(database.db);
    await seed(database.db, ADMIN);
  });
  afterAll(async () => {
    await database?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    // A fresh log per test: each test asserts on what it did, and nothing else.
    activity = createTestLogger({ catalog: activityCatalog });
    const current = activityFor(activity);
    accounts = createAccounts(database.db, current);
    plans = createPlans(database.db, current);
    return async () => {
      // No event of the app may be refused by its own catalog, or lost.
      expect(activity.errors()).toEqual([]);
      expect(activity.stats()).toMatchObject({ invalid: 0, dropped: 0, failed: 0, queued: 0 });
      await activity.close();
    };
  });

  it('user.signup: one success with the new user as actor and target; a taken email is one failure, without the password', async () => {
    const { user } = await accounts.signup({ name: 'Grace', email: 'grace@example.com', password: PASSWORD });
    await expect(accounts.signup({ name: 'Grace 2', email: 'GRACE@example.com', password: 'another-secret-pw' })).rejects.toMatchObject({ code: 'email_taken' });
    await activity.flush();

    expect(activity).toHaveLoggedTimes(1, {
      action: 'user.signup',
      status: 'success',
      actor: { type: 'user', id: user.id, name: 'Grace' },
      target: { type: 'user', id: user.id, name: 'Grace' },
      metadata: { email: 'grace@example.com' },
    });
    expect(activity).toHaveLoggedTimes(1, { action: 'user.signup', status: 'failure', metadata: { email: 'grace@example.com', reason: 'email_taken' } });
    // The failure has no actor: nobody is signed in.
    expect(activity).not.toHaveLogged({ action: 'user.signup', status: 'failure', actor: expect.anything() });
    expect(activity.records().map((record) => record.action)).toEqual(['user.signup', 'user.signup']);
    expect(JSON.stringify(activity.records())).not.toContain('another-secret-pw');
  });

  it('user.login: success as the user; a wrong password is one denied record naming the reason, never the password', async () => {
    const { user } = await accounts.signup({ name: 'Alan', email: 'alan@example.com', password: PASSWORD });
    await accounts.login({ email: 'alan@example.com', password: PASSWORD });
    await expect(accounts.login({ email: 'Alan@Example.com', password: 'hunter2-wrong' })).rejects.toMatchObject({ code: 'invalid_credentials' });
    await expect(accounts.login({ email: 'ghost@example.com', password: 'hunter2-wrong' })).rejects.toMatchObject({ code: 'invalid_credentials' });
    await activity.flush();

    expect(activity).toHaveLoggedTimes(1, { action: 'user.login', status: 'success', actor: actorOf(user), target: { id: user.id }, metadata: { email: user.email } });
    expect(activity).toHaveLoggedTimes(1, {
      action: 'user.login',
      status: 'denied',
      target: { type: 'user', id: user.id, name: 'Alan' },
      metadata: { email: 'alan@example.com', reason: 'wrong_password' },
    });
    // An unknown email has no target to name.
    expect(activity).toHaveLoggedTimes(1, { action: 'user.login', status: 'denied', metadata: { email: 'ghost@example.com', reason: 'unknown_email' } });
    expect(activity).not.toHaveLogged({ action: 'user.login', metadata: { email: 'ghost@example.com' }, target: expect.anything() });
    expect(activity).toHaveLoggedTimes(3, { action: 'user.login' });
    expect(JSON.stringify(activity.records())).not.toContain('hunter2');
  });

  it('user.preferences.update and plan.generate: in the request scope, as the signed-in user (what the middleware binds)', async () => {
    const { user } = await accounts.signup({ name: 'Edsger', email: 'edsger@example.com', password: PASSWORD });
    const asUser = activity.with({ actor: actorOf(user) });
    await runWithActivityContext(asUser, async () => {
      await expect(plans.generate(user)).rejects.toMatchObject({ code: 'preferences_required' });
      await accounts.updatePreferences(user, { diet: 'omnivore', allergies: [], caloriesPerDay: 2000, mealsPerDay: 2 });
      await plans.generate(user);
    });
    await activity.flush();

    expect(activity).toHaveLoggedTimes(1, {
      action: 'plan.generate',
      status: 'failure',
      actor: { id: user.id },
      target: { type: 'user', id: user.id },
      metadata: { reason: 'preferences_required' },
    });
    expect(asUser).toHaveLogged({
      action: 'user.preferences.update',
      actor: { type: 'user', id: user.id, name: 'Edsger' },
      changes: { diet: { before: null, after: 'omnivore' }, mealsPerDay: { before: null, after: 2 } },
    });
    expect(activity).toHaveLoggedTimes(1, {
      action: 'plan.generate',
      status: 'success',
      actor: { id: user.id },
      target: { type: 'meal_plan', id: expect.any(String) },
      metadata: { meals: 14, weekStart: /^\d{4}-\d{2}-\d{2}$/ },
    });
    // Everything in the scope was logged as the user.
    expect(activity).toHaveLoggedTimes(3, { action: /^(plan|user\.preferences)\./ });
    expect(activity).toHaveLoggedTimes(3, { action: /^(plan|user\.preferences)\./, actor: { type: 'user', id: user.id } });
  });
});
