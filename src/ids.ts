import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562) generation: 48 bits of Unix milliseconds, then a 12-bit counter that keeps
 * ids generated in the same millisecond strictly increasing, then 62 random bits. Ids sort by
 * creation time, which keeps B-tree inserts at the right edge of the index (random ids
 * scatter them over the whole index) and gives the keyset cursor a stable tiebreak.
 *
 * It is on the caller's path (`log()` stamps every event), so it draws randomness from a pool
 * refilled 4 KiB at a time, and formats by writing ASCII into one reused buffer: that makes a
 * flat string in one step, where 20 concatenations made a tree of strings that had to be
 * flattened again when the record is sent to a writer thread (see the framework benchmark).
 */

/** The two ASCII hex digits of each byte, as one 16-bit value (high byte first). */
const HEX_PAIRS = new Uint16Array(256);
for (let byte = 0; byte < 256; byte++) {
  const hex = byte.toString(16).padStart(2, '0');
  HEX_PAIRS[byte] = (hex.charCodeAt(0) << 8) | hex.charCodeAt(1);
}
const DASH = 0x2d;
/** Reused for every id: formatting is synchronous, so nothing else can be writing into it. */
const text = Buffer.alloc(36, DASH);
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

let lastMs = 0;
let counter = 0;

/** The parts of a UUIDv7, taken at `log()` time; formatting waits for the flusher. */
export interface UuidV7Stamp {
  ms: number;
  counter: number;
  /** Random bits in three small integers (24 + 24 + 16 bits), which V8 stores unboxed. */
  rand0: number;
  rand1: number;
  rand2: number;
}

/**
 * Fixes the next UUIDv7 without formatting it: the time and the in-millisecond counter that
 * give the id its place in order, and its random bits. Cheap enough for the caller's path.
 */
export function stampUuidv7<T extends UuidV7Stamp>(nowMs: number, into: T): T {
  let ms = nowMs;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // 4096 ids in one millisecond: borrow the next millisecond rather than lose order.
      ms = ++lastMs;
      counter = 0;
    }
  } else {
    lastMs = ms;
    counter = 0;
  }
  if (poolOffset + 8 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const r = poolOffset;
  poolOffset += 8;
  into.ms = ms;
  into.counter = counter;
  into.rand0 = (pool[r]! << 16) | (pool[r + 1]! << 8) | pool[r + 2]!;
  into.rand1 = (pool[r + 3]! << 16) | (pool[r + 4]! << 8) | pool[r + 5]!;
  into.rand2 = (pool[r + 6]! << 8) | pool[r + 7]!;
  return into;
}

/** Formats a stamp as the canonical 36-character UUID string. */
export function formatUuidv7(stamp: UuidV7Stamp): string {
  const { ms, counter, rand0, rand1, rand2 } = stamp;
  const hi = Math.floor(ms / 0x1000000); // top 24 bits of the 48-bit timestamp
  const lo = ms % 0x1000000; // bottom 24 bits
  // xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx: dashes at 8, 13, 18 and 23 were written once.
  putHex(0, (hi >>> 16) & 0xff);
  putHex(2, (hi >>> 8) & 0xff);
  putHex(4, hi & 0xff);
  putHex(6, (lo >>> 16) & 0xff);
  putHex(9, (lo >>> 8) & 0xff);
  putHex(11, lo & 0xff);
  putHex(14, 0x70 | (counter >>> 8));
  putHex(16, counter & 0xff);
  putHex(19, 0x80 | ((rand0 >>> 16) & 0x3f));
  putHex(21, (rand0 >>> 8) & 0xff);
  putHex(24, rand0 & 0xff);
  putHex(26, (rand1 >>> 16) & 0xff);
  putHex(28, (rand1 >>> 8) & 0xff);
  putHex(30, rand1 & 0xff);
  putHex(32, (rand2 >>> 8) & 0xff);
  putHex(34, rand2 & 0xff);
  return text.toString('latin1', 0, 36);
}

function putHex(offset: number, byte: number): void {
  const pair = HEX_PAIRS[byte]!;
  text[offset] = pair >>> 8;
  text[offset + 1] = pair & 0xff;
}

/** A new UUIDv7 string; monotonic within this process. */
export function uuidv7(nowMs: number = Date.now()): string {
  return formatUuidv7(stampUuidv7(nowMs, { ms: 0, counter: 0, rand0: 0, rand1: 0, rand2: 0 }));
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The millisecond timestamp inside a UUIDv7, or undefined for any other string. */
export function uuidv7Time(id: string): number | undefined {
  if (!UUID_V7.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
