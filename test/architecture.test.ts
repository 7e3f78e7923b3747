/**
 * The layout is the architecture: these read every import of the sources and check the two
 * rules it rests on. Imports are read as text (static `import`/`export ... from` and
 * `import()` with a literal), type-only ones included: a cycle of types is still a cycle a
 * reader has to untangle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** Every .ts file under `dir`, as a path relative to the repository root. */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** The files and packages a file imports: relative ones resolved to repository paths. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(root, file), 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2]!;
    if (specifier.startsWith('.')) local.push(relative(root, resolve(root, dirname(file), specifier.replace(/\.js$/, '.ts'))));
    else packages.push(specifier);
  }
  return { local, packages };
}

const files = [...sourceFiles('src'), ...sourceFiles('adapters')];
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('architecture', () => {
  it('has no import cycle in src/ or adapters/', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...stack.slice(stack.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      stack.push(file);
      for (const next of graph.get(file)?.local ?? []) if (graph.has(next)) visit(next);
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) visit(file);
    expect(cycles).toEqual([]);
  });

  it('keeps the core free of drivers, frameworks and adapters', () => {
    const allowedPackages = new Set(['zod']);
    const problems: string[] = [];
    for (const file of sourceFiles('src')) {
      const { local, packages } = graph.get(file)!;
      for (const name of packages) if (!name.startsWith('node:') && !allowedPackages.has(name)) problems.push(`${file} imports ${name}`);
      for (const target of local) {
        // The one door, documented in options.ts: `spool: { filename }` loads the SQLite spool on first use.
        if (target.startsWith('adapters/') && !(file === 'src/options.ts' && target === 'adapters/spool/sqlite.ts')) {
          problems.push(`${file} imports ${target}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('keeps activity-log/testing loadable without a test runner: vitest and jest are imported for types only', () => {
    // The suite finds the running vitest when called (adapters/testing/runner.ts); a value import
    // would make the subpath fail to load under jest, in plain node and from require().
    const problems: string[] = [];
    for (const file of sourceFiles('adapters/testing')) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const match of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\s[^;]*?from\s+'((?:vitest|jest|@jest\/[^']+|@vitest\/[^']+)(?:\/[^']*)?)'|import\(\s*'((?:vitest|jest)[^']*)'\s*\)/g)) {
        if (!match[2]) problems.push(`${file} imports ${match[3] ?? match[4]}`);
      }
    }
    expect(problems).toEqual([]);
    expect(graph.get('adapters/testing/runner.ts')!.packages).toContain('vitest');
  });

  it('reads every file it checks (the import pattern finds the imports)', () => {
    // A guard on the test itself: if the pattern stopped matching, the rules above would pass on nothing.
    expect(graph.get('src/logger.ts')!.local).toContain('src/pipeline/engine.ts');
    expect(graph.get('adapters/storage/sqlite.ts')!.local).toContain('adapters/storage/sql/store.ts');
    expect(graph.get('src/schemas.ts')!.packages).toContain('zod');
  });
});
