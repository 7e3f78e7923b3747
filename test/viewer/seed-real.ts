import { randomUUID } from 'node:crypto';
import type { ActivityLogger } from '../../src/logger.js';

const HOUR = 3_600_000;

/** What {@link seedRealisticDay} logged, for the tests to find again. */
export interface RealisticDay {
  total: number;
  /** The request whose records the "this request" button must pull together (two records). */
  request: { requestId: string; traceId: string };
  /** A user with a UUID id and a name. */
  user: { id: string; name: string };
  /** A recipe with a UUID id and a name. */
  recipe: { id: string; name: string };
}

/**
 * A day of traffic with the ids a real app has: UUID users and recipes, automatic `http.*`
 * records with route and status code, requests that log more than one record, traces.
 * 60 records over the last 30 hours.
 */
export async function seedRealisticDay(activity: ActivityLogger<any>, now = Date.now()): Promise<RealisticDay> {
  const users = ['Ada Lovelace', 'Grace Hopper', 'Linus Torvalds', 'Margaret Hamilton'].map((name) => ({ id: randomUUID(), name }));
  const recipes = ['Pasta al forno', 'Shakshuka', 'Dal makhani', 'Pho bo', 'Ribollita'].map((name) => ({ id: randomUUID(), name }));
  let total = 0;
  let request = { requestId: '', traceId: '' };
  for (let i = 0; i < 30; i++) {
    const user = users[i % users.length]!;
    const recipe = recipes[i % recipes.length]!;
    const at = now - (30 - i) * HOUR + 60_000;
    const requestId = randomUUID();
    const traceId = randomUUID().replace(/-/g, '');
    const failed = i % 7 === 3;
    const denied = i % 11 === 5;
    const statusCode = denied ? 403 : failed ? 422 : i % 2 ? 200 : 201;
    const context = { ip: '203.0.113.9', method: i % 2 ? 'PATCH' : 'POST', route: i % 2 ? '/recipes/:id' : '/recipes', requestId, traceId };
    activity.log({
      action: i % 2 ? 'recipe.update' : 'recipe.create',
      status: denied ? 'denied' : failed ? 'failure' : 'success',
      occurredAt: new Date(at),
      actor: { type: 'user', id: user.id, name: user.name },
      target: { type: 'recipe', id: recipe.id, name: recipe.name },
      metadata: { servings: 2 + (i % 4) },
      changes: i % 2 ? { before: { servings: 2 }, after: { servings: 4 } } : undefined,
      context,
    });
    activity.log({
      action: `http.${context.method.toLowerCase()}`,
      status: denied ? 'denied' : failed ? 'failure' : 'success',
      occurredAt: new Date(at + 5),
      actor: { type: 'user', id: user.id, name: user.name },
      metadata: { statusCode, durationMs: 12.5 },
      context,
    });
    total += 2;
    if (i === 28) request = { requestId, traceId };
  }
  await activity.flush();
  return { total, request, user: users[28 % users.length]!, recipe: recipes[28 % recipes.length]! };
}
