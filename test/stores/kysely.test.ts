import { describeActivityStore as describeStoreConformance } from '../../adapters/testing/store-conformance.js';
import { sqliteContext } from './databases.js';

describeStoreConformance({
  name: 'kysely store (SqliteDialect)',
  setup: (tableName) => sqliteContext(tableName, 'kysely'),
  capabilities: { sharedDatabase: true, transactions: true, migrations: true, killConnections: false, contentRefusal: true },
});
