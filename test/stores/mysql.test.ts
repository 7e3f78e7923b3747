import { describeActivityStore as describeStoreConformance } from '../../adapters/testing/store-conformance.js';
import { MYSQL_URL, mysqlContext, unreachableMysql } from './databases.js';

describeStoreConformance({
  name: 'mysql store (MariaDB)',
  skip: !MYSQL_URL && 'ACTIVITY_LOG_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)',
  setup: mysqlContext,
  unreachableStore: unreachableMysql,
  capabilities: { sharedDatabase: true, transactions: true, migrations: true, killConnections: true, contentRefusal: true },
});
