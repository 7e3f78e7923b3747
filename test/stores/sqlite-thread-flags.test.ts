import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../adapters/storage/sqlite-thread.js';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'activity-log-thread-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The SQLite store's threads inherit the app's Node.js flags, but a thread that runs a file
 * cannot start with `--input-type` (given to `node --input-type=module -e "..."`), and a list
 * of flags given to a thread may hold no process-wide one (`--expose-gc`). The packed package
 * is run with `--input-type` in test/package.test.ts (from a checkout the thread's code is
 * evaluated, which Node.js accepts); here, the flags and a real store under process-wide ones.
 */
describe("the SQLite store's threads", () => {
  it('inherit the app\'s flags as they are, unless --input-type is among them', () => {
    expect(workerExecArgv(['--expose-gc', '--max-old-space-size=512', '--import', 'tsx'])).toBeUndefined();
    expect(workerExecArgv([])).toBeUndefined();
  });

  it('get only the flags that load modules when --input-type is among them, in either form', () => {
    expect(workerExecArgv(['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', 'code'])).toEqual(['--import', 'tsx']);
    expect(workerExecArgv(['--input-type', 'module', '--enable-source-maps', '--require=./setup.cjs', '--max-old-space-size=512'])).toEqual([
      '--enable-source-maps',
      '--require=./setup.cjs',
    ]);
  });

  it.each([['--expose-gc'], ['--max-old-space-size=256'], ['--input-type=module', '--expose-gc']])('write in a process started with %s', async (...flags) => {
    const filename = join(dir, `flags-${flags.join('_').replace(/\W/g, '')}.db`);
    const script = `
      import { createActivityLogger } from ${JSON.stringify(join(root, 'src/index.ts'))};
      import { sqliteStore } from ${JSON.stringify(join(root, 'adapters/storage/sqlite.ts'))};
      const activity = createActivityLogger({ store: sqliteStore({ filename: ${JSON.stringify(filename)} }), retry: { maxAttempts: 1 }, onError: () => undefined });
      activity.log({ action: 'flags.checked' });
      await activity.close();
      const { written, failed } = activity.stats();
      console.log(JSON.stringify({ written, failed }));`;
    let args: string[];
    if (flags.includes('--input-type=module')) {
      args = [...flags, '--import', 'tsx', '-e', script];
    } else {
      const file = join(dir, `script-${flags.join('_').replace(/\W/g, '')}.mts`);
      writeFileSync(file, script);
      args = [...flags, '--import', 'tsx', file];
    }
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, timeout: 60_000 });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ written: 1, failed: 0 });
  });
});
