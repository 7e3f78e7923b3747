import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The file URL of the module this package runs from: its own file in `dist` (the ESM build
 * has `import.meta.url`; tsup's CommonJS build is given it from `__filename`), or the app's
 * bundle when a bundler inlined the ESM build as ESM. `undefined` where a bundler emptied
 * `import.meta`: esbuild does so when it turns the ESM build into CommonJS (`--format=cjs`,
 * its default for `--platform=node`). Every lookup of a file or a package relative to this
 * one goes through here, so that none of them reads `undefined` and throws.
 * (No `__filename` in this file: tsup would give the ESM build a shim of it, computed from
 * `import.meta.url` when the module loads, which throws in that same bundle.) @internal
 */
export function packageUrl(): string | undefined {
  const url = (import.meta as { url?: unknown }).url;
  return typeof url === 'string' && url.length > 0 ? url : undefined;
}

/**
 * A `require` that resolves from this package's place (see {@link packageUrl}), for the
 * packages loaded synchronously on first use (zod, hono): from `node_modules/activity-log/dist`
 * it finds the app's own copies, whatever the process's working directory. In a CommonJS
 * bundle, the bundle's own `require` (it resolves from the bundle's file); in a build with
 * neither, from the working directory. @internal
 */
export function packageRequire(): NodeJS.Require {
  const url = packageUrl();
  if (url !== undefined) return createRequire(url);
  // `.resolve` tells a real require from the stub a bundler's ESM output defines in its place.
  if (typeof require === 'function' && typeof require.resolve === 'function') return require;
  return createRequire(join(process.cwd(), 'noop.js'));
}
