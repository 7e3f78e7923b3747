/** Slots a queue starts with: it grows (doubling) towards its capacity only as events wait. */
const INITIAL_SLOTS = 64;

/**
 * A bounded FIFO ring buffer: O(1) push and shift, so the cost of `log()` does not depend on
 * how many events are waiting. Its slots grow by doubling as more events wait at once, up to
 * `capacity`, rather than being allocated up front: a logger with the default `maxQueue`
 * (10,000) whose queue never holds more than a batch keeps a few hundred slots, not 80 KiB.
 */
export class RingBuffer<T> {
  private items: (T | undefined)[];
  private head = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(Math.min(capacity, INITIAL_SLOTS));
  }

  get size(): number {
    return this.length;
  }

  /** Appends; the caller checks capacity first. */
  push(item: T): void {
    if (this.length === this.items.length) this.grow();
    this.items[(this.head + this.length) % this.items.length] = item;
    this.length++;
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.length === 0 ? undefined : this.items[this.head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.length--;
    return item;
  }

  /** Removes and returns up to `count` of the oldest items, oldest first. */
  take(count: number): T[] {
    const n = Math.min(count, this.length);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.shift() as T;
    return out;
  }

  /** Twice the slots (at most `capacity`), the items moved to the start in their order. */
  private grow(): void {
    const slots = Math.min(this.capacity, this.items.length * 2);
    // A push past capacity is the caller's error (it checks first): keep the old ring rather
    // than overwrite its oldest item.
    if (slots === this.items.length) throw new RangeError(`queue is full (${this.capacity})`);
    const grown = new Array<T | undefined>(slots);
    for (let i = 0; i < this.length; i++) grown[i] = this.items[(this.head + i) % this.items.length];
    this.items = grown;
    this.head = 0;
  }
}
