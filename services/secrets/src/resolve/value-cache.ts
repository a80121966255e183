export interface ValueCacheOptions {
  /** Most values kept (default 10,000). */
  readonly maxEntries?: number;
  /** Most plaintext kept, in UTF-16 code units ≈ bytes / 2 (default 32 Mi units, about 64 MiB). */
  readonly maxUnits?: number;
  /** How long a value is served without decrypting again (default 5 minutes). */
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

/**
 * Decrypted values of `secrets.v1.resolve`, keyed by (stream id, version): a version's value never changes, so a hit
 * can only be stale when its data key was purged, and resolve only asks for versions whose data key still exists.
 * Bounded by count and size, least recently used first out, with a TTL so plaintext does not linger in memory.
 */
export class ValueCache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private units = 0;
  private readonly maxEntries: number;
  private readonly maxUnits: number;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  hits = 0;
  misses = 0;

  constructor(options: ValueCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxUnits = options.maxUnits ?? 32 * 1024 * 1024;
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.clock = options.clock ?? Date.now;
  }

  static keyOf(streamId: string, version: number): string {
    return `${streamId}@${version}`;
  }

  get size(): number {
    return this.entries.size;
  }

  get(streamId: string, version: number): string | undefined {
    const key = ValueCache.keyOf(streamId, version);
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt <= this.clock()) {
      if (entry) this.remove(key, entry.value);
      this.misses++;
      return undefined;
    }
    // Re-inserting moves the entry to the young end of the Map's insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry.value;
  }

  set(streamId: string, version: number, value: string): void {
    if (value.length > this.maxUnits) return;
    const key = ValueCache.keyOf(streamId, version);
    const existing = this.entries.get(key);
    if (existing) this.remove(key, existing.value);
    this.entries.set(key, { value, expiresAt: this.clock() + this.ttlMs });
    this.units += value.length;
    while (this.entries.size > this.maxEntries || this.units > this.maxUnits) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, { value: string }];
      this.remove(oldestKey, oldest.value);
    }
  }

  /** Drops every value of an organization's streams (`secret:<org>:…`), e.g. after a purge. */
  forgetOrganization(organizationId: string): void {
    const prefix = `secret:${organizationId}:`;
    for (const [key, entry] of this.entries) if (key.startsWith(prefix)) this.remove(key, entry.value);
  }

  /** Drops every value of one customer's streams (`secret:<org>:<customer>:…`), e.g. after that customer's purge. */
  forgetCustomer(organizationId: string, customerOrganizationId: string): void {
    const prefix = `secret:${organizationId}:${customerOrganizationId}:`;
    for (const [key, entry] of this.entries) if (key.startsWith(prefix)) this.remove(key, entry.value);
  }

  /** Drops the values of some versions of one stream, e.g. after they were destroyed. */
  forgetVersions(streamId: string, versions: readonly number[]): void {
    for (const version of versions) {
      const key = ValueCache.keyOf(streamId, version);
      const entry = this.entries.get(key);
      if (entry) this.remove(key, entry.value);
    }
  }

  clear(): void {
    this.entries.clear();
    this.units = 0;
  }

  forgetAll(): void {
    this.clear();
  }

  private remove(key: string, value: string): void {
    this.entries.delete(key);
    this.units -= value.length;
  }
}
