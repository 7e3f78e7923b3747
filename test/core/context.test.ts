import { describe, expect, it } from 'vitest';
import { createActivityLogger, currentActivity, runWithActivityContext, tryCurrentActivity } from '../../src/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';

describe('request scope', () => {
  it('throws NO_ACTIVITY_CONTEXT from currentActivity() outside a scope; tryCurrentActivity() returns undefined', () => {
    expect(() => currentActivity()).toThrow(expect.objectContaining({ code: 'NO_ACTIVITY_CONTEXT' }));
    expect(tryCurrentActivity()).toBeUndefined();
  });

  it('finds the bound logger through nested awaits, without bleeding between interleaved scopes', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store });
    const deepInTheApp = async (i: number) => {
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
      await Promise.resolve();
      currentActivity().log({ action: 'job.step', metadata: { i } });
    };
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        runWithActivityContext(activity.with({ actor: { type: 'user', id: `u${i}` } }), () => deepInTheApp(i)),
      ),
    );
    await activity.flush();
    const records = store.all();
    expect(records).toHaveLength(100);
    for (const record of records) expect(record.actor?.id).toBe(`u${record.metadata?.i}`);
  });

  it('returns what the function returns', () => {
    const activity = createActivityLogger({ store: memoryStore() });
    expect(runWithActivityContext(activity, () => 42)).toBe(42);
  });
});
