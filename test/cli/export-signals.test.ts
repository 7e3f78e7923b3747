import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { exportRecords } from '../../adapters/cli/commands.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'activity-log-export-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const terminal = { write: () => {}, width: 120, color: false };
const listening = () => SIGNALS.map((signal) => process.listeners(signal));
/** The listeners added since `before`, signal by signal. */
const added = (before: ReturnType<typeof listening>) => SIGNALS.flatMap((signal, i) => process.listeners(signal).filter((listener) => !before[i]!.includes(listener)));

describe('export --out -', () => {
  it('waits for a slow reader of standard output rather than holding the whole export in memory', async () => {
    // The reader is a stand-in (a Terminal whose drain() the test releases): how long a real
    // pipe's reader takes cannot be held still from here. The process itself was measured by
    // hand: 100,000 records into a reader that sleeps 3 s took 495 MB, now 227 MB, bounded.
    const activity = createActivityLogger({ store: memoryStore(), maxQueue: 5_000, batchSize: 500 });
    for (let i = 0; i < 1_500; i++) activity.log({ action: 'export.slow', metadata: { i } });
    await activity.flush();
    const written: string[] = [];
    let release = () => {};
    const reader = {
      ...terminal,
      write: (text: string) => void written.push(text),
      drain: () => new Promise<void>((resolve) => (release = resolve)),
    };
    const exporting = exportRecords(activity, { out: '-' }, reader);
    await vi.waitFor(() => expect(written).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The first page of 500 is written; the next is not read until the reader has taken it.
    expect(written).toHaveLength(1);
    expect(written[0]!.trim().split('\n')).toHaveLength(500);
    for (let page = 1; page <= 3; page++) {
      release();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await exporting).toBe(0);
    expect(written.join('').trim().split('\n')).toHaveLength(1_500);
    await activity.close();
  });
});

describe('export --out: its signal handlers', () => {
  it('are taken off once the export is done: a Ctrl-C while the store closes does not say that the file just written was not', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    activity.log({ action: 'export.signal' });
    await activity.flush();
    const out = join(dir, 'done.ndjson');
    const before = listening();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    expect(await exportRecords(activity, { out }, terminal)).toBe(0);
    expect(existsSync(out)).toBe(true);
    // What a signal now would run (the CLI closes the logger after the command: a pool, a thread).
    const left = added(before);
    for (const listener of left) (listener as () => void)();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stderr.mock.calls.map(([text]) => String(text)).join('')).not.toMatch(/interrupted/);
    expect(exit).not.toHaveBeenCalled();
    expect(left).toHaveLength(0);
    await activity.close();
  });

  it('are taken off when --out cannot be written', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    const before = listening();
    await expect(exportRecords(activity, { out: dir }, terminal)).rejects.toThrow(/--out: must be a file/);
    expect(added(before)).toHaveLength(0);
    await activity.close();
  });
});
