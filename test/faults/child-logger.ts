/**
 * A separate process that logs, for the shutdown and crash scenarios. Reports progress as
 * JSON lines on stdout. Usage:
 *   node --import tsx child-logger.ts sigterm <sqlite file> <count>
 *   node --import tsx child-logger.ts crash <spool file> <unreachable postgres url> <table>
 */
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, installShutdownHandlers } from '../../src/index.js';

const [mode, file, arg, table] = process.argv.slice(2);
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
const tick = () => new Promise((resolve) => setImmediate(resolve));

if (mode === 'sigterm') {
  const count = Number(arg);
  // The queue holds every event, so this scenario measures the shutdown, not queue sizing.
  const activity = createActivityLogger({ store: sqliteStore({ filename: file! }), maxQueue: count + 1, onError: () => {} });
  installShutdownHandlers(activity);
  for (let i = 0; i < count; i++) {
    activity.log({ id: `term-${i}`, action: 'load.event', metadata: { i } });
    if (i % 1000 === 999) await tick();
  }
  say({ logged: count, ...activity.stats() });
  setInterval(() => {}, 1000); // stay up until the signal, like a server
} else if (mode === 'crash') {
  const activity = createActivityLogger({
    // The table the next process, with a reachable database, replays the spool into: a spool file
    // belongs to one log.
    store: postgresStore({ connectionString: arg!, tableName: table ?? 'never_reached' }),
    spool: { filename: file! },
    maxQueue: 5000,
    onError: () => {},
  });
  let logged = 0;
  setInterval(() => {
    for (let i = 0; i < 20; i++) activity.log({ id: `crash-${logged}`, action: 'load.event', metadata: { n: logged++ } });
  }, 10);
  setInterval(() => say({ logged, ...activity.stats(), lastError: undefined }), 100);
}

if (mode === 'exit') {
  // Logs and simply ends, without close(): installShutdownHandlers flushes on beforeExit.
  const activity = createActivityLogger({ store: sqliteStore({ filename: file! }), onError: () => {} });
  installShutdownHandlers(activity);
  for (let i = 0; i < Number(arg); i++) activity.log({ id: `exit-${i}`, action: 'load.event' });
}

if (mode === 'before') {
  // A server-like process whose last request logs while shutting down: beforeClose lets it finish.
  const activity = createActivityLogger({ store: sqliteStore({ filename: file! }), onError: () => {} });
  installShutdownHandlers(activity, {
    beforeClose: () => new Promise<void>((resolve) => setTimeout(() => {
      activity.log({ id: 'before-last', action: 'request.finished' });
      resolve();
    }, 200)),
  });
  activity.log({ id: 'before-first', action: 'request.started' });
  say({ ready: 1 });
  setInterval(() => {}, 1000);
}

if (mode === 'crash-nospool') {
  // No spool, a working store: a SIGKILL loses only what is still in memory.
  const activity = createActivityLogger({ store: sqliteStore({ filename: file! }), maxQueue: 5000, onError: () => {} });
  let logged = 0;
  setInterval(() => {
    for (let i = 0; i < 20; i++) activity.log({ id: `nospool-${logged}`, action: 'load.event', metadata: { n: logged++ } });
  }, 10);
  setInterval(() => say({ logged, ...activity.stats(), lastError: undefined }), 100);
}
