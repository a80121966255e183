/** An event's place in the outbox's publishing order: its transaction's xid8, then its position. */
export interface OutboxPosition {
  /** xid8 as a decimal string (as `RecordedEvent.transactionId`) or a bigint. */
  readonly transactionId: string | bigint;
  readonly position: string | bigint;
}

interface Point {
  readonly transaction: bigint;
  readonly position: bigint;
}

interface Waiter {
  readonly at: Point;
  readonly settle: (published: boolean) => void;
}

function pointOf(at: OutboxPosition): Point {
  return { transaction: BigInt(at.transactionId), position: BigInt(at.position) };
}

function compare(a: Point, b: Point): number {
  if (a.transaction !== b.transaction) return a.transaction < b.transaction ? -1 : 1;
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return 0;
}

/**
 * Callers waiting until the outbox has published up to an event, kept sorted by position so each advance settles a
 * prefix: O(log n) to add, O(settled) to advance, no work per waiter while nothing is published.
 */
export class PublicationWaiters {
  private published?: Point;
  private readonly waiting: Waiter[] = [];

  /** How many callers are waiting. */
  get size(): number {
    return this.waiting.length;
  }

  /** Whether the outbox is known to have published the event at `at` (and everything before it). */
  isPublished(at: OutboxPosition): boolean {
    return this.published !== undefined && compare(pointOf(at), this.published) <= 0;
  }

  /** Resolves true once `advance` reaches `at`, false after `timeoutMs` or on `abandon`. */
  wait(at: OutboxPosition, timeoutMs: number): Promise<boolean> {
    const point = pointOf(at);
    if (this.published !== undefined && compare(point, this.published) <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        at: point,
        settle: (published) => {
          clearTimeout(timer);
          resolve(published);
        },
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(false);
      }, timeoutMs);
      this.waiting.splice(this.insertionIndex(point), 0, waiter);
    });
  }

  /** Records that everything up to `to` is published and settles those waiters; an older position is ignored. */
  advance(to: OutboxPosition): void {
    const point = pointOf(to);
    if (this.published !== undefined && compare(point, this.published) <= 0) return;
    this.published = point;
    let settled = 0;
    while (settled < this.waiting.length && compare(this.waiting[settled].at, point) <= 0) settled++;
    if (settled === 0) return;
    for (const waiter of this.waiting.splice(0, settled)) waiter.settle(true);
  }

  /** Settles every waiter with false (the publisher stopped) and forgets the published position. */
  abandon(): void {
    this.published = undefined;
    for (const waiter of this.waiting.splice(0)) waiter.settle(false);
  }

  /** After every waiter at or before `point`, so equal positions keep arrival order. */
  private insertionIndex(point: Point): number {
    let low = 0;
    let high = this.waiting.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(this.waiting[middle].at, point) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
