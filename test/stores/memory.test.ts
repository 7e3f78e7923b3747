import { memoryStore } from '../../adapters/storage/memory.js';
import { describeStoreConformance, recordToRow } from '../store-conformance.js';

describeStoreConformance({
  name: 'memory store',
  async setup() {
    const store = memoryStore();
    const raw = { rows: async () => store.all().map(recordToRow).sort((a, b) => (a.id < b.id ? -1 : 1)) };
    return { store, raw, cleanup: async () => undefined };
  },
  capabilities: { sharedDatabase: false, transactions: false, migrations: false, killConnections: false },
});
