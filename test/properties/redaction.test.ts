import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityEvent } from '../../src/index.js';
import { createActivityLogsHandler } from '../../src/http/index.js';
import { everyStore, type EveryStore } from '../stores/databases.js';

/**
 * Secrets never reach a column, whatever field they are in and whatever shape they have: by
 * key (the default terms and words, at any depth of metadata, changes, context and a thrown
 * plain object) and by value (Bearer and Basic credentials, JWTs, URL passwords and sensitive
 * parameters inside any stored string). Checked on every store, through the store's reads, the
 * admin API's JSON (what the viewer shows), and both export formats. Each secret is a unique
 * marker, so "not in the output" is exact; the text around each secret is checked to stay.
 */

const SENSITIVE_KEYS = ['password', 'apiKey', 'x-api-key', 'accessToken', 'client_secret', 'sessionId', 'pin', 'x-auth', 'credentials', 'jwt', 'ssn', 'pwd', 'authorization', 'cookie'];

const secret = fc.stringMatching(/^[A-Za-z0-9]{12}$/).map((core) => `Zq${core}9`);

/** Text holding a secret in a credential shape; `keep` is text around it that must survive. */
const shaped = fc.tuple(secret, fc.integer({ min: 0, max: 7 })).map(([value, shape]) => {
  switch (shape) {
    case 0:
      return { value, text: `Authorization: Bearer ${value}`, keep: 'Authorization' };
    case 1:
      return { value, text: `call failed with bearer ${value} (expired)`, keep: 'call failed' };
    case 2:
      return { value, text: `Basic ${btoa(`bob:${value}`)}`, keep: 'Basic' };
    case 3:
      return { value, text: `token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx${value}In0.sig${value} seen`, keep: ' seen' };
    case 4:
      return { value, text: `https://app.example/callback?code=ok1&access_token=${value}&state=xyz`, keep: 'state=xyz' };
    case 5:
      return { value, text: `postgres://app:${value}@db.internal:5432/app`, keep: 'db.internal' };
    case 6:
      return { value, text: `login form: email=a@b.c&password=${value}`, keep: 'email=a@b.c' };
    default:
      return { value, text: `{"user":"bob","secret":"${value}"}`, keep: '"user":"bob"' };
  }
});

const nested = (key: string, value: string, depth: number): Record<string, unknown> => {
  let out: Record<string, unknown> = { [key]: value, note: 'kept' };
  for (let i = 0; i < depth; i++) out = { [`level${i}`]: i % 2 === 0 ? out : [out] };
  return out;
};

const eventWithSecrets = fc
  .record({
    byKey: fc.tuple(fc.constantFrom(...SENSITIVE_KEYS), secret, fc.integer({ min: 0, max: 4 })),
    inName: shaped,
    inMetadata: shaped,
    inChange: shaped,
    inError: shaped,
    inAgent: shaped,
    thrownKey: fc.tuple(fc.constantFrom(...SENSITIVE_KEYS), secret),
    thrownAsObject: fc.boolean(),
  })
  .map((parts) => {
    const [key, keyed, depth] = parts.byKey;
    const [thrownKey, thrownSecret] = parts.thrownKey;
    const event: ActivityEvent = {
      action: 'secret.property',
      actor: { type: 'user', id: 'u1', name: parts.inName.text },
      target: { type: 'doc', id: 'd1', name: 'plain' },
      metadata: { ...nested(key, keyed, depth), message: parts.inMetadata.text },
      changes: { before: { note: 'old' }, after: { note: parts.inChange.text } },
      error: parts.thrownAsObject ? { [thrownKey]: thrownSecret, user: 'bob', message: parts.inError.text } : new Error(parts.inError.text),
      context: { userAgent: `Agent/1.0 ${parts.inAgent.text}`, requestId: 'req-1' },
    };
    const shapes = [parts.inName, parts.inMetadata, parts.inChange, parts.inError, parts.inAgent];
    return { event, secrets: [keyed, thrownSecret, ...shapes.map((s) => s.value)], kept: shapes.map((s) => s.keep) };
  });

let every: EveryStore;
let targets: EveryStore['targets'] = [];
beforeAll(async () => {
  every = await everyStore('redaction', `redact_prop_${Date.now().toString(36)}`, {});
  targets = every.targets;
}, 60_000);
afterAll(() => every?.cleanup());

async function read(response: Response): Promise<string> {
  expect(response.status).toBe(200);
  return response.text();
}

let counter = 0;

describe('secrets never reach a column (property)', () => {
  it('keeps every secret out of every store, the admin API and both exports, and keeps the text around it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventWithSecrets, { minLength: 1, maxLength: 3 }), async (cases) => {
        const ids = cases.map(() => `sec-${++counter}`);
        for (const { logger } of targets) cases.forEach(({ event }, i) => logger.log({ ...event, id: ids[i]! }));
        for (const { name, logger } of targets) {
          await logger.flush();
          const handler = createActivityLogsHandler(logger, { authorize: () => true });
          const outputs: string[] = [];
          for (const id of ids) {
            outputs.push(JSON.stringify(await logger.get(id)));
            outputs.push(await read(await handler(new Request(`http://x/${id}`))));
          }
          outputs.push(await read(await handler(new Request('http://x/?action=secret.property&limit=500'))));
          outputs.push(await read(await handler(new Request('http://x/export?format=ndjson&action=secret.property'))));
          outputs.push(await read(await handler(new Request('http://x/export?format=csv&action=secret.property'))));
          const everything = outputs.join('\n');
          for (const [i, { secrets, kept }] of cases.entries()) {
            for (const value of secrets) expect({ store: name, leaked: everything.includes(value) }).toEqual({ store: name, leaked: false });
            const record = JSON.stringify(await logger.get(ids[i]!));
            for (const text of kept) expect({ store: name, kept: record.includes(JSON.stringify(text).slice(1, -1)) }).toEqual({ store: name, kept: true });
          }
        }
      }),
      { numRuns: 40 },
    );
  }, 180_000);
});
