// A store of your own: every record as one line of JSON in a file. A sketch of the contract
// (small and slow: each read scans the file), and it passes the conformance suite
// (test/stores/example-store.test.ts). In an app: 'activity-log' and 'activity-log/store'.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import type { ActivityRecord, ActivityStore } from '../../src/index.js';
import { actionPrefix, comparePageOrder, toPage, type StoreQuery } from '../../src/for-store-authors.js';

export function jsonlStore({ filename }: { filename: string }): ActivityStore {
  let records: Promise<Map<string, ActivityRecord>> | undefined;
  const load = () =>
    (records ??= readFile(filename, 'utf8').then(
      (text) => new Map(text.split('\n').filter(Boolean).map((line) => revive(JSON.parse(line))).map((r) => [r.id, r])),
      () => new Map<string, ActivityRecord>(), // no file yet
    ));
  const matching = async (filter: Omit<StoreQuery, 'limit'>) => {
    const prefix = filter.action === undefined ? undefined : actionPrefix(filter.action);
    return [...(await load()).values()]
      .filter((r) =>
        [
          filter.actorType === undefined || r.actor?.type === filter.actorType,
          filter.actorId === undefined || r.actor?.id === filter.actorId,
          filter.action === undefined || (prefix === undefined ? r.action === filter.action : r.action.startsWith(prefix)),
          filter.status === undefined || r.status === filter.status,
          filter.targetType === undefined || r.target?.type === filter.targetType,
          filter.targetId === undefined || r.target?.id === filter.targetId,
          filter.tenantId === undefined || r.tenantId === filter.tenantId,
          filter.from === undefined || r.occurredAt >= filter.from,
          filter.to === undefined || r.occurredAt < filter.to,
          filter.after === undefined || comparePageOrder(position(r), filter.after) > 0,
        ].every(Boolean),
      )
      .sort((a, b) => comparePageOrder(position(a), position(b)));
  };
  return {
    name: 'jsonl',
    // No capabilities: the logger refuses metadata filters, purge exceptions and retention rules for it.
    async insert(batch) {
      const known = await load();
      const fresh = batch.filter((r, i) => !known.has(r.id) && batch.findIndex((o) => o.id === r.id) === i);
      if (fresh.length === 0) return;
      await appendFile(filename, fresh.map((r) => `${JSON.stringify(r)}\n`).join('')); // one write: all or nothing
      for (const r of fresh) known.set(r.id, structuredClone(r));
    },
    async query(query) {
      return toPage((await matching(query)).slice(0, query.limit + 1).map((r) => structuredClone(r)), query.limit);
    },
    async get(id) {
      const record = (await load()).get(id);
      return record && structuredClone(record);
    },
    async purge({ before, tenantId, action, limit }) {
      // Oldest first, so a purge cut short by `limit` keeps the newest. No `except` here:
      // without capabilities.purgeExcept the logger never asks for it.
      const doomed = (await matching({ to: before, tenantId, action })).reverse().slice(0, limit);
      const known = await load();
      for (const r of doomed) known.delete(r.id);
      await writeFile(filename, [...known.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
      return doomed.length;
    },
  };
}

const position = (r: ActivityRecord) => ({ occurredAtMs: r.occurredAt.getTime(), id: r.id });
const revive = (r: ActivityRecord & { occurredAt: string | Date }): ActivityRecord => ({ ...r, occurredAt: new Date(r.occurredAt) });
