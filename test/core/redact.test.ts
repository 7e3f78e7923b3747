import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createActivityLogger, type ActivityEvent, type ActivityLoggerOptions } from '../../src/index.js';
import { createRedactor } from '../../src/for-store-authors.js';
import { memoryStore } from '../../adapters/storage/memory.js';

async function storeOne(event: ActivityEvent, options: Omit<ActivityLoggerOptions, 'store'> = {}) {
  const store = memoryStore();
  const activity = createActivityLogger({ store, ...options });
  activity.log(event);
  await activity.flush();
  return store.all()[0];
}

describe('redaction', () => {
  it('hides the default sensitive keys at any depth of metadata, in any spelling', async () => {
    const record = await storeOne({
      action: 'user.signup',
      metadata: {
        email: 'ada@example.com',
        password: 'p1',
        nested: { deeper: [{ accessToken: 't1', keep: 1 }], client_secret: 's1' },
        'X-Api-Key': 'k1',
        apiKey: 'k2',
        authorization: 'Bearer x',
        cookie: 'sid=1',
        creditCardNumber: '4111111111111111',
        card_number: '4111',
        cvv: '123',
      },
    });
    expect(record?.metadata).toEqual({
      email: 'ada@example.com',
      password: '[REDACTED]',
      nested: { deeper: [{ accessToken: '[REDACTED]', keep: 1 }], client_secret: '[REDACTED]' },
      'X-Api-Key': '[REDACTED]',
      apiKey: '[REDACTED]',
      authorization: '[REDACTED]',
      cookie: '[REDACTED]',
      creditCardNumber: '[REDACTED]',
      card_number: '[REDACTED]',
      cvv: '[REDACTED]',
    });
  });

  it('hides the value of a name/value pair or a [name, value] entry named by a sensitive key, and leaves text and word lists alone', async () => {
    const record = await storeOne({
      action: 'webhook.deliver',
      metadata: {
        // HAR and fetch headers, a settings table, a form's fields.
        request: { headers: [{ name: 'Authorization', value: 'Bearer abc' }, { name: 'Accept', value: 'application/json' }] },
        settings: [{ key: 'smtp_password', value: 'hunter2' }, { key: 'theme', value: 'dark' }],
        fields: [{ field: 'pin', value: '1234' }, { header: 'X-Auth-Token', value: 't1' }],
        // Object.entries, Headers and URLSearchParams entries.
        query: [['access_token', 'abc'], ['page', '2']],
        // Not pairs named by a key: a dish's name is text, a tag list is words, a lone pair is two words.
        menu: [{ name: 'Secret Santa Pie', value: 12 }],
        tags: ['password', 'reset'],
        pair: ['token', 'refresh'],
      },
    });
    expect(record?.metadata).toEqual({
      request: { headers: [{ name: 'Authorization', value: '[REDACTED]' }, { name: 'Accept', value: 'application/json' }] },
      settings: [{ key: 'smtp_password', value: '[REDACTED]' }, { key: 'theme', value: 'dark' }],
      fields: [{ field: 'pin', value: '[REDACTED]' }, { header: 'X-Auth-Token', value: '[REDACTED]' }],
      query: [['access_token', '[REDACTED]'], ['page', '2']],
      menu: [{ name: 'Secret Santa Pie', value: 12 }],
      tags: ['password', 'reset'],
      pair: ['token', 'refresh'],
    });
  });

  it('records a changed secret as changed, with both values hidden', async () => {
    const record = await storeOne({
      action: 'user.update',
      changes: {
        before: { password: 'old', profile: { token: 'a', name: 'Ada' } },
        after: { password: 'new', profile: { token: 'b', name: 'Ada L' } },
      },
    });
    expect(record?.changes).toEqual({
      password: { before: '[REDACTED]', after: '[REDACTED]' },
      profile: { before: { token: '[REDACTED]', name: 'Ada' }, after: { token: '[REDACTED]', name: 'Ada L' } },
    });
  });

  it('adds user keys and paths: a bare key at any depth, a dotted path from the root, * and **', async () => {
    const record = await storeOne(
      {
        action: 'user.update',
        metadata: {
          user: { taxId: '1', name: 'Ada', profile: { taxId: 'kept: not at user.taxId' } },
          taxId: 'kept: the path is user.taxId',
          a: { badge: '1' },
          b: { c: { badge: 'kept: * is one level' }, email: 'e' },
          deep: { x: { y: { secretAnswer: 'hidden by default term' } } },
          dob: '1990-01-01',
          nest: { z: { dob: 'any depth' } },
        },
        context: { ip: '10.0.0.1', requestId: 'r1' },
      },
      { redact: ['user.taxId', '*.badge', '**.email', 'dob', 'ip'] },
    );
    expect(record?.metadata).toEqual({
      user: { taxId: '[REDACTED]', name: 'Ada', profile: { taxId: 'kept: not at user.taxId' } },
      taxId: 'kept: the path is user.taxId',
      a: { badge: '[REDACTED]' },
      b: { c: { badge: 'kept: * is one level' }, email: '[REDACTED]' },
      deep: { x: { y: { secretAnswer: '[REDACTED]' } } },
      dob: '[REDACTED]',
      nest: { z: { dob: '[REDACTED]' } },
    });
    expect(record?.context).toEqual({ ip: '[REDACTED]', requestId: 'r1' });
  });

  it('hides keys whose whole words are auth, session, credential(s), jwt, bearer, pwd, ssn, pin, otp or totp, and leaves spinner and author alone', async () => {
    const record = await storeOne({
      action: 'user.update',
      metadata: {
        auth: 'a1',
        'x-auth': 'a2',
        sessionId: 's1',
        session_data: { user: 'bob' },
        credentials: 'c1',
        userCredential: 'c2',
        jwt: 'j1',
        bearer: 'b1',
        pwd: 'p1',
        ssn: 'n1',
        userSSN: 'n2',
        pin: '1234',
        pin_code: '1234',
        cardPins: ['1', '2'],
        spinner: 'kept',
        author: 'kept',
        possession: 'kept',
        pinnacle: 'kept',
        jwtIssuer: 'hidden: jwt is a word of it',
        otp: '492817',
        otpCode: '492817',
        totp_uri: 'otpauth://totp/x',
        doorPasscode: '1379',
        hotpot: 'kept',
        footprint: 'kept',
      },
    });
    expect(record?.metadata).toEqual({
      auth: '[REDACTED]',
      'x-auth': '[REDACTED]',
      sessionId: '[REDACTED]',
      session_data: '[REDACTED]',
      credentials: '[REDACTED]',
      userCredential: '[REDACTED]',
      jwt: '[REDACTED]',
      bearer: '[REDACTED]',
      pwd: '[REDACTED]',
      ssn: '[REDACTED]',
      userSSN: '[REDACTED]',
      pin: '[REDACTED]',
      pin_code: '[REDACTED]',
      cardPins: '[REDACTED]',
      spinner: 'kept',
      author: 'kept',
      possession: 'kept',
      pinnacle: 'kept',
      jwtIssuer: '[REDACTED]',
      otp: '[REDACTED]',
      otpCode: '[REDACTED]',
      totp_uri: '[REDACTED]',
      doorPasscode: '[REDACTED]',
      hotpot: 'kept',
      footprint: 'kept',
    });
  });

  it('can replace the default list, change the censor, or be turned off', async () => {
    const replaced = await storeOne(
      { action: 'a.b', metadata: { password: 'visible', pin: 'visible', ssn: '1' } },
      { redact: { paths: ['ssn'], replaceDefaults: true, censor: '***' } },
    );
    expect(replaced?.metadata).toEqual({ password: 'visible', pin: 'visible', ssn: '***' });
    const off = await storeOne({ action: 'a.b', metadata: { password: 'visible' } }, { redact: false });
    expect(off?.metadata).toEqual({ password: 'visible' });
  });

  it('hides what follows Bearer or Basic when it reads as a credential, not a word of prose ("Basic Plan", "bearer bonds")', async () => {
    const redactor = createRedactor(undefined);
    // Words: a plan, a course, a tenant, an actor, a note. Each one kept, in every field.
    for (const text of ['Basic Plan', 'basic plan', 'BASIC PLAN', 'Basic French', 'Basic School', 'bearer bonds.', 'Bearer of bad news', 'Basic Books']) {
      expect(redactor.redactText(text), text).toBe(text);
    }
    const record = await storeOne({
      action: 'plan.change',
      actor: { type: 'user', id: 'Basic Books' },
      target: { type: 'plan', id: 'basic', name: 'Basic Plan' },
      tenantId: 'Basic School',
      metadata: { from: 'Basic Monthly', note: 'bearer bonds', course: 'Basic French' },
    });
    expect(record).toMatchObject({ actor: { id: 'Basic Books' }, target: { name: 'Basic Plan' }, tenantId: 'Basic School', metadata: { from: 'Basic Monthly', note: 'bearer bonds', course: 'Basic French' } });
    // Credentials: digits, base64 or token punctuation, inner upper case, length, or user:password.
    for (const [text, hidden] of [
      ['Bearer abc123', 'Bearer [REDACTED]'],
      ['failed: Bearer sk_live_51Hx.', 'failed: Bearer [REDACTED]'],
      ['Bearer AbCdEfGhIjKl', 'Bearer [REDACTED]'],
      ['bearer qwertyuiopasdfghjklzx', 'bearer [REDACTED]'],
      ['Basic dXNlcjpwdw==', 'Basic [REDACTED]'],
      ['Basic Ym9iOnB3', 'Basic [REDACTED]'],
      ['Basic YWxpY2U6c2VjcmV0', 'Basic [REDACTED]'],
    ]) {
      expect(redactor.redactText(text!), text).toBe(hidden);
    }
  });

  it('passes over a clean string seen before, and still hides a credential every time it comes', () => {
    const redactor = createRedactor(undefined);
    for (let i = 0; i < 3; i++) {
      expect(redactor.redactText('/recipes/:id')).toBe('/recipes/:id');
      expect(redactor.redactText('/cb?code=1&access_token=abc')).toBe('/cb?code=1&access_token=[REDACTED]');
      expect(redactor.redactContext({ route: '/recipes/:id', userAgent: 'Authorization: Bearer abc123' })).toEqual({ route: '/recipes/:id', userAgent: 'Authorization: [REDACTED]' });
    }
    // More clean strings than are remembered: the memory is cleared, the answers stay right.
    for (let i = 0; i < 2_500; i++) expect(redactor.redactText(`/items/:id/${i}`)).toBe(`/items/:id/${i}`);
    expect(redactor.redactText('token=abc')).toBe('token=[REDACTED]');
  });

  // Values and keys are the app's users' and are not capped before redaction: a rule that read
  // the rest of a string again from each candidate start held the event loop for seconds on
  // one 40 kB value (3 s for the JWT rule, 6 s for the URL rule, 2.4 s for a 20 kB key).
  // Measured as growth, not against a clock: eight times the input takes about eight times as
  // long when linear, sixty-four times when quadratic (the best of five runs of each size).
  it('takes time linear in the length of a value or key, whatever its shape', async () => {
    const redactor = createRedactor(undefined);
    const bestOf = (run: () => void): number => {
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        run();
        best = Math.min(best, performance.now() - started);
      }
      return Math.max(best, 0.05);
    };
    const shapes: Record<string, (n: number) => () => unknown> = {
      'eyJ- again and again (JWT rule)': (n) => { const text = 'eyJ-'.repeat(n); return () => redactor.redactText(text); },
      'a.a.a… before ":@" (URL password rule)': (n) => { const text = `${'a.'.repeat(2 * n)}:@`; return () => redactor.redactText(text); },
      'x://a: again and again (URL password rule)': (n) => { const text = `${'x://a:'.repeat(n)}@`; return () => redactor.redactText(text); },
      'an upper-case key (split into words)': (n) => { const value = { ['A'.repeat(2 * n)]: 1 }; return () => redactor.redact(value); },
    };
    for (const [shape, make] of Object.entries(shapes)) {
      const small = bestOf(make(2_500));
      const large = bestOf(make(20_000));
      expect(large / small, `${shape}: ${small.toFixed(2)} ms for 1×, ${large.toFixed(2)} ms for 8×`).toBeLessThan(20);
    }
    const record = await storeOne({ action: 'a.b', metadata: { ['A'.repeat(20_000)]: 1, note: 'eyJ-'.repeat(10_000) } }, { maxMetadataBytes: 100_000 });
    expect(record?.metadata?.note).toBe('eyJ-'.repeat(10_000));
    // The rules still find what they are for.
    expect(redactor.redactText('x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln y')).toBe('x [REDACTED] y');
    expect(redactor.redactText('eyJ-abc-eyJhdr.payload.sig')).toBe('[REDACTED]');
    expect(redactor.redactText('mongodb+srv://app:pw@db/x')).toBe('mongodb+srv://app:[REDACTED]@db/x');
    expect(redactor.redact({ XMLHttpPIN: 1, APIKEYSession: 2 })).toEqual({ XMLHttpPIN: '[REDACTED]', APIKEYSession: '[REDACTED]' });
  }, 60_000);

  it('is usable on its own', () => {
    const redactor = createRedactor(['pin']);
    expect(redactor.redact({ pin: 1, token: 2, ok: 3 })).toEqual({ pin: '[REDACTED]', token: '[REDACTED]', ok: 3 });
  });
});

describe('size caps', () => {
  it('replaces an oversize metadata value by a marker with its size, keeping the rest and valid JSON', async () => {
    const big = 'é'.repeat(20_000); // 40,000 bytes in UTF-8
    const record = await storeOne({ action: 'a.b', metadata: { big, small: 'kept', n: 1 } });
    expect(record?.metadata).toEqual({ big: '[truncated: 40002 bytes]', small: 'kept', n: 1 });
  });

  it('honours maxMetadataBytes and summarises an object whose many small values cannot fit', async () => {
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key${i}`, i]));
    const record = await storeOne({ action: 'a.b', metadata: many }, { maxMetadataBytes: 256 });
    expect(record?.metadata).toEqual({ _truncated: expect.stringMatching(/^\[truncated: \d+ bytes\]$/) });
    const fits = await storeOne({ action: 'a.b', metadata: { a: 'x'.repeat(100) } }, { maxMetadataBytes: 256 });
    expect(fits?.metadata).toEqual({ a: 'x'.repeat(100) });
  });

  it('caps changes the same way', async () => {
    const record = await storeOne({
      action: 'doc.update',
      changes: { before: { body: 'a'.repeat(10_000), title: 'T' }, after: { body: 'b'.repeat(10_000), title: 'U' } },
    });
    expect(record?.changes).toEqual({
      body: '[truncated: 20024 bytes]',
      title: { before: 'T', after: 'U' },
    });
  });

  it('caps the user agent instead of rejecting the event', async () => {
    const record = await storeOne({ action: 'a.b', context: { userAgent: 'M'.repeat(5000) } });
    expect(record?.context?.userAgent).toHaveLength(512);
  });
});
