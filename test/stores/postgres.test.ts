import { describeActivityStore as describeStoreConformance } from '../../adapters/testing/store-conformance.js';
import { POSTGRES_URL, postgresContext, unreachablePostgres } from './databases.js';

describeStoreConformance({
  name: 'postgres store',
  skip: !POSTGRES_URL && 'ACTIVITY_LOG_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
  setup: postgresContext,
  unreachableStore: unreachablePostgres,
  capabilities: { sharedDatabase: true, transactions: true, migrations: true, killConnections: true, contentRefusal: true },
});

describeStoreConformance({
  name: 'postgres store, partitioned by month',
  skip: !POSTGRES_URL && 'ACTIVITY_LOG_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
  setup: (tableName) => postgresContext(tableName, { partitioning: 'monthly' }),
  unreachableStore: unreachablePostgres,
  capabilities: { sharedDatabase: true, transactions: true, migrations: true, killConnections: true, contentRefusal: true },
});
