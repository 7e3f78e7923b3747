/**
 * An app instance under load with integrity and a spool, for the SIGKILL tests: it never
 * closes, and prints each checkpoint and, every 50 ms, its counters as JSON lines.
 * Usage: node --import tsx spooling-writer.ts <postgres|mysql> <url> <table> <spool file>
 */
import { mysqlStore } from '../../../adapters/storage/mysql.js';
import { postgresStore } from '../../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../../src/index.js';

const [kind, url, tableName, filename] = process.argv.slice(2);
const say = (message: object) => void process.stdout.write(`${JSON.stringify(message)}\n`);
const activity = createActivityLogger({
  store: kind === 'postgres' ? postgresStore({ connectionString: url!, tableName, poolConfig: { max: 2 } }) : mysqlStore({ uri: url!, tableName, poolOptions: { connectionLimit: 2 } }),
  spool: { filename: filename! },
  // A small queue and batches, so that a slow store spills to the spool while writes are in flight.
  maxQueue: 400,
  batchSize: 25,
  integrity: { key: 'an application secret of 32 bytes', checkpointRecords: 100, onCheckpoint: (checkpoint) => void say({ checkpoint }) },
  onError: () => undefined,
});
let logged = 0;
setInterval(() => {
  for (let i = 0; i < 40; i++) activity.log({ id: `kill-${logged}`, action: 'load.event', actor: { type: 'service', id: 'w', name: 'Writer' }, metadata: { n: logged++ } });
}, 5);
setInterval(() => say({ logged, ...activity.stats(), lastError: undefined }), 50);
