/**
 * `npx activity-log export` in constant memory (issue #17): the built CLI exports 100,000 and
 * then 1,000,000 SQLite records to a file, as NDJSON and as CSV, each in its own process. For
 * both sizes it prints the process's peak resident memory and the peak live memory of its main
 * thread (heap, external and array buffers, sampled right after a collection every 50 ms).
 * Constant memory means the live peak at 1,000,000 stays within 5 MiB of the peak at 100,000
 * (the anchor: the same command on a tenth of the rows, so the fixed cost of Node, the driver
 * and the CLI cancels out). Resident memory is printed beside it: V8 grows its heap lazily under
 * allocation pressure, so RSS rises with a longer run even when nothing is retained. The 1M export
 * also runs under a 64 MiB old-space cap, which a process holding its rows could not survive.
 *
 * Run: npm run build && npx tsx test/bench/cli-export.bench.ts  (or npm run bench)
 * Env: BENCH_SCALE=0.1 scales the sizes down.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '../../adapters/storage/sqlite.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SIZES = [100_000, 1_000_000].map((n) => Math.max(1000, Math.round(n * SCALE)));
const cli = new URL('../../dist/cli/activity-log.js', import.meta.url).pathname;
const report = (name: string, value: string, note?: string) => console.log(`  ${name.padEnd(56)} ${value}${note ? `   ${note}` : ''}`);

async function fill(filename: string, rows: number): Promise<void> {
  const store = sqliteStore({ filename });
  await store.migrate();
  await store.close();
  const db = new Database(filename);
  const insert = db.prepare(
    `insert into activity_logs (id, occurred_at, action, status, actor_type, actor_id, actor_name, target_type, target_id, tenant_id, metadata, context)
     values (?, ?, ?, 'success', 'user', ?, 'Ada Lovelace', 'recipe', ?, ?, ?, ?)`,
  );
  const start = Date.now() - rows * 1000;
  const write = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      insert.run(
        `${i.toString(16).padStart(12, '0')}-export-bench`,
        start + i * 1000,
        i % 3 === 0 ? 'recipe.update' : 'recipe.view',
        `u_${i % 50}`,
        `r_${i}`,
        `t_${i % 7}`,
        JSON.stringify({ recipeId: `r_${i}`, servings: 4, tags: ['dinner', 'quick'], note: 'a "quoted", comma-laden note' }),
        JSON.stringify({ ip: '203.0.113.7', requestId: `req-${i}`, method: 'POST', route: '/recipes/:id' }),
      );
    }
  });
  for (let from = 0; from < rows; from += 50_000) write(from, Math.min(rows, from + 50_000));
  db.close();
}

/** Runs the CLI's export; its peak RSS and peak live main-thread memory in MiB, the seconds it took and the file's size. */
function exportPeak(dir: string, filename: string, format: 'ndjson' | 'csv', flags: string[] = []): { rssMiB: number; liveMiB: number; seconds: number; bytes: number } {
  const probe = join(dir, 'peak.cjs');
  writeFileSync(
    probe,
    `let live = 0;
     const sample = () => { global.gc(); const m = process.memoryUsage(); live = Math.max(live, m.heapUsed + m.external + m.arrayBuffers); };
     setInterval(sample, 50).unref();
     process.on('exit', () => { sample(); require('node:fs').writeSync(2, '\\nPEAK ' + process.resourceUsage().maxRSS + ' ' + live + '\\n'); });`,
  );
  const out = join(dir, `out.${format}`);
  const started = performance.now();
  const args = ['--expose-gc', ...flags, '--require', probe, cli, 'export', '--db', `sqlite:${filename}`, '--format', format, '--out', out];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`export failed (${result.status}): ${result.stderr}`);
  const peak = /PEAK (\d+) (\d+)/.exec(result.stderr);
  if (!peak) throw new Error(`no peak reported: ${result.stderr}`);
  const bytes = statSync(out).size;
  rmSync(out);
  return { rssMiB: Number(peak[1]) / 1024, liveMiB: Number(peak[2]) / 2 ** 20, seconds, bytes };
}

const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-bench-'));
try {
  console.log('CLI export: peak memory of the process, by number of records');
  const files = new Map<number, string>();
  for (const rows of SIZES) {
    const filename = join(dir, `${rows}.db`);
    await fill(filename, rows);
    files.set(rows, filename);
  }
  for (const format of ['ndjson', 'csv'] as const) {
    const live: number[] = [];
    for (const rows of SIZES) {
      const { rssMiB, liveMiB, seconds, bytes } = exportPeak(dir, files.get(rows)!, format);
      live.push(liveMiB);
      report(
        `export ${format}, ${rows.toLocaleString('en-US')} records: peak live`,
        `${liveMiB.toFixed(1)} MiB`,
        `RSS ${rssMiB.toFixed(0)} MiB; ${seconds.toFixed(1)} s, ${Math.round(rows / seconds).toLocaleString('en-US')} records/s, ${(bytes / 2 ** 20).toFixed(0)} MiB written`,
      );
    }
    const growth = live[1]! - live[0]!;
    report(`export ${format}: live growth, ${SIZES[0]!.toLocaleString('en-US')} -> ${SIZES[1]!.toLocaleString('en-US')}`, `${growth.toFixed(1)} MiB`, growth <= 5 ? 'target <= 5 MiB: met' : 'target <= 5 MiB: MISSED');
    const capped = exportPeak(dir, files.get(SIZES[1]!)!, format, ['--max-old-space-size=64']);
    report(`export ${format}, ${SIZES[1]!.toLocaleString('en-US')} records, old space capped at 64 MiB`, 'completed', `peak live ${capped.liveMiB.toFixed(1)} MiB, RSS ${capped.rssMiB.toFixed(0)} MiB`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
