import { once } from 'node:events';
import { closeSync, constants, createWriteStream, openSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import type { IntegrityCheckpoint } from '../../src/integrity/options.js';
import type { VerifyReport } from '../../src/integrity/verify.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import type { ActivityFilter, ActivityRecord, SummaryDimension } from '../../src/schema.js';
import { SUMMARY_DIMENSIONS } from '../../src/schema.js';
import { usage } from './connect.js';
import { filterFrom, timeFlag, wholeFlag, type FilterFlags } from './filters.js';
import { CSV_HEADER, displayWidth, fitCell, formatFlag, line, table, terminalText, type Terminal } from './output.js';

/**
 * What each command does, given a logger over the store `--db` names. Each returns the exit
 * code: 0 done, 1 problems found (verify), and throws a UsageError for a wrong flag (2).
 */

/** The actor the CLI's own writes are recorded as (an erasure, a purge). */
export function cliActor() {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = undefined;
  }
  return name ? { type: 'system', id: 'activity-log-cli', name } : { type: 'system', id: 'activity-log-cli' };
}

export async function query(logger: ActivityLogger, flags: FilterFlags & { format?: string; limit?: string; cursor?: string }, out: Terminal): Promise<number> {
  const format = formatFlag(flags.format, 'table');
  const limit = flags.limit === undefined ? 50 : wholeFlag('--limit', flags.limit, 1, 500);
  const page = await logger.query({ ...filterFrom(flags), limit, cursor: flags.cursor });
  if (format === 'json') out.write(`${JSON.stringify({ items: page.items, nextCursor: page.nextCursor ?? null }, null, 2)}\n`);
  else if (format === 'table') {
    out.write(table(page.items, out));
    if (page.nextCursor) process.stderr.write(`more: --cursor ${page.nextCursor}\n`);
  } else {
    if (format === 'csv') out.write(CSV_HEADER);
    for (const record of page.items) out.write(line(record, format));
  }
  return 0;
}

/**
 * The last `lines` records, oldest first; with `follow`, then every new one as it is
 * written, by any process, until Ctrl-C. Records are looked for again a few seconds back,
 * because several writers do not commit in time order; one stored later than that after its
 * time (a spool replayed after an outage) is not found: no column records when a row was
 * written, and reading everything since the start at each poll would grow without bound.
 */
export async function tail(logger: ActivityLogger, flags: FilterFlags & { format?: string; follow?: boolean; lines?: string; interval?: string }, out: Terminal): Promise<number> {
  const format = formatFlag(flags.format, 'table');
  if (format === 'json') throw usage('--format: tail writes table, ndjson or csv (a stream has no one JSON document)');
  const filter = filterFrom(flags);
  const lines = flags.lines === undefined ? 10 : wholeFlag('--lines', flags.lines, 0, 500);
  const interval = flags.interval === undefined ? 1000 : Number(flags.interval);
  if (!Number.isInteger(interval) || interval < 50) throw usage(`--interval: must be at least 50 (milliseconds), got ${flags.interval}`);
  const seen = new Map<string, number>();
  let newest = 0;
  let header = true;
  /** Records not seen before, oldest first; each one now counts as seen. */
  const unseen = (records: ActivityRecord[]) => {
    const fresh = records.filter((record) => !seen.has(record.id)).reverse();
    for (const record of fresh) {
      seen.set(record.id, record.occurredAt.getTime());
      newest = Math.max(newest, record.occurredAt.getTime());
    }
    return fresh;
  };
  const print = (records: ActivityRecord[]) => {
    const fresh = unseen(records);
    if (fresh.length === 0) return;
    if (format === 'table') {
      const text = table(fresh, out);
      out.write(header ? text : text.slice(text.indexOf('\n') + 1));
    } else {
      if (header && format === 'csv') out.write(CSV_HEADER);
      for (const record of fresh) out.write(line(record, format));
    }
    header = false;
  };
  if (lines > 0) print((await logger.query({ ...filter, limit: lines })).items);
  if (!flags.follow) return 0;
  const lookbackMs = 10_000;
  const startedAt = Date.now();
  const since = filter.from === undefined ? undefined : new Date(filter.from).getTime();
  /** Every match in the window a poll looks through: from a little before the newest record seen (or the start), never before --since. */
  const inWindow = async () => {
    const from = new Date(Math.max(since ?? -Infinity, (newest || startedAt) - lookbackMs));
    const found: ActivityRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await logger.query({ ...filter, from, limit: 500, cursor });
      found.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return found;
  };
  // What the window holds already is not new: without this, the first poll printed the records
  // just older than the -n shown (or, with -n 0, the last seconds' records) as if just written.
  unseen(await inWindow());
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    print(await inWindow());
    for (const [id, at] of seen) if (at < newest - 2 * lookbackMs) seen.delete(id);
  }
}

/**
 * Every matching record to `--out`, streamed page by page (constant memory), with a progress
 * bar on a terminal and nothing on a pipe. The file is written as FILE.partial and renamed
 * when complete: Ctrl-C leaves no half-written FILE.
 */
export async function exportRecords(logger: ActivityLogger, flags: FilterFlags & { format?: string; out?: string }, out: Terminal): Promise<number> {
  const format = formatFlag(flags.format, 'ndjson');
  if (format !== 'csv' && format !== 'ndjson') throw usage(`--format: export writes csv or ndjson, got ${JSON.stringify(flags.format)}`);
  const filter = filterFrom(flags);
  const target = flags.out && flags.out !== '-' ? flags.out : undefined;
  // Being opened when a signal comes: the handler waits for it, to take FILE.partial back. Not
  // for a target written in place, which leaves nothing to take back: a named pipe's open waits
  // for a reader without end, and the process cannot even exit while it does (libuv joins the
  // thread blocked in it), so the signal was swallowed. A reader opened and closed at once ends it.
  let place: OutputPlace | undefined;
  let opening: Promise<OutputFile> | undefined;
  let opened = false;
  const interrupted = async (exitCode: number) => {
    if (place?.fifo && !opened) releaseOpen(place.path);
    const file = place?.inPlace ? undefined : await opening?.catch(() => undefined);
    await file?.discard();
    // On standard output or a pipe, what was written is the reader's: only a file can be taken back.
    process.stderr.write(target && !place?.inPlace ? '\ninterrupted: nothing written\n' : '\ninterrupted\n');
    process.exit(exitCode);
  };
  // Ctrl-C, and also a `kill` or a closed terminal: none leaves a FILE.partial behind. 128 + the
  // signal's number, as a shell reports it. Listening before FILE.partial exists: a signal in
  // between would end the process by its default action, leaving the file.
  // Taken off once the export is done, written or failed: a signal while the CLI then closes the
  // store ends it by the default action, rather than calling a complete file "nothing written".
  const listeners = ([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const).map(([signal, exitCode]) => {
    const listener = () => void interrupted(exitCode);
    process.once(signal, listener);
    return [signal, listener] as const;
  });
  try {
    place = target ? await outputPlace(target) : undefined;
    opening = place ? outputFile(place) : undefined;
    const file = await opening;
    opened = true;
    const write = file
      ? file.write
      : async (text: string) => {
          out.write(text);
          await out.drain?.();
        };
    const bar = process.stderr.isTTY && target ? progressBar() : undefined;
    let written = 0;
    try {
      const total = bar && logger.store.count ? await logger.count(filter) : undefined;
      bar?.start(total ?? 0, 0, { rate: '0' });
      const started = Date.now();
      if (format === 'csv') await write(CSV_HEADER);
      let cursor: string | undefined;
      do {
        const page = await logger.query({ ...filter, limit: 500, cursor });
        let chunk = '';
        for (const record of page.items) chunk += line(record, format);
        if (chunk) await write(chunk);
        written += page.items.length;
        cursor = page.nextCursor;
        bar?.update(written, { rate: Math.round(written / Math.max(0.001, (Date.now() - started) / 1000)).toString() });
      } while (cursor);
      bar?.stop();
      await file?.commit();
    } catch (error) {
      // A failed read or write leaves no FILE.partial behind either, only the message.
      bar?.stop();
      await file?.discard();
      throw error;
    }
    if (target) process.stderr.write(`${written} records written to ${target}\n`);
    return 0;
  } finally {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
  }
}

/**
 * Where `export --out` writes. A file is written as `target.partial`, renamed to `target` by
 * `commit()` and removed by `discard()`, so an interrupted export leaves no half-written file;
 * a target that exists and is not a file (a pipe, a device, `/dev/fd/N`) is written in place,
 * as renaming over it would replace it. Opened before anything is read, so that a path that
 * cannot be written is refused naming `--out` rather than crashing on the stream's error;
 * writes wait for the stream to drain (constant memory) and reject with its error.
 */
type OutputFile = Awaited<ReturnType<typeof outputFile>>;

/**
 * The reader of the pipe `--out` names left (`--out /dev/stdout | head`): the command stops
 * quietly with exit code 0, as it does when standard output's reader leaves.
 */
export class ReaderLeft extends Error {
  constructor() {
    super('the reader of --out left');
  }
}

/** Where `--out` is written: in place (a pipe, a device), or as `target.partial`. Creates nothing. */
interface OutputPlace {
  target: string;
  inPlace: boolean;
  /** A named pipe: its open waits for a reader. */
  fifo: boolean;
  path: string;
}

async function outputPlace(target: string): Promise<OutputPlace> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw usage(`--out: must be a file, got the directory ${JSON.stringify(target)}`);
  const inPlace = existing !== undefined && !existing.isFile();
  return { target, inPlace, fifo: existing?.isFIFO() === true, path: inPlace ? target : `${target}.partial` };
}

/** Ends an open of the named pipe `path` still waiting for a reader (nothing is read). */
function releaseOpen(path: string): void {
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch {
    // Gone, or not a pipe any more: nothing waits on it.
  }
}

async function outputFile({ target, inPlace, path }: OutputPlace) {
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
  } catch (error) {
    throw usage(`--out: cannot write ${JSON.stringify(target)} (${(error as Error).message})`);
  }
  // An error between two writes is kept for the next one, not thrown as an unhandled event.
  let failure: Error | undefined;
  stream.on('error', (error: Error) => (failure ??= error));
  const failed = (error: Error) =>
    inPlace && (error as NodeJS.ErrnoException).code === 'EPIPE'
      ? new ReaderLeft()
      : new Error(`--out: could not write ${JSON.stringify(target)} (${error.message})${inPlace ? '' : '; nothing written'}`);
  return {
    async write(text: string): Promise<void> {
      if (failure) throw failed(failure);
      // `once` removes its listeners when the drain comes (no listener per page piling up) and rejects on an error.
      if (!stream.write(text)) await once(stream, 'drain').catch((error: Error) => Promise.reject(failed(error)));
    },
    async commit(): Promise<void> {
      await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(failed(error)) : resolve())));
      if (failure) throw failed(failure);
      if (!inPlace) await rename(path, target);
    },
    async discard(): Promise<void> {
      stream.destroy();
      if (!inPlace) await rm(path, { force: true });
    },
  };
}

function progressBar() {
  return new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'exporting [{bar}] {value}/{total} records | {rate}/s | ETA {eta_formatted}',
      barCompleteChar: '#',
      barIncompleteChar: '.',
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.legacy,
  );
}

export async function purge(logger: ActivityLogger, flags: { before?: string; tenant?: string; action?: string; dryRun?: boolean }, out: Terminal): Promise<number> {
  if (flags.before === undefined) throw usage('--before: say how old a record must be to go (90d, 12w, or a date)');
  const before = timeFlag('--before', flags.before);
  const options = { before, ...(flags.tenant === undefined ? {} : { tenantId: flags.tenant }), ...(flags.action === undefined ? {} : { action: flags.action }) };
  if (flags.dryRun) {
    const filter: ActivityFilter = { to: before, tenantId: options.tenantId, action: options.action };
    out.write(`would delete ${await logger.count(filter)} records older than ${before.toISOString()}\n`);
    return 0;
  }
  const removed = await logger.purge(options);
  out.write(`deleted ${removed} records older than ${before.toISOString()}\n`);
  return 0;
}

export async function stats(logger: ActivityLogger, flags: FilterFlags & { by?: string; format?: string }, out: Terminal): Promise<number> {
  const by = (flags.by ?? 'action') as SummaryDimension;
  if (!SUMMARY_DIMENSIONS.includes(by)) throw usage(`--by: must be one of ${SUMMARY_DIMENSIONS.join(', ')}, got ${JSON.stringify(flags.by)}`);
  const format = flags.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw usage(`--format: stats writes table or json, got ${JSON.stringify(format)}`);
  const buckets = await logger.summarize({ ...filterFrom(flags), by });
  if (format === 'json') {
    out.write(`${JSON.stringify({ by, buckets }, null, 2)}\n`);
    return 0;
  }
  const keyWidth = Math.min(40, Math.max(by.length, ...buckets.map((bucket) => displayWidth(terminalText(bucket.key)))));
  const countWidth = Math.max(5, ...buckets.map((bucket) => String(bucket.count).length));
  const barWidth = Math.min(60, Math.max(10, out.width - keyWidth - countWidth - 4));
  const max = Math.max(1, ...buckets.map((bucket) => bucket.count));
  out.write(`${by.padEnd(keyWidth)}  ${'count'.padStart(countWidth)}\n`);
  for (const bucket of buckets) {
    const key = fitCell(terminalText(bucket.key), keyWidth);
    const bar = '█'.repeat(Math.max(bucket.count > 0 ? 1 : 0, Math.round((bucket.count / max) * barWidth)));
    out.write(`${key}  ${String(bucket.count).padStart(countWidth)} ${out.color ? pc.cyan(bar) : bar}\n`);
  }
  if (buckets.length === 0) out.write('(no records)\n');
  return 0;
}

export async function verify(logger: ActivityLogger, flags: { since?: string; until?: string; chain?: string; checkpoints?: string; format?: string }, out: Terminal): Promise<number> {
  const format = flags.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw usage(`--format: verify writes table or json, got ${JSON.stringify(format)}`);
  let checkpoints: IntegrityCheckpoint[] | undefined;
  if (flags.checkpoints !== undefined) {
    const text = await readFile(flags.checkpoints, 'utf8').catch(() => {
      throw usage(`--checkpoints: cannot read ${flags.checkpoints}`);
    });
    checkpoints = [];
    for (const [index, row] of text.split('\n').entries()) {
      if (!row.trim()) continue;
      try {
        checkpoints.push(JSON.parse(row) as IntegrityCheckpoint);
      } catch (error) {
        // JSON.parse's own message names neither the file nor the line.
        throw usage(`--checkpoints: line ${index + 1} of ${flags.checkpoints} is not JSON (${(error as Error).message}): the file must hold one checkpoint per line, as onCheckpoint was given them`);
      }
    }
  }
  const report: VerifyReport = await logger.verify({
    ...(flags.since === undefined ? {} : { from: timeFlag('--since', flags.since) }),
    ...(flags.until === undefined ? {} : { to: timeFlag('--until', flags.until) }),
    ...(flags.chain === undefined ? {} : { chain: flags.chain }),
    ...(checkpoints ? { checkpoints } : {}),
    onProgress: (checked) => {
      if (process.stderr.isTTY) process.stderr.write(`\rchecked ${checked} records`);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  if (format === 'json') out.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const mark = report.ok ? (out.color ? pc.green('OK') : 'OK') : out.color ? pc.red('PROBLEMS FOUND') : 'PROBLEMS FOUND';
    out.write(`${mark}: ${report.checked} sealed records in ${report.chains} chain${report.chains === 1 ? '' : 's'}\n`);
    for (const [kind, count] of Object.entries(report.counts)) if (count > 0) out.write(`  ${kind.padEnd(12)} ${count}\n`);
    for (const problem of report.problems) {
      out.write(`${terminalText(`  ${problem.kind}${problem.id ? ` ${problem.id}` : ''}${problem.chain ? ` (chain ${problem.chain}${problem.seq ? ` #${problem.seq}` : ''})` : ''}: ${problem.detail}`)}\n`);
    }
  }
  return report.ok ? 0 : 1;
}

export async function erase(logger: ActivityLogger, flags: { actor?: string; target?: string; tenant?: string }, out: Terminal): Promise<number> {
  const given = [flags.actor, flags.target, flags.tenant].filter((value) => value !== undefined).length;
  if (given !== 1) throw usage('erase: name one subject: --actor ID, --target TYPE:ID or --tenant ID');
  // Named here as the flags: the library names its fields (actorId: must be a non-empty string).
  if (flags.actor === '') throw usage('--actor: must not be empty');
  if (flags.tenant === '') throw usage('--tenant: must not be empty');
  if (flags.target?.endsWith(':')) throw usage(`--target: must be TYPE:ID with an ID, got ${JSON.stringify(flags.target)}`);
  let subject: Parameters<ActivityLogger['erase']>[0];
  if (flags.actor !== undefined) subject = { actorId: flags.actor };
  else if (flags.tenant !== undefined) subject = { tenantId: flags.tenant };
  else {
    const colon = flags.target!.indexOf(':');
    if (colon <= 0) throw usage(`--target: must be TYPE:ID, got ${JSON.stringify(flags.target)}`);
    subject = { targetType: flags.target!.slice(0, colon), targetId: flags.target!.slice(colon + 1) };
  }
  const records = await logger.with({ actor: cliActor() }).erase(subject);
  out.write(`erased the personal values of ${records} records\n`);
  return 0;
}

/** A logger over the store for one command: its own writes (an erasure) are recorded by the CLI. */
export function cliLogger(store: ActivityLogger['store'], integrity: Parameters<typeof createActivityLogger>[0]['integrity']): ActivityLogger {
  return createActivityLogger({ store, onError: (error) => process.stderr.write(`activity-log: ${error.message}\n`), ...(integrity ? { integrity } : {}) });
}
