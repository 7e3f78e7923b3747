/**
 * The package as users get it: build, pack, lint the tarball with publint and
 * "Are the Types Wrong?", then install the tarball into an empty folder and both import and
 * require every subpath. A broken exports map fails here, before a user hits it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entries } from '../tsup.config.js';
import { typeCheckFailures } from './helpers.js';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  files: string[];
  sideEffects: boolean;
  peerDependencies: Record<string, string>;
  typesVersions?: Record<string, Record<string, string[]>>;
};
const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json');

let work: string;
let tarball: string;

const run = (command: string, args: string[], cwd = root, timeout?: number) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' }, timeout });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'activity-log-pack-'));
  run('npm', ['run', 'build', '--silent']);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work])) as { filename: string }[];
  tarball = join(work, packed[0]!.filename);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const installed = new Map<string, string>();
/**
 * An empty app with the tarball installed, made once per name for the tests that need it:
 * `app` for most, `jest-app` for the one that adds jest (so no app has both runners).
 */
function installedApp(name = 'app'): string {
  const made = installed.get(name);
  if (made) return made;
  const app = join(work, name);
  run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `smoke-${name}`, private: true }));
  run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
  installed.set(name, app);
  return app;
}

describe('package', () => {
  it('has one exports subpath per build entry, each with types for import and require', () => {
    const fromEntries = Object.keys(entries).map((name) => (name === 'index' ? '.' : `./${name}`));
    expect(subpaths.sort()).toEqual(fromEntries.sort());
    for (const subpath of subpaths) {
      const name = subpath === '.' ? 'index' : subpath.slice(2);
      expect(pkg.exports[subpath]).toEqual({
        import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
        require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
      });
    }
    // TypeScript's node10 resolver (moduleResolution "node", the default of module "commonjs"
    // before TypeScript 5) reads no exports map: typesVersions names each subpath's types.
    expect(pkg.typesVersions).toEqual({
      '*': Object.fromEntries(subpaths.filter((subpath) => subpath !== '.').map((subpath) => [subpath.slice(2), [`./dist/${subpath.slice(2)}.d.cts`]])),
    });
    expect(pkg.files).toEqual(['dist']);
    expect(pkg.sideEffects).toBe(false);
  });

  it('ships JavaScript of Latin-1 characters only: one character beyond it (a "…" in a comment) makes V8 hold the whole file at two bytes per character in every app', () => {
    const files = run('find', ['dist', '-name', '*.js', '-o', '-name', '*.cjs']).trim().split('\n');
    expect(files.length).toBeGreaterThan(10);
    const wide: string[] = [];
    for (const file of files) {
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .forEach((line, index) => {
          const character = /[^\u0000-\u00ff]/.exec(line);
          if (character) wide.push(`${file}:${index + 1}: ${JSON.stringify(character[0])} in ${line.trim().slice(0, 80)}`);
        });
    }
    // esbuild escapes such characters in strings; comments keep them: write "...", "-", "->" there.
    expect(wide).toEqual([]);
  });

  it('passes publint --strict', () => {
    const output = run('npx', ['publint', 'run', tarball, '--strict', '--pack', 'false']);
    expect(output).toMatch(/All good|No issues/i);
  });

  it('passes "Are the Types Wrong?" for node10, node16 in both module systems, and bundler', () => {
    // node10 too: a TypeScript 4.9 app on module "commonjs" resolves with it, and finds the
    // subpaths' types through typesVersions. attw exits non-zero on any problem; the JSON is
    // checked too, to say which.
    const output = run('npx', ['attw', tarball, '--profile', 'strict', '--format', 'json']);
    const report = JSON.parse(output) as { analysis: { problems: { kind: string; resolutionKind?: string; entrypoint?: string }[] } };
    expect(report.analysis.problems).toEqual([]);
  });

  it('imports and requires every subpath from the installed tarball, with the same exports', () => {
    const app = installedApp();
    const names = (subpath: string) => `activity-log${subpath === '.' ? '' : subpath.slice(1)}`;
    // activity-log/testing included: it loads without vitest, which this bare app does not have.
    const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json');
    const esm = `
      const out = {};
      for (const name of ${JSON.stringify(subpaths.map(names))}) out[name] = Object.keys(await import(name)).sort();
      console.log(JSON.stringify(out));`;
    const cjs = `
      const out = {};
      for (const name of ${JSON.stringify(subpaths.map(names))}) out[name] = Object.keys(require(name)).filter((k) => k !== '__esModule').sort();
      console.log(JSON.stringify(out));`;
    writeFileSync(join(app, 'smoke.mjs'), esm);
    writeFileSync(join(app, 'smoke.cjs'), cjs);
    const imported = JSON.parse(run('node', ['smoke.mjs'], app)) as Record<string, string[]>;
    const required = JSON.parse(run('node', ['smoke.cjs'], app)) as Record<string, string[]>;
    expect(required).toEqual(imported);
    for (const subpath of subpaths) expect(imported[names(subpath)]!.length, subpath).toBeGreaterThan(0);
    expect(imported['activity-log']).toEqual(expect.arrayContaining(['createActivityLogger', 'currentActivity', 'ActivityLogError']));
    expect(imported['activity-log/memory']).toEqual(['memoryStore']);
    expect(imported['activity-log/testing']).toEqual(expect.arrayContaining(['activityMatchers', 'createTestLogger', 'describeActivityStore']));
    // End to end through the installed package, in CommonJS.
    writeFileSync(
      join(app, 'use.cjs'),
      `const { createActivityLogger } = require('activity-log');
       const { memoryStore } = require('activity-log/memory');
       const activity = createActivityLogger({ store: memoryStore() });
       activity.log({ action: 'smoke.test' });
       activity.flush().then(() => activity.query()).then((page) => console.log(page.items[0].action));`,
    );
    expect(run('node', ['use.cjs'], app).trim()).toBe('smoke.test');
  });

  it('runs the test helpers without any test runner, and says the store suite needs vitest', () => {
    const app = installedApp();
    // The matchers called as jest and vitest call them, with a bare context: no runner in this app.
    writeFileSync(
      join(app, 'helpers.cjs'),
      `const { createTestLogger, activityMatchers, describeActivityStore } = require('activity-log/testing');
       (async () => {
         const logger = createTestLogger();
         logger.with({ actor: { type: 'user', id: '42' } }).log({ action: 'recipe.update' });
         await logger.flush();
         const hit = activityMatchers.toHaveLogged.call({}, logger, { action: 'recipe.update', actor: { id: '42' } });
         const miss = activityMatchers.toHaveLoggedTimes.call({}, logger, 1, { action: 'recipe.update', actor: { id: '43' } });
         let suite = '';
         try { describeActivityStore({ name: 'x', setup: async () => ({}) }); } catch (error) { suite = error.code + ': ' + error.message; }
         console.log(JSON.stringify({ records: logger.records().length, hit: hit.pass, miss: miss.pass, message: miss.message(), suite }));
         await logger.close();
       })();`,
    );
    const out = JSON.parse(run('node', ['helpers.cjs'], app)) as { records: number; hit: boolean; miss: boolean; message: string; suite: string };
    expect(out).toMatchObject({ records: 1, hit: true, miss: false });
    expect(out.message).toContain('actor.id: expected "43", got "42"');
    expect(out.suite).toMatch(/^INVALID_OPTIONS: describeActivityStore\(\) runs under vitest/);
  });

  it('runs the shipped store conformance suite from the installed tarball, in an app with vitest', () => {
    const app = installedApp();
    const version = (JSON.parse(readFileSync(join(root, 'node_modules/vitest/package.json'), 'utf8')) as { version: string }).version;
    run('npm', ['install', `vitest@${version}`, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
    writeFileSync(
      join(app, 'store.test.mjs'),
      `import { describeActivityStore } from 'activity-log/testing';
       import { memoryStore } from 'activity-log/memory';
       describeActivityStore({ name: 'memory store, installed', setup: async () => ({ store: memoryStore(), cleanup: async () => {} }) });`,
    );
    const output = run('npx', ['vitest', 'run', '--root', app, 'store.test.mjs'], app).replace(/\x1b\[[0-9;]*m/g, '');
    expect(output).toMatch(/Tests\s+\d+ passed/);
    expect(output).not.toMatch(/failed/);
  }, 240_000);

  it('runs bundled with esbuild for Node, as ESM and as CommonJS: zod, the SQLite store and hono\'s admin app, found from the package wherever the process runs', () => {
    const app = installedApp('bundle-app');
    // The repository's own builds of the peers (better-sqlite3 compiles for minutes otherwise).
    for (const peer of ['better-sqlite3', 'kysely', 'hono']) {
      if (!existsSync(join(app, 'node_modules', peer))) symlinkSync(join(root, 'node_modules', peer), join(app, 'node_modules', peer), 'dir');
    }
    // ESM source, as most apps write it: esbuild takes the package's ESM build for both
    // formats, and in CommonJS output it empties import.meta.
    writeFileSync(
      join(app, 'bundled.mjs'),
      `import { createActivityLogger } from 'activity-log';
       import { sqliteStore } from 'activity-log/sqlite';
       import { activityLogsApp } from 'activity-log/hono';
       const errors = [];
       const file = process.argv[2];
       const activity = createActivityLogger({ store: sqliteStore({ filename: file }), retry: { maxAttempts: 1 }, onError: (error) => errors.push(error.message) });
       activity.log({ action: 'bundle.ran' });
       activity.log({ action: 'Not Dotted' });
       activity.flush().then(async () => {
         const page = await activity.query({ limit: 10 });
         await activity.close();
         const { written, invalid, failed } = activity.stats();
         const admin = typeof activityLogsApp(activity, { authorize: () => true }).fetch;
         console.log(JSON.stringify({ actions: page.items.map((record) => record.action), written, invalid, failed, errors, admin }));
       });`,
    );
    const esbuild = join(root, 'node_modules/.bin/esbuild');
    for (const [format, out] of [['cjs', 'out/bundled.cjs'], ['esm', 'out/bundled.mjs']] as const) {
      run(esbuild, ['bundled.mjs', '--bundle', '--platform=node', `--format=${format}`, `--outfile=${out}`, '--log-level=error'], app);
      const report = JSON.parse(run('node', [out, join(app, `${format}.db`)], app, 60_000).trim().split('\n').pop()!) as Record<string, unknown>;
      expect(report, format).toEqual({
        actions: ['bundle.ran'],
        written: 1,
        invalid: 1,
        failed: 0,
        errors: ['action: must be dotted lower-case like "recipe.update", got "Not Dotted"'],
        admin: 'function',
      });
    }
    // hono is loaded when the admin sub-app is made: found from the package's place, also when
    // the process runs from another directory (a service manager's).
    writeFileSync(
      join(app, 'hono-app.mjs'),
      `import { createActivityLogger } from 'activity-log';
       import { memoryStore } from 'activity-log/memory';
       import { activityLogsApp } from 'activity-log/hono';
       const app = activityLogsApp(createActivityLogger({ store: memoryStore() }), { authorize: () => true });
       console.log(typeof app.fetch);`,
    );
    expect(run('node', [join(app, 'hono-app.mjs')], tmpdir()).trim()).toBe('function');
  }, 120_000);

  it('runs on the oldest peers of every range it declares: express 4.17, fastify 4.10, better-sqlite3 11, hono 4.0', () => {
    // The newest of each range are this repository's own dev dependencies, under which every
    // other suite runs. better-sqlite3 11 compiles from source here (a minute or two).
    const app = installedApp('oldest-peers');
    const oldest = ['express@4.17.1', 'fastify@4.10.0', 'better-sqlite3@11.0.0', 'hono@4.0.0', '@hono/node-server@1.8.0', 'kysely@0.28.0'];
    run('npm', ['install', ...oldest, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 300_000);
    const script = readFileSync(join(root, 'test/compat/peers-smoke.mjs'), 'utf8');
    writeFileSync(join(app, 'smoke.mjs'), script);
    const report = JSON.parse(run('node', ['smoke.mjs'], app, 60_000).trim().split('\n').pop()!) as { versions: Record<string, string>; records: number; written: number };
    expect(report).toEqual({
      versions: { express: '4.17.1', fastify: '4.10.0', 'better-sqlite3': '11.0.0', hono: '4.0.0' },
      records: 3,
      written: 7,
    });
    // The peer ranges say so, so that npm installs these without --legacy-peer-deps.
    expect(pkg.peerDependencies).toMatchObject({ express: '^4.17 || ^5', fastify: '^4.10 || ^5', 'better-sqlite3': '^11 || ^12 || ^13', hono: '^4' });
    // A script run as `node --input-type=module -e`: the store's writer thread, which inherits
    // the app's flags, could not start with that one (every write failed).
    const evaluated = `
      import { createActivityLogger } from 'activity-log';
      import { sqliteStore } from 'activity-log/sqlite';
      const activity = createActivityLogger({ store: sqliteStore({ filename: 'evaluated.db' }), retry: { maxAttempts: 1 } });
      activity.log({ action: 'script.ran' });
      await activity.close();
      const { written, failed } = activity.stats();
      console.log(JSON.stringify({ written, failed }));`;
    expect(JSON.parse(run('node', ['--input-type=module', '-e', evaluated], app, 60_000).trim().split('\n').pop()!)).toEqual({ written: 1, failed: 0 });
  }, 420_000);

  it('runs on the newest peers of every range it declares, express 4 and fastify 4 included', () => {
    // From the registry, not this repository's lockfile: what `npm install` gives a user today.
    // better-sqlite3 13 is the newest, but aborts on Node 20 (the store refuses it there, see
    // test/compat/node24.test.ts): ^12 is the newest this Node runs. It compiles from source here.
    const app = installedApp('newest-peers');
    const newest = {
      express: 'express@^5',
      fastify: 'fastify@^5',
      express4: 'express4@npm:express@^4',
      fastify4: 'fastify4@npm:fastify@^4',
      hono: 'hono@^4',
      'better-sqlite3': `better-sqlite3@^${Number(process.versions.node.split('.')[0]) >= 24 ? 13 : 12}`,
    };
    run('npm', ['install', ...Object.values(newest), '@hono/node-server@latest', 'kysely@~0.28', '--no-audit', '--no-fund', '--loglevel=error'], app, 420_000);
    const latest = (spec: string) => {
      const versions = JSON.parse(run('npm', ['view', spec.replace(/^[^@]+@npm:/, ''), 'version', '--json'], app)) as string | string[];
      const parts = (version: string) => version.split('.').map(Number);
      const newer = (a: string, b: string) => parts(a).reduce((order, part, i) => order || part - parts(b)[i]!, 0) > 0;
      return (Array.isArray(versions) ? versions : [versions]).reduce((best, version) => (newer(version, best) ? version : best));
    };
    const script = readFileSync(join(root, 'test/compat/peers-smoke.mjs'), 'utf8');
    writeFileSync(join(app, 'smoke.mjs'), script);
    const smoke = (env: Record<string, string>) =>
      JSON.parse(execFileSync('node', ['smoke.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } }).trim().split('\n').pop()!) as {
        versions: Record<string, string>;
        records: number;
        written: number;
      };
    const on5 = smoke({});
    const on4 = smoke({ PEER_EXPRESS: 'express4', PEER_FASTIFY: 'fastify4' });
    const expected = {
      express: latest(newest.express),
      fastify: latest(newest.fastify),
      'better-sqlite3': latest(newest['better-sqlite3']),
      hono: latest(newest.hono),
    };
    expect(on5).toEqual({ versions: expected, records: 3, written: 7 });
    expect(on4).toEqual({ versions: { ...expected, express: latest(newest.express4), fastify: latest(newest.fastify4) }, records: 3, written: 7 });
    expect(on4.versions.express).toMatch(/^4\./);
    expect(on4.versions.fastify).toMatch(/^4\./);
  }, 600_000);

  it('type-checks an app on TypeScript 4.9 (the lowest supported) and on the newest, with no zod types unless it writes a catalog', () => {
    const app = installedApp('types-app');
    // Both compilers in one app through npm aliases. The app pins what a TypeScript 4.9 app
    // pins (@types/node 18, express 4's types); fastify's and hono's own types need TypeScript 5,
    // so they are checked with the newest only, as is a catalog (zod 4's types need 5.5).
    const packages = ['ts-oldest@npm:typescript@4.9.5', 'ts-newest@npm:typescript@latest', '@types/node@18', 'express@4.21.2', '@types/express@4.17.21'];
    packages.push('@types/better-sqlite3@7', 'kysely@0.28', 'fastify@5', 'hono@4');
    run('npm', ['install', ...packages, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 300_000);
    // No declaration file of the package names zod: only a catalog brings zod's types in.
    const declarations = run('find', ['node_modules/activity-log/dist', '-name', '*.d.*ts'], app).trim().split('\n');
    expect(declarations.length).toBeGreaterThan(10);
    for (const file of declarations) expect(readFileSync(join(app, file), 'utf8'), file).not.toMatch(/from ['"]zod['"]|import ['"]zod['"]/);
    writeFileSync(
      join(app, 'core.ts'),
      `import express from 'express';
       import { createActivityLogger, type ActivityRecord } from 'activity-log';
       import { memoryStore } from 'activity-log/memory';
       import { sqliteStore } from 'activity-log/sqlite';
       import { activityMiddleware, activityLogsRouter } from 'activity-log/express';
       import { createTestLogger } from 'activity-log/testing';
       const activity = createActivityLogger({ store: process.env.MEMORY ? memoryStore() : sqliteStore({ filename: 'activity.db' }) });
       const app = express();
       app.use(activityMiddleware(activity, { actor: (req) => ({ type: 'user', id: String(req.headers['x-user'] ?? 'anonymous') }) }));
       app.use('/admin/logs', activityLogsRouter(activity, { authorize: () => true }));
       app.get('/', (req, res) => {
         req.activity.log({ action: 'home.view', target: { type: 'page', id: 'home' } });
         res.send('ok');
       });
       const first: Promise<ActivityRecord | undefined> = activity.query({ action: 'home.*', limit: 10 }).then((page) => page.items[0]);
       void first;
       // @ts-expect-error a target needs an id
       activity.log({ action: 'a.b', target: { type: 'page' } });
       createTestLogger().log({ action: 'a.b' });
      `,
    );
    writeFileSync(
      join(app, 'frameworks.ts'),
      `import Fastify from 'fastify';
       import { Hono } from 'hono';
       import { z } from 'zod';
       import { createActivityLogger } from 'activity-log';
       import { memoryStore } from 'activity-log/memory';
       import { activityPlugin } from 'activity-log/fastify';
       import { activityMiddleware } from 'activity-log/hono';
       const activity = createActivityLogger({ store: memoryStore(), catalog: { 'recipe.rate': z.object({ stars: z.number() }) } });
       activity.log({ action: 'recipe.rate', metadata: { stars: 5 } });
       // @ts-expect-error the catalog types each action's metadata
       activity.log({ action: 'recipe.rate', metadata: { stars: 'five' } });
       const fastify = Fastify();
       void fastify.register(activityPlugin, { logger: activity, actor: (request) => ({ type: 'user', id: String(request.headers['x-user']) }) });
       const hono = new Hono();
       hono.use(activityMiddleware(activity));
      `,
    );
    const tsconfig = (files: string[]) =>
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'Node16', moduleResolution: 'Node16', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files });
    writeFileSync(join(app, 'tsconfig.oldest.json'), tsconfig(['core.ts']));
    // What a TypeScript 4.9 app on CommonJS has: module "commonjs", whose resolver (node10)
    // reads no exports map.
    writeFileSync(
      join(app, 'tsconfig.oldest-commonjs.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2020', module: 'CommonJS', moduleResolution: 'Node', esModuleInterop: true, strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['core.ts'] }),
    );
    // The same without esModuleInterop, TypeScript's default: an app that imports CommonJS
    // packages with `import x = require()`. Our declarations must not need the flag (a default
    // import of better-sqlite3's `export =` types did).
    writeFileSync(
      join(app, 'stores.ts'),
      `import Database = require('better-sqlite3');
       import { createActivityLogger } from 'activity-log';
       import { sqliteStore } from 'activity-log/sqlite';
       import { activityMiddleware } from 'activity-log/express';
       const activity = createActivityLogger({ store: sqliteStore({ database: new Database(':memory:') }) });
       void activityMiddleware(activity);
      `,
    );
    writeFileSync(
      join(app, 'tsconfig.oldest-commonjs-no-interop.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2020', module: 'CommonJS', moduleResolution: 'Node', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['stores.ts'] }),
    );
    writeFileSync(join(app, 'tsconfig.newest.json'), tsconfig(['core.ts', 'frameworks.ts']));
    const check = (compiler: string, config: string) => {
      const tsc = `node_modules/${compiler}/bin/tsc`;
      const version = run('node', [tsc, '-v'], app).trim();
      try {
        return { version, output: run('node', [tsc, '-p', config], app, 120_000) };
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        return { version, output: `${stdout ?? ''}${stderr ?? ''}`.split('\n').slice(0, 20).join('\n') || String(error) };
      }
    };
    const oldest = check('ts-oldest', 'tsconfig.oldest.json');
    expect(oldest.version).toBe('Version 4.9.5');
    expect(oldest.output, oldest.output).toBe('');
    const oldestCommonJs = check('ts-oldest', 'tsconfig.oldest-commonjs.json');
    expect(oldestCommonJs.output, oldestCommonJs.output).toBe('');
    const withoutInterop = check('ts-oldest', 'tsconfig.oldest-commonjs-no-interop.json');
    expect(withoutInterop.output, withoutInterop.output).toBe('');
    const newest = check('ts-newest', 'tsconfig.newest.json');
    expect(newest.output, `${newest.version}: ${newest.output}`).toBe('');
  }, 480_000);

  it('gives jest the matchers: expect.extend(activityMatchers) in a CommonJS jest test, failures with a diff', () => {
    const app = installedApp('jest-app');
    run('npm', ['install', 'jest@30', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 150_000);
    writeFileSync(
      join(app, 'activity.test.js'),
      `const { createTestLogger, activityMatchers } = require('activity-log/testing');
       expect.extend(activityMatchers);
       test('the matchers, passing and failing', async () => {
         const logger = createTestLogger();
         logger.with({ actor: { type: 'user', id: '42' } }).log({ action: 'recipe.update', target: { type: 'recipe', id: 'r1', name: 'Soup' } });
         logger.log({ action: 'recipe.view' });
         await logger.flush();
         expect(logger).toHaveLogged({ action: 'recipe.update', actor: { id: '42' }, status: 'success', target: { name: expect.stringContaining('ou') } });
         expect(logger).not.toHaveLogged({ action: 'recipe.delete' });
         expect(logger).toHaveLoggedTimes(2, { action: /^recipe\\./ });
         expect(logger).not.toHaveLoggedTimes(1, { action: /^recipe\\./ });
         let message = '';
         try {
           expect(logger).toHaveLogged({ action: 'recipe.update', actor: { id: '43' } });
         } catch (error) {
           message = error.message.replace(/\\x1b\\[[0-9;]*m/g, '');
         }
         expect(message).toMatch(/^expected the logger to have logged a record matching /);
         expect(message).toContain('it logged 2 records, the nearest 2:');
         // jest's own diff, of the nearest record seen through the expected keys.
         expect(message).toMatch(/- {5}"id": "43",\\n\\s*\\+ {5}"id": "42",/);
         await logger.close();
       });
       test('a failing assertion fails the test', async () => {
         const logger = createTestLogger();
         expect(logger).toHaveLogged({ action: 'never.logged' });
       });`,
    );
    let output = '';
    try {
      run('npx', ['jest', '--ci', '--rootDir', app, 'activity.test.js'], app, 60_000);
    } catch (error) {
      // jest exits 1 with the deliberately failing test; its report is on stderr.
      output = String((error as { stderr?: unknown }).stderr);
    }
    output = output.replace(/\x1b\[[0-9;]*m/g, '');
    expect(output).toMatch(/Tests:\s+1 failed, 1 passed, 2 total/);
    expect(output).toContain('✕ a failing assertion fails the test');
    expect(output).toContain('expected the logger to have logged a record matching {"action": "never.logged"}; it logged no records.');
  }, 240_000);

  it('types the matchers for a jest + TypeScript app as the README declares them: @jest/globals and @types/jest', () => {
    const app = installedApp('jest-app');
    run('npm', ['install', 'jest@30', '@jest/globals@30', '@types/jest@30', '@types/node@20', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 150_000);
    // The README's two declarations, each with the test a newcomer writes from its example.
    const body = `expect.extend(activityMatchers);
       test('records the update', async () => {
         const activity = createTestLogger();
         activity.log({ action: 'recipe.update', actor: { type: 'user', id: 42 }, target: { type: 'recipe', id: 'r1', name: 'Soup' } });
         await activity.flush();
         expect(activity).toHaveLogged({ action: 'recipe.update', actor: { id: '42' }, status: 'success' });
         expect(activity).not.toHaveLogged({ action: 'recipe.delete' });
         expect(activity).toHaveLoggedTimes(1, { action: /^recipe\\./ });
         expect(activity).toHaveLogged({ target: { name: expect.stringContaining('ou'), id: expect.any(String) }, actor: expect.objectContaining({ id: '42' }) });
         expect(activity).toHaveLogged(expect.objectContaining({ action: 'recipe.update' }));
         // @ts-expect-error a misspelt field
         expect(activity).toHaveLogged({ actoin: 'recipe.update' });
         // @ts-expect-error the count is a number
         expect(activity).toHaveLoggedTimes('1', { action: 'recipe.update' });
       });`;
    mkdirSync(join(app, 'globals'), { recursive: true });
    writeFileSync(
      join(app, 'globals', 'matchers.d.ts'),
      `import type { ActivityMatchers } from 'activity-log/testing';
       declare module 'expect' {
         interface Matchers<R extends void | Promise<void>, T = unknown> extends ActivityMatchers<R> {}
       }`,
    );
    writeFileSync(join(app, 'globals', 'activity.test.ts'), `import { expect, test } from '@jest/globals';\nimport { activityMatchers, createTestLogger } from 'activity-log/testing';\n${body}`);
    mkdirSync(join(app, 'types-jest'), { recursive: true });
    writeFileSync(
      join(app, 'types-jest', 'matchers.d.ts'),
      `import type { ActivityMatchers } from 'activity-log/testing';
       declare global {
         namespace jest {
           interface Matchers<R, T = {}> extends ActivityMatchers<R> {}
         }
       }`,
    );
    writeFileSync(join(app, 'types-jest', 'activity.test.ts'), `import { activityMatchers, createTestLogger } from 'activity-log/testing';\n${body}`);
    const tsconfig = (dir: string, types: string[]) => {
      const file = join(app, `tsconfig.${dir}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types },
          files: [`${dir}/matchers.d.ts`, `${dir}/activity.test.ts`],
        }),
      );
      return file;
    };
    expect(typeCheckFailures(['-p', tsconfig('globals', ['node'])], app)).toBe('');
    expect(typeCheckFailures(['-p', tsconfig('types-jest', ['node', 'jest'])], app)).toBe('');
  }, 240_000);

  it.each(['mts', 'cts'])('lets an app register its logger type through the built declarations (.%s)', (extension) => {
    const app = installedApp();
    const file = `typed-${extension}.${extension}`;
    const config = `tsconfig.${extension}.json`;
    writeFileSync(
      join(app, config),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: [file] }),
    );
    // The core entry only: the framework entries' declarations need the frameworks' own types,
    // which this bare app does not install (test/types/registered checks those from source).
    writeFileSync(
      join(app, file),
      `import { z } from 'zod';
       import { createActivityLogger, currentActivity, tryCurrentActivity } from 'activity-log';
       import { memoryStore } from 'activity-log/memory';
       export const activity = createActivityLogger({ store: memoryStore(), catalog: { 'recipe.view': z.object({ servings: z.number() }) } });
       declare global {
         interface ActivityLogRegister { logger: typeof activity }
       }
       currentActivity().log({ action: 'recipe.view', metadata: { servings: 2 } });
       // @ts-expect-error only the registered catalog's actions
       currentActivity().log({ action: 'recipe.veiw', metadata: { servings: 2 } });
       // @ts-expect-error servings is a number
       tryCurrentActivity()?.log({ action: 'recipe.view', metadata: { servings: 'two' } });
      `,
    );
    expect(typeCheckFailures(['-p', join(app, config)], app)).toBe('');
  });
});
