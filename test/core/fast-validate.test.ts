import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidEvent } from '../../src/fast-validate.js';
import { schemas } from '../../src/schemas.js';

const { activityEventSchema } = schemas();

/** Values near every rule's edges, as the snapshot would hand them to the flusher. */
const text = (max: number) =>
  fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 5 }), fc.string({ minLength: max - 1, maxLength: max + 1 }));
const idValue = fc.oneof(text(255), fc.integer(), fc.double(), fc.constantFrom(Number.NaN, Infinity), fc.boolean(), fc.constant(null));
const json = fc.jsonValue({ maxDepth: 2 });
const plainObject = fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 3 });
const party = fc.record(
  { type: fc.oneof(text(64), fc.integer()), id: idValue, name: fc.oneof(text(255), fc.integer()), extra: json },
  { requiredKeys: [] },
);
const candidate = fc.record(
  {
    id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,70}$/), fc.string(), fc.integer()),
    action: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,5}(\.[a-z0-9][a-z0-9_-]{0,5}){0,3}$/), fc.string(), fc.constant('a'.repeat(129)), fc.integer()),
    status: fc.oneof(fc.constantFrom('success', 'failure', 'denied', 'ok', ''), fc.integer()),
    actor: fc.oneof(party, json),
    target: fc.oneof(party, json),
    tenantId: idValue,
    metadata: fc.oneof(plainObject, json, fc.date()),
    changes: fc.oneof(fc.record({ before: fc.oneof(plainObject, fc.constant(null), json), after: fc.oneof(plainObject, json) }, { requiredKeys: [] }), json),
    error: json,
    context: fc.oneof(
      fc.record({ ip: text(64), userAgent: text(512), requestId: text(128), method: text(16), route: text(512), traceId: text(64), other: fc.string() }, { requiredKeys: [] }),
      json,
    ),
    occurredAt: fc.oneof(fc.date({ noInvalidDate: false }), fc.integer(), fc.double(), fc.string(), fc.constant('2026-01-02T03:04:05.678Z')),
    unknownField: json,
  },
  { requiredKeys: [] },
);

/** A valid event with one field, or one field of one part, replaced by an edge value. */
const validBase = {
  id: 'evt-1',
  action: 'recipe.update',
  status: 'success',
  actor: { type: 'user', id: 'u1', name: 'Ada' },
  target: { type: 'recipe', id: 'r1', name: 'Soup' },
  tenantId: 't1',
  metadata: { a: 1 },
  changes: { before: { a: 1 }, after: { a: 2 } },
  error: { name: 'Error', message: 'x' },
  context: { ip: '127.0.0.1', userAgent: 'ua', requestId: 'r', method: 'GET', route: '/x', traceId: 't' },
  occurredAt: new Date(0),
};
const edgeValue = fc.oneof(
  json,
  text(64),
  text(128),
  text(255),
  text(512),
  fc.integer(),
  fc.constantFrom(undefined, null, Number.NaN, Infinity, -0, '', [], {}, new Date(Number.NaN), new Date(0), 'a'.repeat(65), 'a'.repeat(256)),
);
const nearlyValid = fc.tuple(
  fc.constantFrom(...Object.keys(validBase), 'unknownField'),
  fc.constantFrom('type', 'id', 'name', 'before', 'after', 'ip', 'userAgent', 'requestId', 'method', 'route', 'traceId', 'other', null),
  edgeValue,
).map(([field, part, value]) => {
  const event: Record<string, unknown> = structuredClone(validBase);
  const current = event[field];
  if (part !== null && current !== null && typeof current === 'object' && !(current instanceof Date)) {
    (current as Record<string, unknown>)[part] = value;
  } else {
    event[field] = value;
  }
  return event;
});

describe('the fast validator', () => {
  it('accepts exactly what the zod event schema accepts, on arbitrary candidates', () => {
    fc.assert(
      fc.property(candidate, (value) => {
        expect(isValidEvent(value)).toBe(activityEventSchema.safeParse(value).success);
      }),
      { numRuns: 10_000 },
    );
  });

  it('accepts exactly what the zod event schema accepts, on valid events with one field at an edge', () => {
    fc.assert(
      fc.property(nearlyValid, (value) => {
        expect(isValidEvent(value)).toBe(activityEventSchema.safeParse(value).success);
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts a typical event and rejects a bad action', () => {
    expect(isValidEvent({ action: 'recipe.update', actor: { type: 'user', id: 1 } })).toBe(true);
    expect(isValidEvent({ action: 'Recipe Update' })).toBe(false);
  });
});

describe('the field lists every part reads', () => {
  it('are the event schema fields, in its order', async () => {
    const { EVENT_FIELDS, CONTEXT_FIELDS } = await import('../../src/schema.js');
    expect(EVENT_FIELDS).toEqual(Object.keys(activityEventSchema.shape));
    expect(CONTEXT_FIELDS).toEqual(Object.keys(schemas().contextSchema.shape));
  });
});
