import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeActivityStore } from '../../adapters/testing/store-conformance.js';
import { jsonlStore } from '../../examples/custom-store/jsonl-store.js';

// The README's "Writing a store" example, held to the same suite as the stores this package ships.
const dir = mkdtempSync(join(tmpdir(), 'activity-log-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeActivityStore({
  name: 'jsonl store (the README example)',
  setup: async (tableName) => ({ store: jsonlStore({ filename: join(dir, `${tableName}.jsonl`) }), cleanup: async () => undefined }),
});
