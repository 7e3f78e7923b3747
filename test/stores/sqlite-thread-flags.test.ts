import { describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../adapters/storage/sqlite-thread.js';

/**
 * The SQLite store's threads inherit the app's Node.js flags, but a thread that runs a file
 * cannot start with `--input-type` (given to `node --input-type=module -e "..."`). The packed
 * package is run that way in test/package.test.ts; from a checkout the thread's code is
 * evaluated, which Node.js accepts, so this checks the flags the thread is given.
 */
describe("the SQLite store's threads", () => {
  it('keep the app\'s flags, loaders included, but --input-type in either form', () => {
    expect(workerExecArgv(['--import', 'tsx', '--input-type=module', '-e', 'code'])).toEqual(['--import', 'tsx', '-e', 'code']);
    expect(workerExecArgv(['--input-type', 'module', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(workerExecArgv([])).toEqual([]);
  });
});
