/**
 * A script that logs and simply ends: no flush(), no close(), no installShutdownHandlers. With
 * `read`, it reads the log first (which opens the store's pool or thread); with `fresh`, the
 * events it logs are the first thing it asks of the store.
 * Usage: node --import tsx read-log-and-end.ts <postgres|mysql|sqlite> <url or file> <table> <read|fresh>
 */
import { mysqlStore } from '../../../adapters/storage/mysql.js';
import { postgresStore } from '../../../adapters/storage/postgres.js';
import { sqliteStore } from '../../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../../src/index.js';

const [kind, where, tableName, mode] = process.argv.slice(2);
const store =
  kind === 'postgres'
    ? postgresStore({ connectionString: where!, tableName })
    : kind === 'mysql'
      ? mysqlStore({ uri: where!, tableName })
      : sqliteStore({ filename: where!, tableName });
const activity = createActivityLogger({ store, onError: () => {} });
if (mode === 'read') await activity.count({});
for (let i = 0; i < 3; i++) activity.log({ action: 'script.ended', actor: { type: 'system', id: 'cron' }, metadata: { i } });
process.on('exit', () => process.stdout.write(`${JSON.stringify(activity.stats())}\n`));
