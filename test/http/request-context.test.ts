import { describe, expect, it } from 'vitest';
import { extractRequestContext, isWellFormedRequestId, traceIdFromTraceparent } from '../../src/http/request-context.js';
import { compileCapturePolicy } from '../../src/http/capture.js';

describe('extractRequestContext', () => {
  it('ignores proxy headers unless trustProxy is on', () => {
    const request = new Request('http://x/', { headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' } });
    expect(extractRequestContext(request, { ip: '10.0.0.1' }).context.ip).toBe('10.0.0.1');
    expect(extractRequestContext(request, { ip: '10.0.0.1', trustProxy: true }).context.ip).toBe('203.0.113.9');
  });

  it('accepts well-formed request ids only', () => {
    expect(isWellFormedRequestId('0190b7a2-7c1e-7000-8000-000000000000')).toBe(true);
    expect(isWellFormedRequestId('a b')).toBe(false);
    expect(isWellFormedRequestId('x'.repeat(129))).toBe(false);
    expect(isWellFormedRequestId('line\nbreak')).toBe(false);
  });

  it('reads the trace id of a valid traceparent only', () => {
    expect(traceIdFromTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceIdFromTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(traceIdFromTraceparent('00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(traceIdFromTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01')).toBeUndefined();
    expect(traceIdFromTraceparent('garbage')).toBeUndefined();
  });
});

describe('compileCapturePolicy', () => {
  it('refuses unknown modes and bad action names at start-up', () => {
    expect(() => compileCapturePolicy({ reads: 'some' as never })).toThrow(/capture.reads/);
    expect(() => compileCapturePolicy({ routes: { 'POST /x': 'Not An Action' } })).toThrow(/capture.routes/);
  });

  it('prefers a method-specific rule over an any-method rule', () => {
    const policy = compileCapturePolicy({ routes: { '/x': false, 'DELETE /x': 'thing.delete' } });
    expect(policy.decide('GET', '/x', 500)).toBeUndefined();
    expect(policy.decide('DELETE', '/x', 204)).toEqual({ action: 'thing.delete', status: 'success' });
  });
});
