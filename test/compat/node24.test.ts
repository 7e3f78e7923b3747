import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The SQLite store on Node.js 24, installed from the packed tarball as a user would, in a real
 * Node 24 process. better-sqlite3 12 aborts the process there when a statement is garbage-
 * collected; 13 does not. test/compat/setup-node24.sh prepares the directory; CI always runs it.
 */
const dir = process.env.ACTIVITY_LOG_NODE24_DIR;
if (!dir) {
  console.warn('[node 24] skipped: ACTIVITY_LOG_NODE24_DIR is not set (bash test/compat/setup-node24.sh <dir> prepares it; CI always does)');
}

/** Runs a script in one of the prepared apps under Node 24; resolves with its exit and its last stdout line as JSON. */
function runInApp(app: string, source: string, file = 'check.mjs') {
  const appDir = join(dir!, app);
  writeFileSync(join(appDir, file), source);
  const child = spawn(join(dir!, 'node', 'bin', 'node'), ['--expose-gc', file], { cwd: appDir, timeout: 120_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; report?: Record<string, unknown> }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (status, signal) => {
        const lines = stdout.trim().split('\n');
        let report: Record<string, unknown> | undefined;
        try {
          report = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
        } catch {
          report = undefined;
        }
        resolve({ status, signal, stderr, report });
      });
    },
  );
}

describe.skipIf(!dir)('the SQLite store on Node.js 24', () => {
  it('writes, reads and closes with better-sqlite3 13, from the writer thread and from the main thread', async () => {
    // 20 rounds of 500 events with a read and a collection after each: with better-sqlite3 12
    // this process died (SIGABRT) before the first read.
    const { status, signal, stderr, report } = await runInApp(
      'app-bs13',
      `
      import { createActivityLogger } from 'activity-log';
      import { sqliteStore } from 'activity-log/sqlite';
      import { rmSync } from 'node:fs';
      const result = { node: process.versions.node, writers: {} };
      for (const writer of ['worker', 'main']) {
        const filename = 'check-' + writer + '.db';
        for (const suffix of ['', '-wal', '-shm']) rmSync(filename + suffix, { force: true });
        const errors = [];
        const logger = createActivityLogger({ store: sqliteStore({ filename, writer }), onError: (e) => errors.push(e.code) });
        let read = 0;
        for (let round = 0; round < 20; round++) {
          for (let i = 0; i < 500; i++) logger.log({ action: 'recipe.view', target: { type: 'recipe', id: String(i % 50) } });
          await logger.flush();
          read += (await logger.query({ action: 'recipe.*', limit: 5 })).items.length;
          globalThis.gc();
        }
        const count = await logger.count({ action: 'recipe.view' });
        const { written } = logger.stats();
        await logger.close();
        result.writers[writer] = { written, count, read, errors };
      }
      console.log(JSON.stringify(result));
      `,
    );
    expect({ status, signal }, stderr).toEqual({ status: 0, signal: null });
    expect(report).toEqual({
      node: expect.stringMatching(/^24\./),
      writers: {
        worker: { written: 10_000, count: 10_000, read: 100, errors: [] },
        main: { written: 10_000, count: 10_000, read: 100, errors: [] },
      },
    });
  }, 150_000);

  // The same script as ES module and as CommonJS: both builds must find the copy they loaded.
  const refusal = `
      const reported = [];
      const logger = createActivityLogger({
        store: sqliteStore({ filename: 'check.db' }),
        onError: (e) => reported.push(e.code + ' ' + (e.cause?.code ?? '')),
        closeTimeoutMs: 200,
      });
      let threw = false;
      try {
        logger.log({ action: 'recipe.view', target: { type: 'recipe', id: '1' } });
      } catch {
        threw = true;
      }
      const refused = await logger.query({}).then(() => null, (e) => ({ code: e.code, message: e.message, details: e.details }));
      await logger.close();
      console.log(JSON.stringify({ threw, refused, reported, stats: logger.stats() }));`;
  const builds = {
    esm: { file: 'check.mjs', source: `import { createActivityLogger } from 'activity-log';\nimport { sqliteStore } from 'activity-log/sqlite';\n${refusal}` },
    cjs: {
      file: 'check.cjs',
      source: `const { createActivityLogger } = require('activity-log');\nconst { sqliteStore } = require('activity-log/sqlite');\n(async () => {${refusal}\n})();`,
    },
  };
  for (const [build, { file, source }] of Object.entries(builds)) {
    it(`refuses better-sqlite3 12 with INCOMPATIBLE_PEER instead of aborting, and log() still does not throw (${build})`, async () => {
      const { status, signal, stderr, report } = await runInApp('app-bs12', source, file);
      expect({ status, signal }, stderr).toEqual({ status: 0, signal: null });
      expect(report?.threw).toBe(false);
      const refused = report?.refused as { code: string; message: string; details: Record<string, string> };
      expect(refused.code).toBe('INCOMPATIBLE_PEER');
      expect(refused.message).toMatch(/better-sqlite3 12\.\d+\.\d+ can abort the process on Node\.js 24\.\d+\.\d+/);
      expect(refused.message).toContain('npm install better-sqlite3@13');
      expect(refused.details).toMatchObject({ package: 'better-sqlite3', version: expect.stringMatching(/^12\./), needs: '>=13' });
      // The event was not lost silently: close() counted it as dropped and reported why.
      expect(report?.stats).toMatchObject({ enqueued: 1, written: 0, dropped: 1 });
      expect(report?.reported).toEqual(['STORE_FAILED INCOMPATIBLE_PEER']);
    }, 150_000);
  }
});
