/**
 * A script that logs, awaits flush() and a read, and simply ends without close(): nothing the
 * store keeps between requests (its threads, their connections) may hold the process open.
 * Usage: node --import tsx flush-and-end.ts <worker|main> <file>
 */
import { sqliteStore } from '../../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../../src/index.js';

const [writer, file] = process.argv.slice(2);
const activity = createActivityLogger({ store: sqliteStore({ filename: file!, writer: writer as 'worker' | 'main' }), onError: () => {} });
for (let i = 0; i < 100; i++) activity.log({ action: 'script.event' });
await activity.flush();
const { items } = await activity.query({ limit: 1 });
process.stdout.write(`${JSON.stringify({ written: activity.stats().written, read: items.length })}\n`);
