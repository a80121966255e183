import { Counter, Gauge, type Registry } from 'prom-client';
import { type AuditLag } from './audit-lag';

/** The audit service's figures on `/metrics`; labels never carry event contents. */
export class AuditMetrics {
  private readonly recordsApplied: Counter;
  private readonly eventsRejected: Counter;
  private lastOccurredAtMs: number | undefined;

  /** @param lag measured on each scrape; without it (tests of other parts) the lag gauge reads 0 */
  constructor(
    registry: Registry,
    private readonly lag?: AuditLag,
  ) {
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
    const lagGauge: Gauge = new Gauge({
      name: 'audit_lag_seconds',
      help: 'now minus occurredAt of the oldest SECRETS_EVENTS event not yet in the audit trail; 0 when none is waiting',
      registers: [registry],
      collect: async () => lagGauge.set((await this.lag?.seconds(Date.now())) ?? 0),
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

  /** @param appliedThrough the trail's position after the commit */
  applied(records: number, lastOccurredAt: Date | undefined, appliedThrough: number): void {
    this.recordsApplied.inc(records);
    if (lastOccurredAt) this.lastOccurredAtMs = lastOccurredAt.getTime();
    this.lag?.applied(appliedThrough);
  }

  rejected(count = 1): void {
    this.eventsRejected.inc(count);
  }
}
