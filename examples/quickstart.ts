/**
 * The 30-second quickstart, runnable: npx tsx examples/quickstart.ts
 */
import { createActivityLogger, currentActivity, runWithActivityContext } from '../src/index.js';
import { memoryStore } from '../adapters/storage/memory.js';

const activity = createActivityLogger({ store: memoryStore() });

activity.log({
  action: 'recipe.update',
  actor: { type: 'user', id: 42, name: 'Ada' },
  target: { type: 'recipe', id: 'r_17' },
  metadata: { servings: 4, apiKey: 'never stored' },
  changes: { before: { servings: 2, title: 'Soup' }, after: { servings: 4, title: 'Soup' } },
});

// Code deep inside a request logs with that request's actor, without passing it along.
async function generatePlan() {
  await new Promise((resolve) => setTimeout(resolve, 5));
  currentActivity().log({ action: 'plan.generate', status: 'failure', error: new Error('too few recipes fit') });
}
await runWithActivityContext(activity.with({ actor: { type: 'user', id: 7 }, context: { requestId: 'req-1' } }), generatePlan);

// A bad event is reported (with the field and the rule), never thrown.
activity.log({ action: 'Recipe Create' });

await activity.flush();
for (const record of (await activity.query()).items) console.log(JSON.stringify(record));
console.log(activity.stats());
await activity.close();
