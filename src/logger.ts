import { attributeChanges, CHANGE_CAPTURE, type ChangeCaptureSupport } from './change-capture.js';
import { EVENT_ID_PATTERN } from './cursor.js';
import { ActivityLogError } from './errors.js';
import {
  copyBindings,
  mergeBindings,
  mergeTags,
  REQUEST_TAGS,
  withIdentity,
  withRoute,
  type ActivityBindings,
  type RequestTags,
  type ResolvedIdentity,
  type TaggedBindings,
} from './bindings.js';
import type { ActivityCatalog, CatalogInput } from './catalog.js';
import type { EraseSubject } from './integrity/erase.js';
import type { VerifyOptions, VerifyReport } from './integrity/verify.js';
import { resolveOptions, type ActivityLoggerOptions } from './options.js';
import { ActivityEngine } from './pipeline/engine.js';
import type { ActivityStats } from './pipeline/stats.js';
import { parseActivityFilter, parseActivityQuery, parsePurgeOptions, parseSummaryQuery, SEARCH_FILTERS } from './query.js';
import { isUtc } from './time-zone.js';
import type {
  ActivityEvent,
  ActivityFilter,
  ActivityPage,
  ActivityQuery,
  ActivityRecord,
  HistoryOptions,
  HistoryTarget,
  NormalizedActivityFilter,
  PurgeOptions,
  SummaryBucket,
  SummaryQuery,
} from './schema.js';
import type { ActivityStore } from './store.js';

export type { ActivityLoggerOptions, RetryOptions } from './options.js';
export type { ActivityStats } from './pipeline/stats.js';
export type { ActivityBindings } from './bindings.js';

/** The event `log()` accepts: with a catalog, each action's metadata is typed by its schema. */
export type CatalogEvent<C extends ActivityCatalog> = [keyof C] extends [never]
  ? ActivityEvent
  : {
      [K in keyof C & string]: Omit<ActivityEvent, 'action' | 'metadata'> & { action: K } & (undefined extends CatalogInput<C[K]>
          ? { metadata?: CatalogInput<C[K]> }
          : { metadata: CatalogInput<C[K]> });
    }[keyof C & string];

/** The logger. Child loggers from `with()` share the parent's queue, store and counters. */
export interface ActivityLogger<C extends ActivityCatalog = {}> {
  /**
   * Records an event. Returns at once: no I/O, no await, and it never throws, whatever it is
   * given. The event is copied, so later changes to the object do not change what is stored.
   * Validation happens in the flusher; an invalid event is reported through `onError`.
   */
  log(event: CatalogEvent<C>): void;
  /**
   * A child logger with `actor`, `tenantId`, `context` and `metadata` bound; an event's own
   * fields win, and context and metadata merge key by key.
   */
  with(bindings: ActivityBindings): ActivityLogger<C>;
  /** Resolves when every event logged before the call is stored or has definitively failed. Never rejects. */
  flush(): Promise<void>;
  /** Stops accepting events, drains the queue and closes the store. Never rejects; idempotent. */
  close(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): ActivityStats;
  /** One page of records, newest first. Rejects with `INVALID_QUERY` naming each bad filter. */
  query(query?: ActivityQuery): Promise<ActivityPage>;
  /** One record by id. */
  get(id: string): Promise<ActivityRecord | undefined>;
  /**
   * The versions of one record: the records of `target` that carry `changes` (captured row
   * changes and the app's own records with changes), newest first, paged like `query()`
   * (`limit` versions a page, however many records without changes lie between them; pass
   * `nextCursor` back as `cursor`). Rejects with `INVALID_QUERY` naming each bad field.
   *
   * @example
   * const { items, nextCursor } = await activity.history({ type: 'recipe', id: 42 }, { limit: 20 });
   */
  history(target: HistoryTarget, options?: HistoryOptions): Promise<ActivityPage>;
  /**
   * The record's columns at `time` (inclusive), rebuilt from its recorded changes: a captured
   * insert starts them, a delete ends them (undefined), every other change merges its `after`
   * values. Undefined when nothing was recorded for it by then. Reads back only to the last
   * insert or delete before `time`, page by page.
   *
   * @example
   * const recipe = await activity.stateAt({ type: 'recipe', id: 42 }, '2026-03-01T12:00:00Z');
   */
  stateAt(target: HistoryTarget, time: Date | string | number): Promise<Record<string, unknown> | undefined>;
  /** How many records match; `UNSUPPORTED` when the store cannot count. */
  count(filter?: ActivityFilter): Promise<number>;
  /** Counts grouped by action, status, actor type, hour or day. */
  summarize(query: SummaryQuery): Promise<SummaryBucket[]>;
  /**
   * Deletes records older than `before` (of one `tenantId` or `action` when given, leaving
   * alone those matching any of `except`, at most `limit` when given); returns how many.
   * Counted in `stats().purged`.
   */
  purge(options: PurgeOptions): Promise<number>;
  /**
   * Runs a retention pass now, as the schedule would (`retention` on): resolves to how many
   * records it deleted, or undefined when another instance holds the lease. Never rejects once
   * retention is on; a failure goes to `onError`.
   */
  runRetention(): Promise<number | undefined>;
  /**
   * Checks the hash chains (`integrity` on): streams through the sealed records in constant
   * memory and reports each record edited, missing, reordered, truncated, made with an unknown
   * key, or lawfully erased. Rejects with `INVALID_OPTIONS` without `integrity`, `UNSUPPORTED`
   * when the store cannot read chains.
   */
  verify(options?: VerifyOptions): Promise<VerifyReport>;
  /**
   * Erases the personal values of one subject (an actor's name, IP and user agent; a target's
   * name; everything personal of a tenant; and the metadata keys of `integrity.personal`),
   * replacing them with `[ERASED]` and keeping what the hash chain needs, so that `verify()`
   * reports those records as erased, not edited. Records the erasure itself as
   * `activity.erase` (who asked, how many records, which fields) and resolves, once that is
   * stored, with how many records were rewritten. Events this logger still holds are written
   * first, so they are erased too; those waiting in a spool, or in another process, are not.
   */
  erase(subject: EraseSubject): Promise<number>;
  /**
   * Writes one event inside the caller's own database transaction (a Kysely `Transaction` for
   * the SQL stores), so the activity exists if and only if the business change commits. Unlike
   * `log()`, this validates at once and rejects (`INVALID_EVENT`, or the database's error),
   * because the caller asked for atomicity. Resolves to the stored record.
   */
  logInTransaction(transaction: unknown, event: CatalogEvent<C>): Promise<ActivityRecord>;
  /**
   * Attributes the row changes that change capture records in `transaction` (until it ends) to
   * this logger's actor, tenant and context, instead of the request's, or of `database` outside
   * a request: how a background job names itself. Needs `captureChanges(db, …)` from
   * activity-log/kysely, and a transaction of that `db`.
   *
   * @example
   * await db.transaction().execute(async (trx) => {
   *   await activity.with({ actor: { type: 'system', id: 'nightly-publish' } }).changes(trx);
   *   await trx.updateTable('recipes').set({ published: true }).where('due', '<=', now).execute();
   * });
   */
  changes(transaction: unknown): Promise<void>;
  /** The store this logger writes to. */
  readonly store: ActivityStore;
  /** Whether `verify()` can run: the logger has an integrity key. */
  readonly verifiable: boolean;
  /** The context bound by `with()`. */
  readonly bindings: Readonly<ActivityBindings>;
  /**
   * Hands an error to this logger's `onError` (and `stats().lastError`) without throwing.
   * For integrations that contain a failure of their own, such as a framework middleware
   * whose `actor()` callback threw (`CALLBACK_FAILED`): the request goes on, and the failure
   * is reported where every other failure of the logger is.
   */
  report(error: ActivityLogError): void;
}

/**
 * Creates a logger over a store.
 *
 * @example
 * const activity = createActivityLogger({ store: memoryStore() });
 * activity.log({ action: 'recipe.create', actor: { type: 'user', id: 'u_1' }, target: { type: 'recipe', id: 'r_1' } });
 * await activity.close();
 */
export function createActivityLogger<C extends ActivityCatalog = {}>(options: ActivityLoggerOptions<C>): ActivityLogger<C> {
  const logger = new Logger<C>(new ActivityEngine(resolveOptions(options)), undefined);
  // The app's logger is handed around as callbacks (`afterAll(activity.close)`,
  // `process.on('SIGTERM', activity.close)`, `app.get('/logs', activity.query)`): each of its
  // methods works detached, as `log()` does on every logger. Not per child: with() runs per
  // request, and binding twenty methods there would cost every request.
  for (const name of ROOT_METHODS) {
    const method = logger[name] as (...args: unknown[]) => unknown;
    Object.defineProperty(logger, name, { value: method.bind(logger), writable: true, configurable: true, enumerable: false });
  }
  return logger;
}

/** The methods of the root logger bound to it (log() is bound on every logger, in the constructor). */
const ROOT_METHODS = [
  'with',
  'flush',
  'close',
  'stats',
  'report',
  'query',
  'get',
  'history',
  'stateAt',
  'count',
  'summarize',
  'purge',
  'runRetention',
  'verify',
  'erase',
  'logInTransaction',
  'changes',
] as const satisfies readonly Exclude<keyof ActivityLogger, 'log' | 'store' | 'bindings' | 'verifiable'>[];

/** A method added to ActivityLogger and not to ROOT_METHODS fails to compile here (it would not work detached). */
const EVERY_METHOD_BOUND: [Exclude<keyof ActivityLogger, (typeof ROOT_METHODS)[number] | 'log' | 'store' | 'bindings' | 'verifiable'>] extends [never] ? true : never = true;
void EVERY_METHOD_BOUND;

/**
 * The one logger class: the root and every child, the request loggers of the framework
 * middleware included. A child differs from its parent only by its bindings, and a request's
 * loggers by the request's tags too (a route read when an event is logged, the request's
 * scope; see bindings.ts).
 */
class Logger<C extends ActivityCatalog> implements ActivityLogger<C> {
  /** The request's tags, under a symbol: not part of the logger's API. */
  readonly [REQUEST_TAGS]: RequestTags | undefined;
  /** The bindings with the route last read written in, while the route stays the same. */
  private routed: { route: string | undefined; bindings: ActivityBindings } | undefined;
  /** What change capture reads of this logger, made when first asked for. */
  private captureSupport: ChangeCaptureSupport | undefined;
  /** The last bindings given the request's identity, and what they were made from. */
  private lastIdentified: { from: ActivityBindings | undefined; identity: ResolvedIdentity; bindings: ActivityBindings } | undefined;

  constructor(
    private readonly engine: ActivityEngine,
    private readonly bound: ActivityBindings | undefined,
    tags?: RequestTags,
  ) {
    this[REQUEST_TAGS] = tags;
    // log() never throws, also when handed on as a callback (`items.forEach(activity.log)`,
    // `const { log } = req.activity`).
    this.log = this.log.bind(this);
  }

  get store(): ActivityStore {
    return this.engine.store;
  }

  get verifiable(): boolean {
    return this.engine.integrity !== undefined;
  }

  get bindings(): Readonly<ActivityBindings> {
    // With the route, and the request's actor once it is known. Reading them calls no callback:
    // an early read (a log mixin, a debugger) must not fix the actor before the app's own
    // authentication has run.
    const bindings = this.current();
    const identity = this[REQUEST_TAGS]?.identity?.peek();
    return (identity ? withIdentity(bindings, identity) : bindings) ?? {};
  }

  log(event: CatalogEvent<C>): void {
    try {
      const tags = this[REQUEST_TAGS];
      if (!tags) {
        this.engine.accept(event, this.bound);
        return;
      }
      tags.scope?.logged(readStatus(event));
      const bindings = this.current();
      // The request's actor is worked out at its first event (see LazyIdentity), unless this
      // logger has an actor and a tenant of its own.
      const identity = tags.identity?.needed(bindings?.actor !== undefined, bindings?.tenantId !== undefined) ? tags.identity.get() : undefined;
      if (identity instanceof Promise) {
        this.engine.acceptLater(event, identity.then((resolved) => withIdentity(bindings, resolved)));
        return;
      }
      this.engine.accept(event, identity ? this.identified(bindings, identity) : bindings);
    } catch (cause) {
      // Unreachable by design (every step catches its own throws); log() still must not throw,
      // and the event is still counted.
      this.engine.lose(cause);
    }
  }

  with(bindings: ActivityBindings): ActivityLogger<C> {
    // Bindings are data, like an event, not options: keys other than the four are dropped by
    // the copy and reported (once per name), not refused, so that the events still go out.
    // with() runs per request (the middleware binds each request's logger) and never throws.
    const copied = copyBindings(bindings);
    const tags = copied ? (bindings as TaggedBindings)[REQUEST_TAGS] : undefined;
    // The middleware's own bindings (tagged) hold only the four.
    if (tags === undefined) reportUnknownBindings(this.engine, bindings);
    if (!copied) return this;
    return new Logger<C>(this.engine, mergeBindings(this.bound, copied), mergeTags(this[REQUEST_TAGS], tags));
  }

  flush(): Promise<void> {
    return this.engine.flush();
  }

  close(): Promise<void> {
    return this.engine.close();
  }

  stats(): ActivityStats {
    return this.engine.stats();
  }

  report(error: ActivityLogError): void {
    this.engine.report(error);
  }

  async query(query?: ActivityQuery): Promise<ActivityPage> {
    const store = this.engine.store;
    return store.query(supported(store, parseActivityQuery(query)));
  }

  async get(id: string): Promise<ActivityRecord | undefined> {
    if (typeof id !== 'string' || id.length === 0) {
      throw new ActivityLogError('INVALID_QUERY', `id: must be a non-empty string, got ${typeof id}`);
    }
    // No record has an id of another form, and a store must never see one it cannot hold
    // (PostgreSQL refuses a NUL in a parameter): such an id is simply not found.
    if (!EVENT_ID_PATTERN.test(id)) return undefined;
    return this.engine.store.get(id);
  }

  async history(target: HistoryTarget, options?: HistoryOptions): Promise<ActivityPage> {
    // Loaded on first use, as verify()'s module is.
    const { parseHistoryQuery, readHistory } = await import('./history.js');
    return readHistory(this.engine.store, parseHistoryQuery(target, options));
  }

  async stateAt(target: HistoryTarget, time: Date | string | number): Promise<Record<string, unknown> | undefined> {
    const { parseStateAt, rebuildState } = await import('./history.js');
    const { filter, at } = parseStateAt(target, time);
    return rebuildState(this.engine.store, filter, at);
  }

  async count(filter?: ActivityFilter): Promise<number> {
    const store = this.engine.store;
    if (!store.count) throw unsupported(store, 'count()');
    return store.count(supported(store, parseActivityFilter(filter)));
  }

  async summarize(query: SummaryQuery): Promise<SummaryBucket[]> {
    const store = this.engine.store;
    if (!store.summarize) throw unsupported(store, 'summarize()');
    return store.summarize(supported(store, parseSummaryQuery(query)));
  }

  async purge(options: PurgeOptions): Promise<number> {
    return this.engine.purge(parsePurgeOptions(options));
  }

  runRetention(): Promise<number | undefined> {
    return this.engine.runRetention();
  }

  async verify(options?: VerifyOptions): Promise<VerifyReport> {
    const integrity = this.engine.integrity;
    if (!integrity) throw new ActivityLogError('INVALID_OPTIONS', 'verify: needs the logger option integrity: { key }, the key the records were sealed with');
    // Loaded on first use: most processes never verify, and the verifier is the largest module
    // of the core (every app would hold its source and compiled code; see the heap benchmark).
    const { verifyChains } = await import('./integrity/verify.js');
    return verifyChains(this.engine.store, integrity, options);
  }

  async erase(subject: EraseSubject): Promise<number> {
    const store = this.engine.store;
    // Loaded on first use, as verify()'s module is.
    const { erasurePlan, eraseRecord } = await import('./integrity/erase.js');
    const plan = erasurePlan(subject, this.engine.integrity?.personal ?? []);
    if (!store.erase) throw unsupported(store, 'erase()');
    // The subject's events this logger still holds would be written after the rewrite, their
    // values intact (on a pool of connections, even those already on their way): written first.
    await this.flush();
    // The plan's fields, and any personal metadata key a sealed record committed to that this
    // logger does not list: verify() accepts an erased value only where the record of the
    // erasure names its field.
    const fields = new Set(plan.fields);
    // The newest time among the subject's records: a record's time may be ahead of this
    // process's clock (another instance's, or one the caller gave), and verify() takes an
    // erasure as lawful for records up to the later of its own time and this one. Every record
    // of the subject counts, rewritten or not, so that an erasure run again after a stop
    // before its record covers what the first run rewrote.
    let newest = Number.NEGATIVE_INFINITY;
    const records = await store.erase(parseActivityFilter(plan.filter), (record) => {
      newest = Math.max(newest, record.occurredAt.getTime());
      return eraseRecord(record, plan.fields, (paths) => {
        for (const path of paths) fields.add(path);
      });
    });
    const metadata: Record<string, unknown> = { subject: plan.filter, records, fields: [...fields] };
    if (Number.isFinite(newest)) metadata.through = new Date(newest).toISOString();
    this.log({ action: 'activity.erase', metadata } as unknown as CatalogEvent<C>);
    await this.flush();
    return records;
  }

  async logInTransaction(transaction: unknown, event: CatalogEvent<C>): Promise<ActivityRecord> {
    const store = this.engine.store;
    if (!store.insertInTransaction) throw unsupported(store, 'insertInTransaction()');
    const record = this.engine.buildRecord(event, await this.resolvedBindings());
    await store.insertInTransaction(transaction, [record]);
    return record;
  }

  changes(transaction: unknown): Promise<void> {
    return attributeChanges(transaction, this[CHANGE_CAPTURE]);
  }

  /** What change capture needs of this logger (see change-capture.ts). @internal */
  get [CHANGE_CAPTURE](): ChangeCaptureSupport {
    // Read before every write a captured table sees: made once per logger.
    this.captureSupport ??= { store: this.engine.store, redactor: this.engine.redactor, bindings: () => this.resolvedBindings() };
    return this.captureSupport;
  }

  /**
   * The bindings of a record made now, with the request's identity worked out (the
   * middleware's `actor()`/`tenant()` called now if they were not yet): a promise while an
   * async callback runs. For the paths that may wait (`logInTransaction`, change capture);
   * `log()` never does, and defers the event instead.
   */
  private resolvedBindings(): ActivityBindings | undefined | Promise<ActivityBindings | undefined> {
    const bindings = this.current();
    const identity = this[REQUEST_TAGS]?.identity;
    if (!identity?.needed(bindings?.actor !== undefined, bindings?.tenantId !== undefined)) return bindings;
    const resolved = identity.get();
    return resolved instanceof Promise ? resolved.then((known) => withIdentity(bindings, known)) : this.identified(bindings, resolved);
  }

  /** `bindings` with the request's identity under them, rebuilt only when either changes. */
  private identified(bindings: ActivityBindings | undefined, identity: ResolvedIdentity): ActivityBindings {
    const last = this.lastIdentified;
    if (last && last.from === bindings && last.identity === identity) return last.bindings;
    const merged = withIdentity(bindings, identity);
    this.lastIdentified = { from: bindings, identity, bindings: merged };
    return merged;
  }

  /**
   * The bindings an event logged now carries: with the route as known now written into their
   * context, when the request's route is read late. Routers may forget the route once a handler
   * is done, so the resolver keeps the last one seen; the bindings are rebuilt only when it
   * changes (events already queued keep the ones they were logged with).
   */
  private current(): ActivityBindings | undefined {
    const bound = this.bound;
    const routeOf = this[REQUEST_TAGS]?.routeOf;
    // A route bound explicitly (a child's `with({ context: { route } })`) wins over the late one.
    if (!routeOf || !bound || bound.context?.route !== undefined) return bound;
    let route: string | undefined;
    try {
      route = routeOf();
    } catch {
      route = undefined;
    }
    const routed = this.routed;
    if (routed && routed.route === route) return routed.bindings;
    const bindings = route === undefined ? bound : withRoute(bound, route);
    this.routed = { route, bindings };
    return bindings;
  }
}

/** The `status` an event was logged with, without letting a hostile getter throw into log(). */
function readStatus(event: unknown): unknown {
  try {
    return (event as { status?: unknown } | null | undefined)?.status;
  } catch {
    return undefined;
  }
}

function unsupported(store: ActivityStore, what: string): ActivityLogError {
  return new ActivityLogError('UNSUPPORTED', `store "${store.name}" does not implement ${what}`);
}

/** The filter, when the store can honour all of it (see StoreCapabilities); `UNSUPPORTED` otherwise. @internal */
export function supported<F extends NormalizedActivityFilter & { tz?: string }>(store: ActivityStore, filter: F): F {
  if (filter.metadata !== undefined && store.capabilities?.metadataFilter !== true) throw unsupported(store, 'metadata filters');
  const search = SEARCH_FILTERS.filter((name) => filter[name] !== undefined);
  if (search.length > 0 && store.capabilities?.searchFilters !== true) throw unsupported(store, `the ${search.join(', ')} filter${search.length > 1 ? 's' : ''}`);
  if (filter.tz !== undefined && !isUtc(filter.tz) && store.capabilities?.zonedSummary !== true) throw unsupported(store, 'summaries in a time zone (tz)');
  return filter;
}

/** The four fields `with()` binds. */
const BINDING_FIELDS = new Set(['actor', 'tenantId', 'context', 'metadata']);
/** Unknown `with()` fields already reported, per engine: a mistake repeated per request is reported once. */
const reportedBindings = new WeakMap<ActivityEngine, Set<string>>();
/** Distinct names reported per engine, at most: past that, the rest are left unsaid. */
const MAX_REPORTED_BINDINGS = 64;

/**
 * Reports what `with()` cannot bind, naming it: a field other than the four (`actr` for
 * `actor`: its events would go out without the actor the caller meant), or bindings that are
 * no object at all. Once per name and engine; the events are still logged.
 */
function reportUnknownBindings(engine: ActivityEngine, bindings: unknown): void {
  let unknown: string[];
  if (bindings === null || typeof bindings !== 'object' || Array.isArray(bindings)) {
    if (bindings === undefined) return;
    // Its kind, not its value: a bare id or name given where the object was meant is personal.
    unknown = [`(${bindings === null ? 'null' : Array.isArray(bindings) ? 'an array' : `a ${typeof bindings}`})`];
  } else {
    try {
      unknown = Object.keys(bindings).filter((key) => !BINDING_FIELDS.has(key));
    } catch {
      return; // A Proxy whose keys cannot be listed: the copy has reported what it could not read.
    }
  }
  if (unknown.length === 0) return;
  let reported = reportedBindings.get(engine);
  if (!reported) reportedBindings.set(engine, (reported = new Set()));
  for (const name of unknown) {
    if (reported.has(name) || reported.size >= MAX_REPORTED_BINDINGS) continue;
    reported.add(name);
    const message = name.startsWith('(')
      ? `with(): bindings must be an object of actor, tenantId, context and metadata, got ${name.slice(1, -1)}; nothing was bound`
      : `with(): unknown field ${JSON.stringify(name)} (known: actor, tenantId, context, metadata); it was not bound, the others were`;
    engine.report(new ActivityLogError('INVALID_EVENT', message, { details: { field: name.startsWith('(') ? 'bindings' : name } }));
  }
}
