import { join } from 'node:path';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { describeStoreConformance } from '../store-conformance.js';
import { sqliteContext } from './databases.js';

const capabilities = { sharedDatabase: true, transactions: true, migrations: true, killConnections: false };

describeStoreConformance({
  name: 'sqlite store',
  setup: (tableName) => sqliteContext(tableName, 'sqlite'),
  // A directory that does not exist: the file cannot be opened.
  unreachableStore: () => sqliteStore({ filename: join('/nonexistent-dir', 'activity.db') }),
  capabilities,
});

describeStoreConformance({
  name: 'sqlite store (writes on the main thread)',
  setup: (tableName) => sqliteContext(tableName, 'sqlite-main-thread'),
  capabilities,
});
