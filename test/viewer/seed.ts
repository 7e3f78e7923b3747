import type { ActivityLogger } from '../../src/logger.js';

/** The title that must show as text, never as markup. */
export const XSS_TITLE = '<img src=x onerror=alert(1)>';

/**
 * Seeds a recipe app's worth of events over the last few hours: mostly successes, some
 * failures (one with an error) and a denial, and, newest of all, a recipe whose title is
 * markup, with metadata, changes and request context.
 */
export async function seedRecipeEvents(activity: ActivityLogger<any>, now = Date.now()): Promise<{ failures: number; total: number }> {
  const HOUR = 3_600_000;
  const titles = ['Shakshuka', 'Pad thai', 'Ribollita', 'Banana bread', 'Dal makhani', 'Tarte tatin', 'Pho bo', 'Gazpacho', 'Bibimbap', 'Paella', 'Moussaka', 'Borscht'];
  let failures = 0;
  titles.forEach((title, index) => {
    const status = index % 4 === 1 ? 'failure' : index === 6 ? 'denied' : 'success';
    if (status === 'failure') failures += 1;
    activity.log({
      action: index % 3 === 0 ? 'recipe.create' : index % 3 === 1 ? 'recipe.update' : 'recipe.view',
      status,
      occurredAt: new Date(now - (index + 1) * 0.45 * HOUR),
      actor: { type: 'user', id: `u_${(index % 3) + 1}`, name: ['Ada', 'Grace', 'Linus'][index % 3] },
      target: { type: 'recipe', id: `r_${index + 1}`, name: title },
      metadata: { servings: 2 + (index % 4) },
      error: status === 'failure' && index === 1 ? Object.assign(new Error('title already taken'), { code: 'E_DUPLICATE' }) : undefined,
      context: { ip: '203.0.113.9', method: 'POST', route: '/recipes/:id', requestId: `req-${index + 1}` },
    });
  });
  activity.log({
    action: 'recipe.update',
    occurredAt: new Date(now - 60_000),
    actor: { type: 'user', id: 'u_9', name: 'Mallory' },
    target: { type: 'recipe', id: 'r_xss', name: XSS_TITLE },
    metadata: { source: 'web', note: '<script>alert(2)</script>' },
    changes: { before: { title: 'Plain toast' }, after: { title: XSS_TITLE } },
    context: { ip: '198.51.100.23', userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', requestId: 'req-xss', method: 'PATCH', route: '/recipes/:id' },
  });
  await activity.flush();
  return { failures, total: titles.length + 1 };
}
