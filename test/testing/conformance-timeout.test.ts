import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

// The store conformance suite shipped in activity-log/testing, run as the README shows, by a
// vitest with its default settings (5 s a test): some of its tests take seconds on a database
// server (the zone summaries took 5.2 s on PostgreSQL here), and timed out there.

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'activity-log-conformance-timeout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('gives its slow tests time beyond vitest\'s default 5 s, under a plain vitest configuration', () => {
  // A store as slow as a busy database server in that test: its first summary takes 5.5 s.
  writeFileSync(
    join(dir, 'slow-store.test.ts'),
    `import { describeActivityStore } from ${JSON.stringify(join(ROOT, 'adapters/testing/store-conformance.ts'))};
import { memoryStore } from ${JSON.stringify(join(ROOT, 'adapters/storage/memory.ts'))};
describeActivityStore({
  name: 'slow store',
  setup: async () => {
    const inner = memoryStore();
    let first = true;
    const summarize: typeof inner.summarize = async (query) => {
      if (first) await new Promise((resolve) => setTimeout(resolve, 5_500));
      first = false;
      return inner.summarize!(query);
    };
    return { store: Object.assign(Object.create(inner), { summarize }), cleanup: async () => {} };
  },
});
`,
  );
  writeFileSync(join(dir, 'vitest.config.mjs'), `export default { test: { include: ['*.test.ts'] } };\n`);
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs'), '-t', 'odd changes'], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
  });
  const output = `${run.stdout}\n${run.stderr}`;
  expect(output).not.toMatch(/timed out/);
  expect(output).toMatch(/1 passed/);
  expect(run.status).toBe(0);
});
