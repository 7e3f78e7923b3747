import { storedTimeOf } from '../stored-time.js';
import { isStorableTime } from '../time.js';
import { cutText } from '../text.js';
import { ActivityLogError } from '../errors.js';
import { describeValue } from '../describe.js';
import { optionNames, refuseUnknownOptions } from '../option-keys.js';
import { parseActivityQuery } from '../query.js';
import type { ActivityRecord } from '../schema.js';
import type { ActivityStore, ChainPosition } from '../store.js';
import { canonicalForm, commitment, ERASED, saltOf, valueAt } from './canonical.js';
import { chainHasher } from './hmac.js';
import { ChainCheckpointReader, CheckpointCursor, outsideCheckpointsByChain } from './checkpoint-reader.js';
import type { IntegrityProblem, IntegrityProblemKind } from './problems.js';
import { erasurePlan, type EraseSubject } from './erase.js';
import type { IntegrityCheckpoint, ResolvedIntegrity } from './options.js';

export type { IntegrityProblem, IntegrityProblemKind } from './problems.js';

/** The report of `verify()`. */
export interface VerifyReport {
  /** True when nothing but lawful erasures was found. */
  ok: boolean;
  /** Sealed records checked. */
  checked: number;
  /** Chains seen. */
  chains: number;
  /** How many findings of each kind (also those past `maxProblems`). */
  counts: Record<IntegrityProblemKind, number>;
  /** The findings, in chain order, at most `maxProblems` of them. */
  problems: IntegrityProblem[];
  /**
   * Records written by change capture's database triggers (`metadata.operation` and
   * `metadata.table`, no seal) among the unsealed ones: the database's own account of its row
   * changes, outside the loggers' chains (see the README's "Change capture"), so not a problem.
   */
  captured: number;
}

/** What `verify()` checks. */
export interface VerifyOptions {
  /** Records at or after this time (the chains' heads are then not checked). */
  from?: Date | string | number;
  /** Records before this time (a chain's tail is then checked against its checkpoints by looking up the checkpointed place). */
  to?: Date | string | number;
  /** Only this chain. */
  chain?: string;
  /**
   * Only this record's own proof (its hash and commitments; not its links). An id the store
   * does not hold is `missing`; a record without a seal is `unsealed` when a sealed record is
   * as old or older (as in the walk), else no problem (from before integrity was turned on).
   */
  id?: string;
  /** Checkpoints kept outside the database (from `onCheckpoint`), besides those in the store. */
  checkpoints?: readonly IntegrityCheckpoint[];
  /** Findings listed at most; the counts go on. @default 1000 */
  maxProblems?: number;
  /** Called after each page of records, with how many were checked so far. */
  onProgress?: (checked: number) => void;
}

const PAGE = 500;

const VERIFY_OPTIONS = optionNames<VerifyOptions>()(['from', 'to', 'chain', 'id', 'checkpoints', 'maxProblems', 'onProgress']);
const CHECKPOINT_TEXT_FIELDS = ['chain', 'hash', 'keyId', 'at', 'signature'] as const;

/**
 * Refuses options verify() cannot use, naming the field and the rule: a checkpoint list that
 * is not one would otherwise read as checkpoints made with an unknown key, a chain id that is
 * not a string as a chain with no records.
 */
function checkVerifyOptions(options: VerifyOptions): void {
  const fail = (message: string) => new ActivityLogError('INVALID_QUERY', `verify: ${message}`);
  if (options === null || typeof options !== 'object') throw fail(`options must be an object, got ${describeValue(options)}`);
  refuseUnknownOptions('verify', options, VERIFY_OPTIONS, 'INVALID_QUERY');
  for (const name of ['chain', 'id'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw fail(`${name}: must be a non-empty string, got ${describeValue(value)}`);
  }
  const { maxProblems, onProgress, checkpoints } = options;
  if (maxProblems !== undefined && !(Number.isInteger(maxProblems) && maxProblems >= 0)) throw fail(`maxProblems: must be a whole number from 0, got ${describeValue(maxProblems)}`);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw fail(`onProgress: must be a function, got ${describeValue(onProgress)}`);
  if (checkpoints === undefined) return;
  if (!Array.isArray(checkpoints)) throw fail(`checkpoints: must be an array of the checkpoints onCheckpoint was given, got ${describeValue(checkpoints)}`);
  checkpoints.forEach((checkpoint: unknown, index) => {
    const where = `checkpoints[${index}]`;
    if (checkpoint === null || typeof checkpoint !== 'object') throw fail(`${where}: must be a checkpoint object, got ${describeValue(checkpoint)}`);
    const fields = checkpoint as Record<string, unknown>;
    for (const field of CHECKPOINT_TEXT_FIELDS) {
      if (typeof fields[field] !== 'string') throw fail(`${where}.${field}: must be a string, got ${describeValue(fields[field])}`);
    }
    if (!Number.isInteger(fields.seq) || (fields.seq as number) < 1) throw fail(`${where}.seq: must be a whole number from 1, got ${describeValue(fields.seq)}`);
  });
}

/**
 * Streams through the sealed records, chain by chain, in constant memory (one page, the
 * previous record, the checkpoints of the places within MAX_BRIDGE of it, read as the walk
 * reaches them, and at most MAX_HELD broken links, with at most
 * MAX_HELD_FINDINGS findings behind them, held while they may be half of a swap), and reports
 * every finding:
 * - `edited`: a record whose hash, or a personal value whose commitment, does not match; a
 *   checkpoint whose signature does not; a value erased with no `activity.erase` covering it;
 * - `missing`: records missing from a chain (a gap in its sequence, or a broken link);
 * - `reordered`: two records whose places were swapped;
 * - `truncated`: a chain that ends before a checkpoint of it;
 * - `unknown-key`: a record or checkpoint made with a key no longer known;
 * - `unsealed`: a record with no seal, newer than the oldest sealed one (inserted behind the
 *   loggers' backs, or written by a logger without `integrity`);
 * - `erased`: a lawful erasure (its record, and the chain, still verify).
 * @internal (called through `logger.verify()`)
 */
export async function verifyChains(store: ActivityStore, integrity: ResolvedIntegrity, options: VerifyOptions = {}): Promise<VerifyReport> {
  checkVerifyOptions(options);
  if (!store.chainPage) throw new ActivityLogError('UNSUPPORTED', `store "${store.name}" does not implement chainPage(): it cannot be verified`);
  const { from, to } = parseActivityQuery({ from: options.from, to: options.to });
  const maxProblems = options.maxProblems ?? 1000;
  const report: VerifyReport = {
    ok: true,
    checked: 0,
    chains: 0,
    counts: { edited: 0, missing: 0, reordered: 0, truncated: 0, 'unknown-key': 0, unsealed: 0, erased: 0 },
    problems: [],
    captured: 0,
  };
  const problem = (found: IntegrityProblem) => {
    report.counts[found.kind] += 1;
    if (found.kind !== 'erased') report.ok = false;
    if (report.problems.length < maxProblems) report.problems.push(found);
  };
  let erasures = await erasedSubjects(store, integrity);
  /** How long, in all, the verify may wait for what a live logger is still writing (see fillGap, coverErasures). */
  let waitBudgetMs = MAX_GAP_WAIT_MS;
  let erasuresReadAt = Date.now();
  /**
   * Before `record` is checked: when it holds an erased value no erasure read so far covers,
   * the erasures are read again (at most every ERASURES_REREAD_MS), and waited for within the
   * wait budget. An erasure may run while the walk goes on: it rewrites its records first and
   * writes its `activity.erase` after, so its records are there before the record that
   * makes them lawful.
   */
  /** Waits `delay` ms out of the wait budget; false, at once, when the budget has not that much left. */
  const spend = async (delay: number): Promise<boolean> => {
    if (delay > waitBudgetMs) return false;
    waitBudgetMs -= delay;
    await new Promise((resolve) => setTimeout(resolve, delay));
    return true;
  };
  const coverErasures = async (record: ActivityRecord): Promise<void> => {
    for (let delay = 50; uncoveredErasure(record, erasures); delay *= 2) {
      if (Date.now() - erasuresReadAt < ERASURES_REREAD_MS && !(await spend(delay))) return;
      erasures = await erasedSubjects(store, integrity);
      erasuresReadAt = Date.now();
    }
  };
  if (options.id !== undefined) {
    await checkOneRecord(store, options.id, report, problem, async (record) => {
      await coverErasures(record);
      checkRecord(record, integrity, erasures, problem);
    });
    return report;
  }
  // The store's checkpoints are read in one pass, in the chains' order, as the walk goes.
  const cursor = new CheckpointCursor(store, options.chain);
  const outside = outsideCheckpointsByChain(options.checkpoints, options.chain);
  /** The chains given checkpoints for whose checkpoints were read (outside holds no more of them). */
  const outsideRead = new Set<string>();
  const readerOf = (name: string) => {
    if (outside.has(name)) outsideRead.add(name);
    return new ChainCheckpointReader(cursor, integrity, name, outside.get(name) ?? [], MAX_BRIDGE + 1, problem);
  };

  /** A verify of whole chains, not of a time window. */
  const whole = from === undefined && to === undefined;
  let oldestSealed = Number.POSITIVE_INFINITY;

  /**
   * The walk's step for one record of `state`'s chain, in the chain's order. In a verify of whole
   * chains, a gap before the record is read again first (unless `fill` is false): a live
   * logger's batches may commit out of order, and a batch committed after the walk's page was
   * read left a gap that is not one; what the store holds of it now is walked (and checked)
   * before the record, and only places still absent are reported missing.
   */
  const keyTally = new KeyTally();
  const visit = async (state: ChainState, record: ActivityRecord, fill = true): Promise<void> => {
    const sealed = record.integrity!;
    const gap = sealed.seq - state.linkSeq - 1;
    if (whole && fill && state.linkPrev && gap > 0 && gap <= MAX_BRIDGE) await fillGap(state, sealed.seq);
    expireBreaks(state, sealed.seq, problem);
    // While a broken link is held (it may be half of a swap), findings wait behind it, in chain order.
    const say = (found: IntegrityProblem) => (state.held.length > 0 ? state.held.push({ problem: found, settled: true }) : problem(found));
    await coverErasures(record);
    checkRecord(record, integrity, erasures, say, keyTally);
    await state.checkpoints.advance(sealed.seq);
    const checkpointHash = state.checkpoints.get(sealed.seq);
    const mismatch: IntegrityProblem | undefined =
      checkpointHash !== undefined && checkpointHash !== sealed.hash
        ? { kind: 'edited', id: record.id, chain: sealed.chain, seq: sealed.seq, detail: 'its hash is not the one a checkpoint recorded for its place' }
        : undefined;
    if (!whole && state.linkPrev) {
      await untilWritten(state.name, async () => {
        await bridgeOutsideWindow(store, state, sealed.seq);
        const left = sealed.seq - state.linkSeq - 1;
        return left > 0 && left <= MAX_BRIDGE ? state.linkSeq + 1 : undefined;
      });
    }
    link(state, record, mismatch, say);
    release(state, problem);
    state.last = record;
    report.checked += 1;
    oldestSealed = Math.min(oldestSealed, record.occurredAt.getTime());
  };

  /**
   * Reads again the places of the gap before place `seq` and walks what is there. While places
   * are still absent and no checkpoint of the chain names a place from the first of them on (a
   * logger checkpoints only places it has settled: a gap before a checkpoint is no batch still
   * being written), it waits and reads them again, for at most MAX_GAP_WAIT_MS per verify.
   */
  const fillGap = (state: ChainState, seq: number): Promise<void> =>
    untilWritten(state.name, async () => {
      for (const late of await placesBetween(store, state.name, state.linkSeq, seq)) await visit(state, late, false);
      return state.linkSeq + 1 < seq ? state.linkSeq + 1 : undefined;
    });
  /**
   * Runs `attempt`, which returns the first place it found absent (or undefined), and again
   * after a wait while no checkpoint of the chain names that place or a later one, within the
   * verify's MAX_GAP_WAIT_MS.
   */
  const untilWritten = async (name: string, attempt: () => Promise<number | undefined>): Promise<void> => {
    for (let delay = 50; ; delay *= 2) {
      const absent = await attempt();
      // The budget is looked at before the checkpoints: a verify that has spent it reads no more.
      if (absent === undefined || delay > waitBudgetMs || (await checkpointedFrom(name, absent))) return;
      await spend(delay);
    }
  };
  /** Whether a checkpoint of `name`, in the store or given, names place `place` or a later one. */
  const checkpointedFrom = async (name: string, place: number): Promise<boolean> => {
    if ((outside.get(name) ?? []).some((checkpoint) => checkpoint.seq >= place)) return true;
    const [next] = (await store.checkpointPage?.({ chain: name, after: { chain: name, seq: place - 1 }, limit: 1 })) ?? [];
    return next?.chain === name;
  };

  let chain: ChainState | undefined;
  const finish = async (state: ChainState) => {
    if (whole && state.last) {
      // A checkpoint past the chain's last record read: a live logger may have written more of
      // the chain, and checkpointed it, after the walk read its end. What the store holds after
      // it now is walked; a checkpoint still ahead of that is a truncation.
      const { seq: newest } = await state.checkpoints.newest();
      while (newest > state.last.integrity!.seq) {
        const after = { chain: state.name, seq: state.last.integrity!.seq };
        const more = (await store.chainPage!({ chain: state.name, after, limit: PAGE })).filter((record) => record.integrity?.chain === state.name);
        if (more.length === 0) break;
        for (const record of more) await visit(state, record);
      }
    }
    /** The chain's record after the window's last, read once (it may be a batch a live logger is still writing). */
    let onward: ActivityRecord | undefined;
    if (!whole && state.last) {
      const { seq } = state.last.integrity!;
      await untilWritten(state.name, async () => {
        const [next] = await store.chainPage!({ chain: state.name, after: { chain: state.name, seq }, limit: 1 });
        onward = next?.integrity?.chain === state.name ? next : undefined;
        return onward && onward.integrity!.seq > seq + 1 ? seq + 1 : undefined;
      });
    }
    expireBreaks(state, Number.POSITIVE_INFINITY, problem);
    const { seq: newest, hash: newestHash } = await state.checkpoints.newest();
    // Over a window, the chain may go on outside it (after \`to\`, or records queued late with
    // times before \`from\`): its next record must be there and link to the window's last (a
    // deletion at the end of the range leaves the rest of the chain whole), and the record at
    // the newest checkpointed place must be the one checkpointed.
    if (state.last && (to !== undefined || from !== undefined) && linksOnward(state.last, onward, integrity, erasures, problem)) {
      const atNewest = newest > state.last.integrity!.seq ? await recordAtPlace(store, state.name, newest) : undefined;
      if (atNewest && atNewest.integrity!.hash !== newestHash) {
        problem({ kind: 'truncated', chain: state.name, seq: newest, detail: `the record at ${newest} of chain ${state.name} is not the one a checkpoint recorded there: its newest records were replaced` });
      } else if (newest > state.last.integrity!.seq && !atNewest) {
        problem({ kind: 'truncated', chain: state.name, seq: newest, detail: `chain ${state.name} has no record at ${newest}, but a checkpoint shows it reached it: its newest records were deleted` });
      }
    } else if (state.last && to === undefined && from === undefined && newest > state.last.integrity!.seq) {
      problem({ kind: 'truncated', chain: state.name, seq: newest, detail: `chain ${state.name} ends at ${state.last.integrity!.seq}, but a checkpoint shows it reached ${newest}: its newest records were deleted` });
    }
  };

  /**
   * A chain that checkpoints know of and no record in the walk is left of (with \`to\`: none in
   * the range, nor at the newest checkpointed place). Its checkpoints are checked in any case;
   * not with \`from\`: a chain older than it may have been purged whole, lawfully (see the
   * README's "Retention and verification").
   */
  const chainWithoutRecords = async (name: string) => {
    const { seq: newest, hash: newestHash } = await readerOf(name).newest();
    if (from !== undefined || newest === 0) return;
    if (to === undefined) {
      // A chain begun while the walk went on (a logger started during the verify) was not in
      // the store when the walk passed its place: its records are there now, the one at its
      // newest checkpointed place the one checkpointed.
      if ((await recordAtPlace(store, name, newest))?.integrity!.hash === newestHash) return;
      report.chains += 1;
      problem({ kind: 'truncated', chain: name, seq: newest, detail: `chain ${name} has checkpoints but no records left` });
      return;
    }
    // The chain may begin after the range: then its first record, and the one at its newest
    // checkpointed place, are there (a later record renumbered into place 1 links elsewhere).
    const atNewest = await recordAtPlace(store, name, newest);
    if (atNewest?.integrity!.hash !== newestHash) {
      report.chains += 1;
      problem({ kind: 'truncated', chain: name, seq: newest, detail: `chain ${name} has no record in the range, nor the one at ${newest}, the place a checkpoint shows it reached` });
    } else if ((await recordAtPlace(store, name, 1))?.integrity!.prev !== '') {
      report.chains += 1;
      problem({ kind: 'missing', chain: name, seq: 1, detail: `chain ${name} has no record in the range, and its first record is missing: the records of the range were deleted` });
    }
  };
  /**
   * The chains the store has checkpoints of that come before \`next\` (every one left, without
   * it) and were not walked: the walk goes in the same order (see comesBefore).
   */
  const passChainsWithoutRecords = async (next: string | undefined) => {
    for (let checkpoint = await cursor.peek(); checkpoint && comesBefore(checkpoint.chain, next); checkpoint = await cursor.peek()) {
      await chainWithoutRecords(checkpoint.chain);
    }
  };

  let after: ChainPosition | undefined;
  /** How many records at the end of the last page the next one may return again (see below). */
  let reread = 0;
  for (;;) {
    const page = await store.chainPage({ chain: options.chain, from, to, after, limit: PAGE });
    let first = 0;
    while (first < reread && first < page.length && atPosition(page[first]!, after!)) first += 1;
    for (let index = first; index < page.length; index++) {
      const record = page[index]!;
      const sealed = record.integrity!;
      if (chain?.name !== sealed.chain) {
        if (chain) await finish(chain);
        await passChainsWithoutRecords(sealed.chain);
        chain = { name: sealed.chain, checkpoints: readerOf(sealed.chain), last: undefined, linkPrev: undefined, linkSeq: 0, atHead: false, breaks: [], held: [] };
        report.chains += 1;
        // In a verify of whole chains, the chain's first places are read again (see visit()):
        // a live logger's first batch may have committed after the walk's page was read.
        const head = whole && sealed.seq > 1 ? await placesBetween(store, sealed.chain, 0, sealed.seq) : [];
        if (head[0]?.integrity!.seq === 1) {
          chain.atHead = true;
          for (const record of head) await visit(chain, record, false);
        } else if (from === undefined && sealed.seq > 1 && (to === undefined || (await recordAtPlace(store, sealed.chain, 1))?.integrity!.prev !== '')) {
          problem({ kind: 'missing', chain: sealed.chain, seq: 1, detail: `the first ${sealed.seq - 1} records of chain ${sealed.chain} are missing` });
        } else if (sealed.seq > 1) {
          // The chain may have begun before the window (\`from\`; or, with \`to\` alone, records
          // queued late have times before those of earlier places, which lie after \`to\`, and
          // the chain's first record is there): the nearest record before the window's first,
          // if the store still has one (retention may have purged them lawfully), is what the
          // first must link to, so that a deletion at the start of the range shows.
          const before = await recordBefore(store, sealed.chain, sealed.seq);
          if (before) {
            checkRecord(before, integrity, erasures, problem);
            chain.linkPrev = before;
            chain.linkSeq = before.integrity!.seq;
          }
        } else {
          // The first record must link to nothing: link() checks it (it may be half of a swap).
          chain.atHead = true;
        }
      }
      await visit(chain, record);
    }
    options.onProgress?.(report.checked);
    if (page.length < PAGE) break;
    const lastRecord = page[page.length - 1]!;
    // With the id: a page may end among records renumbered to one place, and the rest of them
    // are next. With the time: where ids are not unique (a partitioned table's key is the id and
    // the time), copies of the last record inserted with other times are next; a store that
    // needs it reads from that millisecond on, so the page's last records may come again.
    after = { chain: lastRecord.integrity!.chain, seq: lastRecord.integrity!.seq, id: lastRecord.id, occurredAt: lastRecord.occurredAt };
    reread = 1;
    while (reread < page.length && atPosition(page[page.length - 1 - reread]!, after)) reread += 1;
    if (reread === page.length) {
      // A whole page of one id at one place and millisecond: copies, more than a page holds.
      // Past them by id, so that the walk ends.
      problem({ kind: 'edited', id: lastRecord.id, chain: after.chain, seq: after.seq, detail: `more than ${PAGE} records share this id, place and time: copies of it were inserted` });
      after = { chain: after.chain, seq: after.seq, id: after.id };
      reread = 0;
    }
  }
  if (chain) await finish(chain);
  if (options.chain === undefined && report.checked > 0) await findUnsealed(store, new Date(oldestSealed), from, to, report, problem);
  await passChainsWithoutRecords(undefined);
  for (const name of outside.keys()) if (!outsideRead.has(name)) await chainWithoutRecords(name);
  keyTally.hintWrongKeys();
  return report;
}

/**
 * Per key id, how many records' hashes matched, and the first finding of one that did not. A
 * log verified under the wrong key (the same key id, another secret: a variable set from the
 * wrong environment) reads as every record edited; the first finding then says so.
 */
class KeyTally {
  private readonly byKey = new Map<string, { matched: number; mismatched: number; first: IntegrityProblem | undefined }>();

  note(keyId: string, mismatch: IntegrityProblem | undefined): void {
    let tally = this.byKey.get(keyId);
    if (!tally) this.byKey.set(keyId, (tally = { matched: 0, mismatched: 0, first: undefined }));
    if (mismatch === undefined) tally.matched += 1;
    else {
      tally.mismatched += 1;
      tally.first ??= mismatch;
    }
  }

  hintWrongKeys(): void {
    for (const [keyId, { matched, mismatched, first }] of this.byKey) {
      if (matched > 0 || mismatched < 2 || !first) continue;
      first.detail += `; none of the ${mismatched} records made with key "${keyId}" matches its hash: is the key given for "${keyId}" the one they were made with?`;
    }
  }
}

/** Whether `record` is at `position`: its chain, place, id and millisecond. */
function atPosition(record: ActivityRecord, position: ChainPosition): boolean {
  return (
    record.id === position.id &&
    record.integrity!.seq === position.seq &&
    record.integrity!.chain === position.chain &&
    record.occurredAt.getTime() === position.occurredAt?.getTime()
  );
}

/**
 * `verify({ id })`: one record's own proof. A record the store does not hold is `missing` (it
 * was asked for by id, so it existed once), and one without a seal is judged as the walk judges
 * it: captured by the database's triggers, from before the first sealed record (no problem), or
 * `unsealed` when a sealed record is as old or older (its seal was removed, or it was inserted
 * behind the loggers' backs). Before, both were "nothing wrong" with nothing checked.
 */
async function checkOneRecord(
  store: ActivityStore,
  id: string,
  report: VerifyReport,
  problem: (found: IntegrityProblem) => void,
  checkSealed: (record: ActivityRecord) => Promise<void>,
): Promise<void> {
  const record = await store.get(id);
  if (record === undefined) {
    problem({ kind: 'missing', id, detail: 'the store holds no record with this id' });
    return;
  }
  if (record.integrity) {
    await checkSealed(record);
    report.checked = 1;
    report.chains = 1;
    return;
  }
  if (isCaptured(record)) {
    report.captured = 1;
    return;
  }
  // Any sealed record at or before its time (chainPage's `to` is exclusive).
  const olderSealed = await store.chainPage!({ to: new Date(record.occurredAt.getTime() + 1), limit: 1 });
  if (olderSealed.length > 0) problem({ kind: 'unsealed', id: record.id, detail: 'it has no seal, though it is newer than the oldest sealed record' });
}

/**
 * Records without a seal among those at or after the oldest sealed record: one count in the
 * usual case (every record there is sealed), and a pass over the range to name them when not.
 */
async function findUnsealed(
  store: ActivityStore,
  oldestSealed: Date,
  from: Date | undefined,
  to: Date | undefined,
  report: VerifyReport,
  problem: (found: IntegrityProblem) => void,
): Promise<void> {
  if (!store.count) return;
  const sealed = report.checked;
  const lower = from && from.getTime() > oldestSealed.getTime() ? from : oldestSealed;
  const filter = to === undefined ? { from: lower } : { from: lower, to };
  if ((await store.count(filter)) <= sealed) return;
  let query = parseActivityQuery({ ...filter, limit: PAGE });
  for (;;) {
    const page = await store.query(query);
    for (const record of page.items) {
      if (record.integrity) continue;
      if (isCaptured(record)) report.captured += 1;
      else problem({ kind: 'unsealed', id: record.id, detail: 'it has no seal, though it is newer than the oldest sealed record' });
    }
    if (!page.nextCursor) return;
    query = parseActivityQuery({ ...filter, limit: PAGE, cursor: page.nextCursor });
  }
}

/** Whether a record was written by change capture's triggers (see adapters/storage/capture). */
function isCaptured(record: ActivityRecord): boolean {
  const metadata = record.metadata as { operation?: unknown; table?: unknown } | undefined;
  return typeof metadata?.table === 'string' && (metadata.operation === 'insert' || metadata.operation === 'update' || metadata.operation === 'delete');
}

/** A chain id as loggers make them: a UUID in lowercase hex. */
const CHAIN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether the store's checkpoints of chain \`other\` come before those of \`next\`, the chain the
 * walk reaches (every one when there is none). Compared as JavaScript strings, which is the
 * store's order for chain ids as loggers make them, whatever the column's collation. A chain
 * id that is no UUID was written through the database's own client, and the collation may put
 * it anywhere (PostgreSQL's en-US puts \`~\` before digits): its checkpoints are checked as
 * soon as the cursor reaches them, and the walk's UUID chains wait at it for none. Otherwise
 * the cursor would stay behind it, every chain walked after it would be read without its
 * checkpoints, and their truncations would go unreported with \`from\` (reported as chains
 * with no records left without).
 */
function comesBefore(other: string, next: string | undefined): boolean {
  if (next === undefined) return true;
  if (other === next) return false;
  const made = CHAIN_ID.test(other);
  if (made !== CHAIN_ID.test(next)) return !made;
  return other < next;
}

interface ChainState {
  name: string;
  /** This chain's checkpoints, read as the walk reaches their places. */
  checkpoints: ChainCheckpointReader;
  last: ActivityRecord | undefined;
  /** The record the next one must link to, and the place the next one must follow. */
  linkPrev: ActivityRecord | undefined;
  linkSeq: number;
  /** The chain's first place is next, and must link to nothing (a verify from its start). */
  atHead: boolean;
  /**
   * Records whose link to the one before them is broken, held while they may be half of a
   * swap (their partner is then a later record that links where they should): at most
   * MAX_HELD of them, none more than MAX_BRIDGE places back.
   */
  breaks: Break[];
  /** Findings held behind a break, in chain order: released once the breaks before them are settled. */
  held: Held[];
}

/** A broken link: `record` does not link to `expected`, the hash of the place before it. */
interface Break {
  record: ActivityRecord;
  expected: string;
  /** Its finding, until a swap explains it. */
  entry: Held;
  /** A checkpoint's disagreement with its place, dropped when the swap explains it. */
  mismatch: Held | undefined;
}

/** A finding held in chain order: released once `settled` (without a `problem` when a swap explained it). */
interface Held {
  problem?: IntegrityProblem;
  settled: boolean;
}

/** Broken links held at most, per chain. */
const MAX_HELD = 64;

/** Findings held behind broken links at most, per chain: verify's memory stays bounded however a chain was tampered with. */
const MAX_HELD_FINDINGS = 1000;

/** The record's own proof: its key, its commitments and its hash. */
function checkRecord(
  record: ActivityRecord,
  integrity: ResolvedIntegrity,
  erasures: readonly ErasedSubject[],
  problem: (found: IntegrityProblem) => void,
  keyTally?: KeyTally,
): void {
  const sealed = record.integrity!;
  const where = { id: record.id, chain: sealed.chain, seq: sealed.seq };
  const key = integrity.keyOf(sealed.keyId);
  if (!key) {
    problem({ kind: 'unknown-key', ...where, detail: `made with key "${sealed.keyId}", ${integrity.whyNoKey(sealed.keyId)}` });
    return;
  }
  let erased: string[] | undefined;
  for (const [path, committed] of Object.entries(sealed.commitments ?? {})) {
    const value = valueAt(record, path);
    const salt = saltOf(sealed, path);
    if (value === ERASED && salt === undefined) {
      (erased ??= []).push(path);
    } else if (salt === undefined || commitment(salt, path, value) !== committed) {
      problem({ kind: 'edited', ...where, detail: `${path} does not match its commitment` });
      return;
    }
  }
  // A seal covers whole milliseconds; a stored time finer than them was written by someone
  // else, and the Date read back (whole milliseconds) would still match the seal.
  const storedTime = storedTimeOf(record.occurredAt);
  if (storedTime !== undefined) {
    const detail =
      typeof storedTime === 'number' && isStorableTime(storedTime)
        ? `its time holds ${storedTime} ms since 1970, finer than the whole milliseconds this library writes`
        : `its stored time ${typeof storedTime === 'number' ? storedTime : `text ${JSON.stringify(cutText(storedTime, 40))}`} is not a time this library writes`;
    problem({ kind: 'edited', ...where, detail });
    return;
  }
  if (!hashMatches(record, key)) {
    const mismatch: IntegrityProblem = { kind: 'edited', ...where, detail: 'its content does not match its hash' };
    keyTally?.note(sealed.keyId, mismatch);
    problem(mismatch);
    return;
  }
  keyTally?.note(sealed.keyId, undefined);
  if (erased) {
    // Each erased field by some erasure (an actor's and a target's erasures meet in one record).
    const lawful = erased.every((path) => erasures.some((subject) => subject.covers(record, [path])));
    problem(
      lawful
        ? { kind: 'erased', ...where, detail: `${erased.join(', ')} erased` }
        : { kind: 'edited', ...where, detail: `${erased.join(', ')} erased, but no activity.erase record covers this record` },
    );
  }
}

/** Whether the store holds a record of `chain` at place \`seq\`. */
async function recordAtPlace(store: ActivityStore, chain: string, seq: number): Promise<ActivityRecord | undefined> {
  const [found] = await store.chainPage!({ chain, after: { chain, seq: seq - 1 }, limit: 1 });
  return found?.integrity?.chain === chain && found.integrity.seq === seq ? found : undefined;
}

/**
 * The chain's records the store holds now at the places between `after` and `before` (both
 * excluded), in order, at most MAX_BRIDGE of them: a gap read again.
 */
async function placesBetween(store: ActivityStore, chain: string, after: number, before: number): Promise<ActivityRecord[]> {
  const page = await store.chainPage!({ chain, after: { chain, seq: after }, limit: Math.min(before - after - 1, MAX_BRIDGE) });
  return page.filter((record) => record.integrity?.chain === chain && record.integrity.seq < before);
}

/** Shortest time between two reads of the erasures (see coverErasures). */
const ERASURES_REREAD_MS = 250;

/**
 * Whether a sealed record holds an erased value (`[ERASED]`, its salt gone) that none of
 * `erasures` covers.
 */
function uncoveredErasure(record: ActivityRecord, erasures: readonly ErasedSubject[]): boolean {
  const sealed = record.integrity;
  if (!sealed?.commitments) return false;
  for (const path of Object.keys(sealed.commitments)) {
    if (valueAt(record, path) === ERASED && saltOf(sealed, path) === undefined && !erasures.some((subject) => subject.covers(record, [path]))) return true;
  }
  return false;
}

/** Longest a verify waits, in all, for batches a live logger has not finished writing. */
const MAX_GAP_WAIT_MS = 2000;

/** Largest run of places looked back over for the record before a window's first. */
const MAX_LOOKBACK = 1000;

/**
 * The chain's last record before place `seq`, however far back: the MAX_LOOKBACK places before
 * it in one read (the usual case), else searched for (see recordFurtherBefore). Looking no
 * further than those places hid a deletion of more of them at the start of a range, while the
 * store still held older records of the chain.
 */
async function recordBefore(store: ActivityStore, chain: string, seq: number): Promise<ActivityRecord | undefined> {
  const page = await store.chainPage!({ chain, after: { chain, seq: Math.max(0, seq - 1 - MAX_LOOKBACK) }, limit: MAX_LOOKBACK });
  let found: ActivityRecord | undefined;
  for (const record of page) if (record.integrity?.chain === chain && record.integrity.seq < seq) found = record;
  if (found || seq - 1 - MAX_LOOKBACK <= 0) return found;
  return recordFurtherBefore(store, chain, seq - MAX_LOOKBACK);
}

/**
 * The chain's last record before place `empty`, the first of a run of places up to the window's
 * first that holds none, in reads of one record each: back by doubling distances until a place
 * holds one, then halving the stretch between it and the run. So a run of a million places
 * deleted (or purged) costs some forty indexed reads, not a read of the run's length.
 */
async function recordFurtherBefore(store: ActivityStore, chain: string, empty: number): Promise<ActivityRecord | undefined> {
  /** The chain's first record at place `place` or after it. */
  const firstFrom = async (place: number) =>
    (await store.chainPage!({ chain, after: { chain, seq: place - 1 }, limit: 1 })).find((record) => record.integrity?.chain === chain);
  let found: ActivityRecord | undefined;
  for (let distance = MAX_LOOKBACK; !found; distance *= 2) {
    if (empty <= 1) return undefined;
    const start = Math.max(1, empty - distance);
    const first = await firstFrom(start);
    // No record in [empty, the window's first): one at or after `start` before `empty` is the one sought for now.
    if (first && first.integrity!.seq < empty) found = first;
    else empty = start;
  }
  // found < empty, and no place from `empty` to the window's first holds a record.
  while (found.integrity!.seq + 1 < empty) {
    const middle = Math.floor((found.integrity!.seq + 1 + empty) / 2);
    const first = await firstFrom(middle);
    if (first && first.integrity!.seq < empty) found = first;
    else empty = middle;
  }
  return found;
}

/**
 * In a verify that ends at \`to\`, whether the chain goes on from \`last\`, the window's last
 * record, as it should: its next record (\`next\`, read by the caller), if any, is at the next
 * place, links to \`last\`, and holds its own seal (it is checked, though outside the window:
 * it is what proves the link). Reports what it finds wrong; true when nothing, or when the
 * chain simply ends there.
 */
function linksOnward(
  last: ActivityRecord,
  next: ActivityRecord | undefined,
  integrity: ResolvedIntegrity,
  erasures: readonly ErasedSubject[],
  problem: (found: IntegrityProblem) => void,
): boolean {
  const { chain, seq, hash } = last.integrity!;
  if (next?.integrity?.chain !== chain) return true;
  if (next.integrity.seq !== seq + 1 || next.integrity.prev !== hash) {
    problem({
      kind: 'missing',
      chain,
      seq: seq + 1,
      detail: `chain ${chain} goes on after the range, but its next record (at ${next.integrity.seq}) does not link to the range's last (at ${seq}): records at the end of the range were deleted`,
    });
    return false;
  }
  let whole = true;
  checkRecord(next, integrity, erasures, (found) => {
    if (found.kind !== 'erased') whole = false;
    problem(found);
  });
  return whole;
}

/** Largest run of a chain's records a windowed verify looks for outside its window. */
const MAX_BRIDGE = 1000;

/**
 * In a verify over a time window, a gap in a chain's places may be records that are there, but
 * outside the window: a record is sealed when it is queued, and one that waited for its
 * request's async actor was queued after records of later times. When the store has every
 * place of the gap, the link is checked across them (they are not checked themselves: they are
 * outside the window); when it lacks any, `link()` reports the gap as usual.
 */
async function bridgeOutsideWindow(store: ActivityStore, chain: ChainState, seq: number): Promise<void> {
  const gap = seq - chain.linkSeq - 1;
  // Also while a broken link is held: bridging moves only the link forward, not what a held break expects.
  if (gap <= 0 || gap > MAX_BRIDGE) return;
  const between = await store.chainPage!({ chain: chain.name, after: { chain: chain.name, seq: chain.linkSeq }, limit: gap });
  const places = between.filter((record) => record.integrity?.chain === chain.name && record.integrity.seq < seq);
  if (places.length !== gap || places.some((record, i) => record.integrity!.seq !== chain.linkSeq + 1 + i)) return;
  let before = chain.linkPrev!;
  for (const record of places) {
    // Linked one to the next: otherwise the gap is reported by link() as it stands.
    if (record.integrity!.prev !== before.integrity!.hash) return;
    before = record;
  }
  chain.linkPrev = before;
  chain.linkSeq = before.integrity!.seq;
}

/**
 * The record's link to the one before it in its chain. A record that links where it should
 * not is held (see ChainState.breaks): when a later record links where the held one should,
 * and the held one where the later one should, the two were swapped, neighbours or not, and
 * are reported once as `reordered`; the links the swap broke around them are its doing, not
 * findings of their own. A break no swap explains is reported as `missing`.
 */
function link(chain: ChainState, record: ActivityRecord, mismatch: IntegrityProblem | undefined, say: (found: IntegrityProblem) => void): void {
  const sealed = record.integrity!;
  const before = chain.linkPrev;
  const beforeSeq = chain.linkSeq;
  const expected = before ? before.integrity!.hash : chain.atHead ? '' : undefined;
  chain.atHead = false;
  chain.linkPrev = record;
  chain.linkSeq = sealed.seq;
  if (expected === undefined || sealed.prev === expected) {
    if (mismatch) say(mismatch);
    // Linked as it should be: then its place must follow the one before it.
    if (before && sealed.seq !== beforeSeq + 1) {
      say({ kind: 'edited', id: record.id, chain: sealed.chain, seq: sealed.seq, detail: `its place (${sealed.seq}) does not follow the record it links to (${beforeSeq})` });
    }
    return;
  }
  const gap = sealed.seq - beforeSeq - 1;
  if (gap > 0) {
    if (mismatch) say(mismatch);
    say({ kind: 'missing', id: record.id, chain: sealed.chain, seq: beforeSeq + 1, detail: `${gap} record${gap === 1 ? '' : 's'} missing before ${sealed.seq}` });
    return;
  }
  // Does this record belong where a held one is, and the held one here?
  for (let i = chain.breaks.length - 1; i >= 0; i--) {
    const held = chain.breaks[i]!;
    if (sealed.prev !== held.expected) continue;
    const neighbours = held.record === before;
    if (held.record.integrity!.prev !== (neighbours ? sealed.hash : expected)) continue;
    chain.breaks.splice(i, 1);
    held.entry.problem = { kind: 'reordered', id: record.id, chain: sealed.chain, seq: sealed.seq, detail: `records ${held.record.id} and ${record.id} are in each other's places` };
    held.entry.settled = true;
    // A checkpoint that names the other record's hash for a place only shows the swap again.
    const checkpoints = chain.checkpoints;
    if (held.mismatch) {
      if (checkpoints.get(held.record.integrity!.seq) === sealed.hash) held.mismatch.problem = undefined;
      held.mismatch.settled = true;
    }
    if (mismatch && checkpoints.get(sealed.seq) !== held.record.integrity!.hash) say(mismatch);
    if (!neighbours) {
      // The record after the held one's place links to this one, which belongs there.
      const next = chain.breaks.findIndex((other) => other.record.integrity!.seq === held.record.integrity!.seq + 1 && other.record.integrity!.prev === sealed.hash);
      if (next >= 0) {
        const [explained] = chain.breaks.splice(next, 1);
        explained!.entry.problem = undefined;
        explained!.entry.settled = true;
        if (explained!.mismatch) explained!.mismatch.settled = true;
      }
    }
    // The next record must link to the held one, which belongs at this place.
    chain.linkPrev = held.record;
    return;
  }
  if (chain.breaks.length >= MAX_HELD) settleBreak(chain, chain.breaks.shift()!);
  const mismatchEntry: Held | undefined = mismatch ? { problem: mismatch, settled: false } : undefined;
  if (mismatchEntry) chain.held.push(mismatchEntry);
  const entry: Held = { settled: false };
  chain.held.push(entry);
  chain.breaks.push({ record, expected, entry, mismatch: mismatchEntry });
}

/**
 * Held breaks that a swap can no longer explain, reported as missing: too far behind `seq`, or
 * holding back too many findings (places renumbered to one can put any number of records
 * within MAX_BRIDGE places), oldest first.
 */
function expireBreaks(chain: ChainState, seq: number, problem: (found: IntegrityProblem) => void): void {
  for (;;) {
    const oldest = chain.breaks[0];
    if (oldest === undefined || (seq - oldest.record.integrity!.seq <= MAX_BRIDGE && chain.held.length <= MAX_HELD_FINDINGS)) break;
    settleBreak(chain, chain.breaks.shift()!);
    release(chain, problem);
  }
  release(chain, problem);
}

/** A held break no swap explained: reported as a missing record. */
function settleBreak(chain: ChainState, held: Break): void {
  const sealed = held.record.integrity!;
  held.entry.problem =
    held.expected === ''
      ? { kind: 'missing', id: held.record.id, chain: sealed.chain, seq: sealed.seq, detail: 'the first record of its chain links to a record before it: records were deleted and the rest renumbered' }
      : { kind: 'missing', id: held.record.id, chain: sealed.chain, seq: sealed.seq, detail: 'it does not link to the record before it: records between them were deleted and the rest renumbered' };
  held.entry.settled = true;
  if (held.mismatch) held.mismatch.settled = true;
}

/** Reports the held findings up to the first break still held. */
function release(chain: ChainState, problem: (found: IntegrityProblem) => void): void {
  let released = 0;
  for (const entry of chain.held) {
    if (!entry.settled) break;
    if (entry.problem) problem(entry.problem);
    released += 1;
  }
  if (released > 0) chain.held.splice(0, released);
}

/**
 * The subjects of the `activity.erase` records: an erased value is lawful when an erasure
 * made after the record, of a subject the record belongs to, planned to erase that field.
 */
interface ErasedSubject {
  covers(record: ActivityRecord, paths: readonly string[]): boolean;
}

async function erasedSubjects(store: ActivityStore, integrity: ResolvedIntegrity): Promise<ErasedSubject[]> {
  const subjects: ErasedSubject[] = [];
  let query = parseActivityQuery({ action: 'activity.erase', status: 'success', limit: 500 });
  for (;;) {
    const page = await store.query(query);
    for (const record of page.items) {
      // Only an erasure record that is itself sealed and intact counts.
      const subject = record.metadata?.subject;
      if (!record.integrity || !intact(record, integrity)) continue;
      try {
        const { filter } = erasurePlan(subject as EraseSubject, []);
        const fields = new Set(Array.isArray(record.metadata?.fields) ? (record.metadata.fields as unknown[]).filter((field) => typeof field === 'string') : []);
        // Records up to the erasure's own time, or up to the newest record of the subject it
        // found (`through`), when that is later: a record's time may be ahead of the erasing
        // process's clock.
        const through = typeof record.metadata?.through === 'string' ? Date.parse(record.metadata.through) : Number.NaN;
        const at = Number.isFinite(through) ? Math.max(record.occurredAt.getTime(), through) : record.occurredAt.getTime();
        subjects.push({
          covers: (candidate, paths) =>
            candidate.occurredAt.getTime() <= at &&
            paths.every((path) => fields.has(path)) &&
            (filter.actorId === undefined || candidate.actor?.id === String(filter.actorId)) &&
            (filter.targetType === undefined || (candidate.target?.type === filter.targetType && candidate.target?.id === String(filter.targetId))) &&
            (filter.tenantId === undefined || candidate.tenantId === String(filter.tenantId)),
        });
      } catch {
        // Not a subject this release writes.
      }
    }
    if (!page.nextCursor) return subjects;
    query = parseActivityQuery({ action: 'activity.erase', status: 'success', limit: 500, cursor: page.nextCursor });
  }
}

function intact(record: ActivityRecord, integrity: ResolvedIntegrity): boolean {
  const key = integrity.keyOf(record.integrity!.keyId);
  return key !== undefined && hashMatches(record, key);
}

/** Whether a sealed record's stored hash is the one its content and link give under `key`. */
function hashMatches(record: ActivityRecord, key: Uint8Array): boolean {
  const sealed = record.integrity!;
  return hasherOf(key)(sealed.prev, canonicalForm(record, sealed.chain, sealed.keyId, sealed.commitments)) === sealed.hash;
}

/** One hasher per key, its pads worked out once for every record verified under it. */
const hashers = new WeakMap<Uint8Array, (prev: string, form: string) => string>();

function hasherOf(key: Uint8Array): (prev: string, form: string) => string {
  let hasher = hashers.get(key);
  if (hasher === undefined) hashers.set(key, (hasher = chainHasher(key)));
  return hasher;
}
