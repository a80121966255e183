import { Counter, Gauge, type Registry } from 'prom-client';
import { type AuditLag } from './audit-lag';

/** The audit service's figures on `/metrics`; labels never carry event contents. */
export class AuditMetrics {
  private readonly recordsApplied: Counter;
  private readonly eventsRejected: Counter;
  private readonly checkpointsSigned: Counter;
  private readonly checkpointRefusals: Counter<'reason'>;
  private readonly streamGaps: Counter;
  private lastOccurredAtMs: number | undefined;
  private missingSequences = 0;

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
    this.checkpointsSigned = new Counter({
      name: 'audit_checkpoints_signed_total',
      help: 'Chain-head checkpoints this instance signed and published to AUDIT_CHECKPOINTS',
      registers: [registry],
    });
    this.checkpointRefusals = new Counter({
      name: 'audit_checkpoint_refusals_total',
      help: 'Chain heads this instance refused to sign because the records no longer match the latest checkpoint',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.streamGaps = new Counter({
      name: 'audit_stream_gaps_total',
      help: 'Runs of SECRETS_EVENTS sequences found deleted from the stream; each stops the applier until acknowledged',
      registers: [registry],
    });
    const gapGauge: Gauge = new Gauge({
      name: 'audit_stream_gap_missing_sequences',
      help: 'SECRETS_EVENTS sequences missing from the stream that the applier waits on (0 while it applies)',
      registers: [registry],
      collect: () => gapGauge.set(this.missingSequences),
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

  checkpointSigned(): void {
    this.checkpointsSigned.inc();
  }

  checkpointRefused(reason: string): void {
    this.checkpointRefusals.inc({ reason });
  }

  /** The applier stopped before `missing` deleted sequences (0: it applies again). */
  streamGap(missing: number): void {
    if (missing > 0 && this.missingSequences === 0) this.streamGaps.inc();
    this.missingSequences = missing;
  }
}
