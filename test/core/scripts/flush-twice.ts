/**
 * A script as users write them: log, await flush(), log again, await flush() again, then
 * close(), with nothing else keeping the process alive. Prints the stats after each step.
 * Usage: node --import tsx flush-twice.ts <memory|sqlite-worker|sqlite-main|memory-retry> [file]
 */
import { memoryStore } from '../../../adapters/storage/memory.js';
import { sqliteStore } from '../../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityStore } from '../../../src/index.js';

const [kind, file] = process.argv.slice(2);
let failures = 2;
const store: ActivityStore =
  kind === 'memory'
    ? memoryStore()
    : kind === 'memory-retry'
      ? memoryStore({ failInsert: () => failures-- > 0 })
      : sqliteStore({ filename: file!, writer: kind === 'sqlite-main' ? 'main' : 'worker' });
const activity = createActivityLogger({ store, onError: () => {}, retry: { baseDelayMs: 50, maxDelayMs: 100 } });
const say = (step: string) => process.stdout.write(`${JSON.stringify({ step, ...activity.stats(), lastError: undefined })}\n`);

activity.log({ id: 'first', action: 'script.step' });
await activity.flush();
say('first');
activity.log({ id: 'second', action: 'script.step' });
await activity.flush();
say('second');
activity.log({ id: 'third', action: 'script.step' });
await activity.close();
say('closed');
