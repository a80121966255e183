export interface FairQueueLimits {
  /** Most items one tenant has started and not yet finished. */
  readonly maxRunningPerTenant: number;
  /** Most items one tenant has waiting; `push` refuses beyond it. */
  readonly maxQueuedPerTenant: number;
}

interface TenantLine<T> {
  readonly waiting: T[];
  running: number;
}

/**
 * Waiting work by tenant, started round-robin across tenants: a tenant that floods only lengthens its own line, and
 * no tenant runs more than its share at once. Holds no timers and starts nothing itself: the caller asks `next()`
 * whenever it has capacity and reports `done` when an item finishes.
 */
export class FairQueue<T> {
  private readonly lines = new Map<string, TenantLine<T>>();
  /** Tenants with waiting items, in the order they get their next turn. */
  private readonly turns: string[] = [];
  private waitingCount = 0;

  constructor(private readonly limits: FairQueueLimits) {}

  /** Items waiting across tenants. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Queues `item` for `tenant`; false (nothing queued) when that tenant's line is full. */
  push(tenant: string, item: T): boolean {
    const line = this.lineOf(tenant);
    if (line.waiting.length >= this.limits.maxQueuedPerTenant) {
      this.forgetIfIdle(tenant, line);
      return false;
    }
    if (line.waiting.length === 0) this.turns.push(tenant);
    line.waiting.push(item);
    this.waitingCount++;
    return true;
  }

  /**
   * The next item to start, from the first tenant in turn below its running cap for which `canStart` holds (the
   * caller has room for it); counted as running.
   */
  next(canStart: (tenant: string) => boolean = () => true): { tenant: string; item: T } | undefined {
    for (let looked = 0; looked < this.turns.length; looked++) {
      const tenant = this.turns.shift()!;
      const line = this.lines.get(tenant)!;
      if (line.running >= this.limits.maxRunningPerTenant || !canStart(tenant)) {
        this.turns.push(tenant);
        continue;
      }
      const item = line.waiting.shift()!;
      this.waitingCount--;
      line.running++;
      if (line.waiting.length > 0) this.turns.push(tenant);
      return { tenant, item };
    }
    return undefined;
  }

  /** Puts a started item back at the head of its tenant's line (its run was cut short through no fault of its own). */
  retry(tenant: string, item: T): void {
    const line = this.lines.get(tenant);
    if (!line || line.running === 0) throw new Error(`FairQueue.retry without a running item of that tenant`);
    line.running--;
    if (line.waiting.length === 0) this.turns.unshift(tenant);
    line.waiting.unshift(item);
    this.waitingCount++;
  }

  /** A started item of `tenant` finished (or failed). */
  done(tenant: string): void {
    const line = this.lines.get(tenant);
    if (!line || line.running === 0) throw new Error(`FairQueue.done without a running item of that tenant`);
    line.running--;
    this.forgetIfIdle(tenant, line);
  }

  private lineOf(tenant: string): TenantLine<T> {
    let line = this.lines.get(tenant);
    if (!line) {
      line = { waiting: [], running: 0 };
      this.lines.set(tenant, line);
    }
    return line;
  }

  private forgetIfIdle(tenant: string, line: TenantLine<T>): void {
    if (line.running === 0 && line.waiting.length === 0) this.lines.delete(tenant);
  }
}
