/** The oldest SECRETS_EVENTS message that is not in the audit trail yet. */
export interface UnappliedEvent {
  readonly sequence: number;
  /** The event's occurredAt; undefined for a message that breaks the event contract. */
  readonly occurredAt: Date | undefined;
  /** When SECRETS_EVENTS stored the message. */
  readonly storedAt: Date;
}

/** Where the lag is read from: the audit database and the stream. */
export interface AuditLagSources {
  /** The last stream sequence in the trail (`audit.applied_position`). */
  appliedPosition(): Promise<number>;
  /** The first message still in SECRETS_EVENTS at or after `sequence`; undefined when there is none. */
  firstMessageFrom(sequence: number): Promise<UnappliedEvent | undefined>;
}

/**
 * `audit_lag_seconds`: how long the oldest event not yet in the trail has waited, now − its occurredAt; 0 only when
 * the stream holds nothing after the applied position. While events flow this is the "now − occurredAt of
 * the last applied event" (the next event follows the last applied one); unlike it, an idle platform reads 0, and a
 * trail that is stuck (database down, consumer wedged) reads a lag that grows.
 */
export function auditLagSeconds(oldest: UnappliedEvent | undefined, nowMs: number): number {
  if (oldest === undefined) return 0;
  return Math.max(0, (nowMs - (oldest.occurredAt ?? oldest.storedAt).getTime()) / 1000);
}

const UNANSWERED = Symbol('unanswered');

/** `work`'s result, or UNANSWERED when it fails or takes longer than `ms` (a scrape must not hang on an outage). */
async function answerWithin<T>(work: () => Promise<T>, ms: number): Promise<T | typeof UNANSWERED> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof UNANSWERED>((resolve) => (timer = setTimeout(() => resolve(UNANSWERED), ms)));
  try {
    return await Promise.race([work().catch((): typeof UNANSWERED => UNANSWERED), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Measures the audit lag on each scrape. When the database does not answer, the last position it or this instance's
 * applier gave is used (the trail cannot have grown since); when the stream does not answer, the last oldest
 * unapplied event it named, so the lag keeps growing rather than dropping to 0 during an outage.
 */
export class AuditLag {
  private knownPosition: number | undefined;
  private knownOldest: UnappliedEvent | undefined;

  constructor(
    private readonly sources: AuditLagSources,
    private readonly timeoutMs = 2_000,
  ) {}

  /** The applier reports every commit, so the position is known even if the database stops answering. */
  applied(position: number): void {
    this.knownPosition = position;
  }

  async seconds(nowMs: number): Promise<number> {
    return auditLagSeconds(await this.oldestUnapplied(), nowMs);
  }

  private async oldestUnapplied(): Promise<UnappliedEvent | undefined> {
    const position = await answerWithin(() => this.sources.appliedPosition(), this.timeoutMs);
    if (position !== UNANSWERED) this.knownPosition = position;
    // Neither the database nor an apply ever told the position: nothing to measure against.
    if (this.knownPosition === undefined) return undefined;
    const next = this.knownPosition + 1;
    const oldest = await answerWithin(() => this.sources.firstMessageFrom(next), this.timeoutMs);
    if (oldest !== UNANSWERED) this.knownOldest = oldest;
    else if (this.knownOldest !== undefined && this.knownOldest.sequence < next) this.knownOldest = undefined;
    return this.knownOldest;
  }
}
