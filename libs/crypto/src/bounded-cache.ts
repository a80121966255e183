/** A least-recently-used map with a size bound and an optional time-to-live, for key material and verified tokens. */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs = Infinity,
    private readonly clock: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserting moves the entry to the young end of the Map's insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores a value until `ttlMs` from now, or until `expiresAt` (epoch ms) if that is sooner. */
  set(key: K, value: V, expiresAt = Infinity): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: Math.min(expiresAt, this.clock() + this.ttlMs) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Removes every entry whose value matches, e.g. all data keys of one organization. */
  deleteWhere(predicate: (value: V, key: K) => boolean): void {
    for (const [key, entry] of this.entries) {
      if (predicate(entry.value, key)) this.entries.delete(key);
    }
  }

  /** Whether any unexpired entry's value matches. */
  some(predicate: (value: V, key: K) => boolean): boolean {
    const now = this.clock();
    for (const [key, entry] of this.entries) if (entry.expiresAt > now && predicate(entry.value, key)) return true;
    return false;
  }

  clear(): void {
    this.entries.clear();
  }
}
