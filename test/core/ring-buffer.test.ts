import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/pipeline/queue.js';

/** The slots a ring holds now (private: what the heap pays for). */
const slotsOf = (ring: RingBuffer<unknown>) => (ring as unknown as { items: unknown[] }).items.length;

describe("the queue's ring buffer", () => {
  it('keeps first-in first-out order through growth and wrap-around, against a plain array', () => {
    // A seeded generator: the same interleaving of pushes, shifts and takes on every run.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const ring = new RingBuffer<number>(1000);
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const roll = random();
      if (roll < 0.55 && model.length < ring.capacity) {
        ring.push(next);
        model.push(next++);
      } else if (roll < 0.85) {
        expect(ring.shift()).toBe(model.shift());
      } else {
        const count = Math.floor(random() * 50);
        expect(ring.take(count)).toEqual(model.splice(0, count));
      }
      expect(ring.size).toBe(model.length);
      expect(ring.peek()).toBe(model[0]);
    }
    // Filled to capacity from a wrapped position: every item still comes out in order.
    while (model.length < ring.capacity) {
      ring.push(next);
      model.push(next++);
    }
    expect(slotsOf(ring)).toBe(ring.capacity);
    expect(ring.take(ring.capacity)).toEqual(model);
  });

  it('holds slots for the events waiting, not for its whole capacity: a queue of 10,000 that never holds more than 100 keeps 128', () => {
    const ring = new RingBuffer<object>(10_000);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) ring.push({ round, i });
      expect(ring.take(100)).toHaveLength(100);
    }
    expect(slotsOf(ring)).toBeLessThanOrEqual(128);
  });

  it('refuses a push past its capacity rather than overwrite the oldest event', () => {
    const ring = new RingBuffer<number>(3);
    for (let i = 0; i < 3; i++) ring.push(i);
    expect(() => ring.push(3)).toThrow(/queue is full \(3\)/);
    expect(ring.take(3)).toEqual([0, 1, 2]);
  });
});
