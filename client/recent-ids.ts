/**
 * A bounded set of recently seen keys, least recently seen evicted first. Delivery is
 * at-least-once and duplicates arrive close together, so a few thousand keys are plenty.
 */
export class RecentIds {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** Remembers `key`; returns false when it was already there (a duplicate). */
  add(key: string): boolean {
    if (this.seen.delete(key)) {
      this.seen.add(key); // refresh: it stays until `capacity` newer keys arrive
      return false;
    }
    this.seen.add(key);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
