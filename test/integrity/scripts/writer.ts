/**
 * One app instance writing to a shared PostgreSQL table with integrity on, for the test of
 * several writers. Usage: node --import tsx writer.ts <postgres url> <table> <name> <count>
 */
import { postgresStore } from '../../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../../src/index.js';

const [url, tableName, name, count] = process.argv.slice(2);
const activity = createActivityLogger({
  store: postgresStore({ connectionString: url!, tableName, poolConfig: { max: 2 } }),
  integrity: { key: 'an application secret of 32 bytes', checkpointRecords: 100 },
  batchSize: 50,
  onError: (error) => {
    console.error(error);
    process.exitCode = 1;
  },
});
for (let i = 0; i < Number(count); i++) {
  activity.log({ id: `${name}-${i}`, action: 'load.event', actor: { type: 'service', id: name!, name: `Writer ${name}` }, metadata: { i } });
  if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 2));
}
await activity.close();
process.stdout.write(JSON.stringify(activity.stats()));
