import type { Redactor } from './redact.js';
import { LIMITS, type ActivityErrorInfo } from './schema.js';
import { cutText } from './text.js';

/**
 * Turns anything thrown (an Error, a string, an object, `undefined`) into the stored
 * `{ name, message, code?, stack? }`. Never throws: a value whose properties cannot be read
 * still yields a record that says so.
 */
export function normalizeThrown(thrown: unknown, includeStack = false, redactor?: Redactor): ActivityErrorInfo {
  try {
    if (thrown instanceof Error) {
      const info: ActivityErrorInfo = {
        name: cap(readName(thrown) ?? 'Error', LIMITS.errorName),
        message: cap(readString(thrown, 'message') ?? '', LIMITS.errorMessage),
      };
      const code = readCode(thrown);
      if (code !== undefined) info.code = code;
      if (includeStack) {
        const stack = readString(thrown, 'stack');
        if (stack !== undefined) info.stack = cap(stack, LIMITS.stack);
      }
      return info;
    }
    if (typeof thrown === 'string') return { name: 'Error', message: cap(thrown, LIMITS.errorMessage) };
    if (thrown !== null && typeof thrown === 'object') {
      const message = readString(thrown, 'message');
      const info: ActivityErrorInfo = {
        name: cap(readName(thrown) ?? 'NonError', LIMITS.errorName),
        // A plain object's own keys pass the redactor before they become the message, so
        // `{ password, user }` is stored with its shape and without the password.
        message: cap(message ?? safeString(redactor ? redactor.redact(thrown) : thrown), LIMITS.errorMessage),
      };
      const code = readCode(thrown);
      if (code !== undefined) info.code = code;
      return info;
    }
    return { name: 'NonError', message: cap(safeString(thrown), LIMITS.errorMessage) };
  } catch {
    return { name: 'NonError', message: '[unreadable thrown value]' };
  }
}

/**
 * A thrown value that is neither an Error nor a string, copied at `log()` time and described
 * later, by the flusher, once the logger's redactor can see its keys.
 */
export class ThrownObject {
  constructor(readonly value: unknown) {}
}

/**
 * The stored form of an event's `error`: a {@link ThrownObject} is described with its
 * sensitive keys redacted, and every text field passes the redactor's value rules.
 */
export function finishThrown(error: unknown, redactor: Redactor): ActivityErrorInfo {
  const info = error instanceof ThrownObject ? normalizeThrown(error.value, false, redactor) : (error as ActivityErrorInfo);
  const out: ActivityErrorInfo = { name: redactor.redactText(info.name), message: redactor.redactText(info.message) };
  if (info.code !== undefined) out.code = redactor.redactText(info.code);
  if (info.stack !== undefined) out.stack = redactor.redactText(info.stack);
  return out;
}

/** What a field of a thrown value whose getter (or Proxy trap) throws is stored as, as in metadata. */
const UNREADABLE = '[Unreadable]';

/** The name, or undefined when it is not a string or cannot be read: the kind's default (`Error`, `NonError`) then stands. */
function readName(source: object): string | undefined {
  const name = readString(source, 'name');
  return name === UNREADABLE ? undefined : name;
}

function readString(source: object, key: string): string | undefined {
  try {
    const value = (source as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return UNREADABLE;
  }
}

function readCode(source: object): string | undefined {
  try {
    const code = (source as Record<string, unknown>).code;
    if (typeof code === 'string') return cap(code, LIMITS.errorCode);
    if (typeof code === 'number' && Number.isFinite(code)) return String(code);
  } catch {
    return UNREADABLE;
  }
  return undefined;
}

function safeString(value: unknown): string {
  try {
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'symbol') return value.toString();
    if (value !== null && typeof value === 'object') return JSON.stringify(value) ?? Object.prototype.toString.call(value);
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function cap(text: string, max: number): string {
  return text.length > max ? `${cutText(text, max - 1)}…` : text;
}
