import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ActivityLogError } from '../../src/errors.js';

/**
 * Finding the installed better-sqlite3, and refusing one that would crash this Node.js.
 * @internal
 */

/**
 * The path of `better-sqlite3` (or of `better-sqlite3/<file>`). The CommonJS build asks
 * `require`; the ESM build resolves from the app (a peer dependency is installed where the app
 * can import it), without `import.meta`, which the CommonJS build cannot contain.
 *
 * @throws an error with code `MODULE_NOT_FOUND` when neither finds it
 */
export function resolveDriver(file?: string): string {
  const specifier = file ? `better-sqlite3/${file}` : 'better-sqlite3';
  if (typeof require === 'function' && typeof require.resolve === 'function') return require.resolve(specifier);
  const bases = [process.argv[1], join(process.cwd(), 'noop.js')];
  for (const base of bases) {
    if (!base) continue;
    try {
      return createRequire(base).resolve(specifier);
    } catch {
      // Try the next place.
    }
  }
  throw Object.assign(new Error(`${specifier} cannot be resolved`), { code: 'MODULE_NOT_FOUND' });
}

/** The version of the installed better-sqlite3, or `undefined` when it cannot be told (a bundled app). */
export function installedDriverVersion(): string | undefined {
  try {
    const { version } = JSON.parse(readFileSync(resolveDriver('package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** The first Node.js major whose `node::ObjectWrap` better-sqlite3 12 and older trip over. */
const FIRST_NODE_NEEDING_DRIVER_13 = 24;

/**
 * Refuses a better-sqlite3 that aborts the process on this Node.js. On Node.js 24 and newer,
 * better-sqlite3 12 and older kill the whole process (SIGABRT, `Assertion failed: (env) !=
 * nullptr` in `RemoveEnvironmentCleanupHook`) when one of their statements is garbage-collected
 * at the wrong moment: measured here on Node 24.21 with 12.11.1, on the store's first write from
 * its writer thread. better-sqlite3 13 (Node-API) does not; it needs Node.js 22 or newer, so
 * apps on Node 20 stay on 12. An error at start-up that names the fix is better than an
 * audit log that takes the app down with it.
 *
 * An unknown version (a bundled app) is let through: the check cannot tell, and refusing
 * would stop apps that are fine.
 *
 * @throws ActivityLogError `INCOMPATIBLE_PEER` naming the versions and the `npm install` line
 */
export function assertDriverRunsHere(driverVersion: string | undefined, nodeVersion: string = process.versions.node): void {
  const driverMajor = majorOf(driverVersion);
  const nodeMajor = majorOf(nodeVersion);
  if (driverMajor === undefined || nodeMajor === undefined) return;
  if (nodeMajor >= FIRST_NODE_NEEDING_DRIVER_13 && driverMajor < 13) {
    throw new ActivityLogError(
      'INCOMPATIBLE_PEER',
      `activity-log/sqlite: better-sqlite3 ${driverVersion} aborts the process on Node.js ${nodeVersion} when one of its statements is garbage-collected; ` +
        'install better-sqlite3 13 or newer: npm install better-sqlite3@13',
      { details: { package: 'better-sqlite3', version: driverVersion, node: nodeVersion, needs: '>=13' } },
    );
  }
}

function majorOf(version: string | undefined): number | undefined {
  const match = /^v?(\d+)\./.exec(version ?? '');
  return match ? Number(match[1]) : undefined;
}
