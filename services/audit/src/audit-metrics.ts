import { Counter, Gauge, type Registry } from 'prom-client';

/** The audit service's figures on `/metrics`; labels never carry event contents. */
export class AuditMetrics {
  private readonly recordsApplied: Counter;
  private readonly eventsRejected: Counter;
  private lastOccurredAtMs: number | undefined;
  private caughtUp = true;

  constructor(registry: Registry) {
    this.recordsApplied = new Counter({
      name: 'audit_records_applied_total',
      help: 'Audit records written from SECRETS_EVENTS by this instance',
      registers: [registry],
    });
    this.eventsRejected = new Counter({
      name: 'audit_events_rejected_total',
      help: 'SECRETS_EVENTS messages that broke the event contract and were skipped',
      registers: [registry],
    });
    const lag: Gauge = new Gauge({
      name: 'audit_lag_seconds',
      help: 'now minus occurredAt of the last event this instance applied; 0 once the consumer has caught up',
      registers: [registry],
      collect: () => lag.set(this.lagSeconds(Date.now())),
    });
    const lastApplied: Gauge = new Gauge({
      name: 'audit_last_applied_event_timestamp_seconds',
      help: 'occurredAt of the last event this instance applied (unix seconds)',
      registers: [registry],
      collect: () => {
        if (this.lastOccurredAtMs !== undefined) lastApplied.set(this.lastOccurredAtMs / 1000);
      },
    });
  }

  /** @param caughtUp the stream had nothing after the last applied message when it was delivered */
  applied(records: number, lastOccurredAt: Date | undefined, caughtUp: boolean): void {
    this.recordsApplied.inc(records);
    if (lastOccurredAt) this.lastOccurredAtMs = lastOccurredAt.getTime();
    this.caughtUp = caughtUp;
  }

  rejected(count = 1): void {
    this.eventsRejected.inc(count);
  }

  lagSeconds(nowMs: number): number {
    if (this.caughtUp || this.lastOccurredAtMs === undefined) return 0;
    return Math.max(0, (nowMs - this.lastOccurredAtMs) / 1000);
  }
}
