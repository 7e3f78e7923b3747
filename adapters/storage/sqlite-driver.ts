import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ActivityLogError } from '../../src/errors.js';

/**
 * Finding the better-sqlite3 the store uses, and refusing one that can crash this Node.js.
 * @internal
 */

/** Where a loaded better-sqlite3 lives, and its version. */
export interface LoadedDriver {
  /** The package's directory: what the writer thread `require`s, so both threads use one copy. */
  dir: string;
  version: string | undefined;
}

/**
 * The package a loaded better-sqlite3 `Database` class came from, found in the CommonJS module
 * cache (better-sqlite3 is CommonJS, and `import()` of it fills that cache too). This is the
 * copy that runs, where resolving the name again from the app could find another one (a
 * monorepo, a process manager's working directory). `undefined` in a bundle, where it is not
 * in the cache.
 */
export function loadedDriver(Database: unknown): LoadedDriver | undefined {
  const cache = createRequire(join(process.cwd(), 'noop.js')).cache;
  for (const [file, module] of Object.entries(cache)) {
    if (module?.exports !== Database) continue;
    // .../better-sqlite3/lib/index.js: the package is the nearest directory named by its package.json.
    for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
      const manifest = readManifest(join(dir, 'package.json'));
      if (manifest?.name === 'better-sqlite3') return { dir, version: typeof manifest.version === 'string' ? manifest.version : undefined };
    }
  }
  return undefined;
}

/**
 * The path of `better-sqlite3`, for the writer thread when the loaded copy could not be found.
 * The CommonJS build asks `require`; the ESM build resolves from the app (a peer dependency is
 * installed where the app can import it), without `import.meta`, which the CommonJS build
 * cannot contain.
 *
 * @throws an error with code `MODULE_NOT_FOUND` when neither finds it
 */
export function resolveDriver(): string {
  if (typeof require === 'function' && typeof require.resolve === 'function') return require.resolve('better-sqlite3');
  const bases = [process.argv[1], join(process.cwd(), 'noop.js')];
  for (const base of bases) {
    if (!base) continue;
    try {
      return createRequire(base).resolve('better-sqlite3');
    } catch {
      // Try the next place.
    }
  }
  throw Object.assign(new Error('better-sqlite3 cannot be resolved for the writer thread'), { code: 'MODULE_NOT_FOUND' });
}

/** True for an error that says better-sqlite3 could not be found (from {@link resolveDriver} or the worker's `require`). */
export function isUnresolvableDriver(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND';
}

/** The first Node.js major on which better-sqlite3 12 and older can abort the process. */
const FIRST_NODE_NEEDING_DRIVER_13 = 24;

/** Set to `1` to skip {@link assertDriverRunsHere}, for a build of better-sqlite3 12 known to be safe. */
export const SKIP_DRIVER_CHECK_ENV = 'ACTIVITY_LOG_SKIP_SQLITE_DRIVER_CHECK';

/**
 * Refuses a better-sqlite3 that can abort the process on this Node.js. On Node.js 24 and newer,
 * better-sqlite3 12 and older can kill the whole process (SIGABRT, `Assertion failed: (env) !=
 * nullptr` in `RemoveEnvironmentCleanupHook`) when one of their statements is garbage-collected
 * (test/compat/node24.test.ts runs both).
 * (Reports tie it to the Node headers the addon was compiled against, which cannot be read
 * from here, so the rule goes by versions, with {@link SKIP_DRIVER_CHECK_ENV} as the way out.)
 * better-sqlite3 13 (Node-API) does not crash; it needs Node.js 22 or newer, so apps on Node 20
 * stay on 12. An error at start-up that names the fix beats an audit log that takes the app
 * down with it.
 *
 * An unknown version (a bundled app) is let through: the check cannot tell, and refusing would
 * stop apps that are fine.
 *
 * @throws ActivityLogError `INCOMPATIBLE_PEER` naming the versions and the `npm install` line
 */
export function assertDriverRunsHere(
  driverVersion: string | undefined,
  nodeVersion: string = process.versions.node,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (env[SKIP_DRIVER_CHECK_ENV] === '1') return;
  const driverMajor = majorOf(driverVersion);
  const nodeMajor = majorOf(nodeVersion);
  if (driverMajor === undefined || nodeMajor === undefined) return;
  if (nodeMajor >= FIRST_NODE_NEEDING_DRIVER_13 && driverMajor < 13) {
    throw new ActivityLogError(
      'INCOMPATIBLE_PEER',
      `activity-log/sqlite: better-sqlite3 ${driverVersion} can abort the process on Node.js ${nodeVersion} when one of its statements is garbage-collected; ` +
        `install better-sqlite3 13 or newer (npm install better-sqlite3@13), or set ${SKIP_DRIVER_CHECK_ENV}=1 for a build known to be safe`,
      { details: { package: 'better-sqlite3', version: driverVersion, node: nodeVersion, needs: '>=13' } },
    );
  }
}

function readManifest(path: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}

function majorOf(version: string | undefined): number | undefined {
  const match = /^v?(\d+)\./.exec(version ?? '');
  return match ? Number(match[1]) : undefined;
}
