import { memoryStore } from '../../adapters/storage/memory.js';
import { describeActivityStore as describeStoreConformance, recordToRow } from '../../adapters/testing/store-conformance.js';

describeStoreConformance({
  name: 'memory store',
  async setup() {
    const refused = new Set<string>();
    const store = memoryStore({ refuseRecord: (record) => (refused.has(record.actor?.name ?? '') ? { field: 'actor.name', reason: 'refused by the test' } : undefined) });
    const raw = { rows: async () => store.all().map(recordToRow).sort((a, b) => (a.id < b.id ? -1 : 1)) };
    return { store, raw, refuseActorName: async (name: string) => void refused.add(name), cleanup: async () => undefined };
  },
  capabilities: { sharedDatabase: false, transactions: false, migrations: false, killConnections: false, contentRefusal: true },
});
