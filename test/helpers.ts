import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { ActivityLogError } from '../src/errors.js';
import type { ActivityRecord } from '../src/schema.js';
import type { ActivityStore } from '../src/store.js';
import { memoryStore, type MemoryStore } from '../adapters/storage/memory.js';

/** Collects what a logger reports through onError. */
export function errorCollector() {
  const errors: ActivityLogError[] = [];
  return { errors, onError: (error: ActivityLogError) => void errors.push(error) };
}

/**
 * A real memory store whose inserts can be held open (to fill the queue) or failed on demand.
 * Every batch the store receives is recorded in `batches`.
 */
export function controllableStore(): MemoryStore & {
  batches: ActivityRecord[][];
  hold(): void;
  release(): void;
  failNext(count: number): void;
  failAlways(on: boolean): void;
  closed: boolean;
} {
  const inner = memoryStore();
  let gate: Promise<void> | undefined;
  let openGate: (() => void) | undefined;
  let failuresLeft = 0;
  let alwaysFail = false;
  const store = Object.assign(Object.create(inner) as MemoryStore, {
    batches: [] as ActivityRecord[][],
    closed: false,
    hold() {
      gate = new Promise<void>((resolve) => (openGate = resolve));
    },
    release() {
      openGate?.();
      gate = undefined;
    },
    failNext(count: number) {
      failuresLeft = count;
    },
    failAlways(on: boolean) {
      alwaysFail = on;
    },
    async insert(records: readonly ActivityRecord[]) {
      store.batches.push([...records]);
      if (gate) await gate;
      if (alwaysFail || failuresLeft > 0) {
        failuresLeft = Math.max(0, failuresLeft - 1);
        throw new Error('store unavailable (injected)');
      }
      return inner.insert(records);
    },
    async close() {
      store.closed = true;
    },
  });
  Object.defineProperty(store, 'size', { get: () => inner.size });
  return store;
}

/** Waits until `predicate` holds, polling; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export type { ActivityStore };

/**
 * Runs this repository's TypeScript compiler with `args` (in `cwd`): '' when it exits 0, else
 * everything it printed on either stream, so a failing type check reads as its errors.
 */
export function typeCheckFailures(args: string[], cwd?: string): string {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return '';
  } catch (error) {
    const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message: string };
    return [stdout, stderr].filter(Boolean).join('\n') || message;
  }
}

/** A real memory store that counts the reads reaching it. */
export function countingStore(inner: MemoryStore): ActivityStore & { reads: number } {
  const counting = {
    name: inner.name,
    capabilities: inner.capabilities,
    reads: 0,
    insert: (records: readonly ActivityRecord[]) => inner.insert(records),
    query: (q: Parameters<ActivityStore['query']>[0]) => (counting.reads++, inner.query(q)),
    get: (id: string) => (counting.reads++, inner.get(id)),
    purge: inner.purge.bind(inner),
    count: (f: Parameters<NonNullable<ActivityStore['count']>>[0]) => (counting.reads++, inner.count!(f)),
    summarize: (q: Parameters<NonNullable<ActivityStore['summarize']>>[0]) => (counting.reads++, inner.summarize!(q)),
  };
  return counting;
}

/**
 * Watches the event loop: `stop()` gives the longest it stood still (ms), as the longest gap
 * between ticks of a 10 ms interval. (`monitorEventLoopDelay` saw nothing of a 4 s freeze in
 * a vitest worker, so the tests that promise a turning loop measure it themselves.)
 */
export function watchEventLoop(): { stop: () => number } {
  let last = performance.now();
  let longestGapMs = 0;
  const ticking = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(ticking);
      return Math.max(longestGapMs, performance.now() - last);
    },
  };
}
