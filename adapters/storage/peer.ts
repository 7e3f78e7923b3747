import { ActivityLogError } from '../../src/errors.js';

/**
 * Loads an optional peer dependency on first use. Storage adapters never import a driver at
 * the top level (only `import type`), so `import 'activity-log/postgres'` works without `pg`
 * installed and only a store that is actually used needs its driver.
 *
 * @param specifier the package to load, such as `better-sqlite3`
 * @param subpath the activity-log subpath that needs it, such as `sqlite`, for the message
 * @throws ActivityLogError `MISSING_PEER` naming the package to install, when it is not installed
 * @internal
 */
export async function loadPeer<T>(specifier: string, subpath: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (cause) {
    if (isModuleNotFound(cause, specifier)) {
      throw new ActivityLogError('MISSING_PEER', `activity-log/${subpath} needs ${specifier}: npm install ${specifier}`, {
        cause,
        details: { package: specifier },
      });
    }
    throw cause;
  }
}

/** The module's CommonJS `module.exports` when loaded through `import()`, else the module itself. */
export function defaultExport<T>(module: unknown): T {
  const withDefault = module as { default?: T };
  return withDefault.default ?? (module as T);
}

function isModuleNotFound(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // A missing package, not a missing file inside an installed one (that is a broken install).
  return typeof message !== 'string' || message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`);
}
