import { Buffer } from 'node:buffer';
import crypto, { createHash, createHmac } from 'node:crypto';

/** The one-shot `crypto.hash` (Node.js 20.12+, 21.7+): no Hash object per call. */
type OneShotHash = (algorithm: string, data: string | Uint8Array, outputEncoding: 'hex') => string;
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

/** SHA-256's block size: HMAC pads its key to this many bytes. */
const BLOCK = 64;

/**
 * HMAC-SHA256 (RFC 2104) under one key, of `prev`, a line feed and `form`, as hex: the same
 * bytes as `createHmac('sha256', key).update(prev).update('\n').update(form).digest('hex')`.
 *
 * Sealing computes one per record, in the flusher. `createHmac` builds an Hmac object, pads
 * the key and crosses into C++ five times per record, and its objects weigh on the garbage
 * collector; here the key's two pads are worked out once and each record costs two one-shot
 * SHA-256 calls over a reused buffer. Falls back to `createHmac` where `crypto.hash` is missing.
 * @internal
 */
export function chainHasher(key: Uint8Array): (prev: string, form: string) => string {
  const hash = oneShot;
  if (hash === undefined) return (prev, form) => createHmac('sha256', key).update(prev).update('\n').update(form).digest('hex');
  const padded = Buffer.alloc(BLOCK);
  padded.set(key.byteLength > BLOCK ? createHash('sha256').update(key).digest() : key);
  // The inner hash's input: the key XOR 0x36, then the message (grown as messages need).
  let inner = Buffer.allocUnsafe(BLOCK + 4096);
  for (let i = 0; i < BLOCK; i++) inner[i] = padded[i]! ^ 0x36;
  // The outer hash's input: the key XOR 0x5c, then the inner digest.
  const outer = Buffer.allocUnsafe(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) outer[i] = padded[i]! ^ 0x5c;
  return (prev, form) => {
    // A UTF-16 code unit takes at most three bytes of UTF-8.
    const most = BLOCK + (prev.length + 1 + form.length) * 3;
    if (most > inner.length) {
      const grown = Buffer.allocUnsafe(most);
      inner.copy(grown, 0, 0, BLOCK);
      inner = grown;
    }
    let length = BLOCK + inner.write(prev, BLOCK, 'utf8');
    inner[length++] = 0x0a;
    length += inner.write(form, length, 'utf8');
    outer.write(hash('sha256', new Uint8Array(inner.buffer, inner.byteOffset, length), 'hex'), BLOCK, 'hex');
    return hash('sha256', outer, 'hex');
  };
}
