/**
 * A script that reads the log (which opens the store's pool), logs one event, and simply ends:
 * no flush(), no close(), no installShutdownHandlers.
 * Usage: node --import tsx read-log-and-end.ts <postgres|mysql> <url> <table>
 */
import { mysqlStore } from '../../../adapters/storage/mysql.js';
import { postgresStore } from '../../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../../src/index.js';

const [kind, url, tableName] = process.argv.slice(2);
const store = kind === 'postgres' ? postgresStore({ connectionString: url!, tableName }) : mysqlStore({ uri: url!, tableName });
const activity = createActivityLogger({ store, onError: () => {} });
await activity.count({});
activity.log({ action: 'script.ended', actor: { type: 'system', id: 'cron' } });
process.on('exit', () => process.stdout.write(`${JSON.stringify(activity.stats())}\n`));
