import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RejectReason = 'invalid_subject' | 'too_large';
export type DeferReason = 'matcher_unavailable' | 'publish_failed';
export type RedactionPath = 'stream' | 'request';

/** The redaction service's figures on `/metrics`; labels name reasons and paths, never scopes' contents or values. */
export class RedactionMetrics {
  private readonly messagesIn: Counter;
  private readonly bytesIn: Counter;
  private readonly messagesOut: Counter;
  private readonly bytesOut: Counter;
  private readonly masks: Counter<'path'>;
  private readonly rejected: Counter<'reason'>;
  private readonly deferred: Counter<'reason'>;
  private readonly rebuilds: Counter<'outcome'>;
  private readonly invalidations: Counter;
  private readonly buildSeconds: Histogram;
  private readonly requestsRefused: Counter;
  private readonly resolveRepliesRefused: Counter<'reason'>;
  private readonly exposureReports: Counter<'outcome'>;
  private waiting = 0;

  constructor(private readonly registry: Registry) {
    const registers = [registry];
    this.exposureReports = new Counter({
      name: 'redaction_exposure_reports_total',
      help: 'Exposure reports (a secret version seen in a deployment log during a window), by outcome: reported, retried, dropped',
      labelNames: ['outcome'],
      registers,
    });
    this.messagesIn = new Counter({
      name: 'redaction_messages_in_total',
      help: 'Raw log messages received from LOGS_RAW, each redelivery counted again',
      registers,
    });
    this.bytesIn = new Counter({
      name: 'redaction_bytes_in_total',
      help: 'Bytes of raw log messages received, each redelivery counted again',
      registers,
    });
    this.messagesOut = new Counter({
      name: 'redaction_messages_out_total',
      help: 'Redacted log messages stored in LOGS (confirmed by a PubAck)',
      registers,
    });
    this.bytesOut = new Counter({
      name: 'redaction_bytes_out_total',
      help: 'Bytes of redacted log messages stored in LOGS',
      registers,
    });
    this.masks = new Counter({
      name: 'redaction_masks_applied_total',
      help: 'Regions replaced by ******** (stream: log messages, request: redaction.v1.redact)',
      labelNames: ['path'],
      registers,
    });
    this.rejected = new Counter({
      name: 'redaction_messages_rejected_total',
      help: 'Raw log messages terminated and never published (invalid subject, larger than 1 MiB)',
      labelNames: ['reason'],
      registers,
    });
    this.deferred = new Counter({
      name: 'redaction_messages_deferred_total',
      help: 'Raw log messages handed back for later redelivery (no matcher for their scope, LOGS did not confirm)',
      labelNames: ['reason'],
      registers,
    });
    this.rebuilds = new Counter({
      name: 'redaction_matcher_rebuilds_total',
      help: 'Matcher builds for a scope, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.invalidations = new Counter({
      name: 'redaction_matcher_invalidations_total',
      help: 'SECRETS_EVENTS changes that invalidated cached matchers',
      registers,
    });
    this.buildSeconds = new Histogram({
      name: 'redaction_matcher_build_seconds',
      help: 'Time to load a scope’s values from the secrets service and build its matcher',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.requestsRefused = new Counter({
      name: 'redaction_requests_refused_total',
      help: 'redaction.v1.redact requests refused RESOURCE_EXHAUSTED: their organization had as many queued as it may',
      registers,
    });
    this.resolveRepliesRefused = new Counter({
      name: 'redaction_resolve_replies_refused_total',
      help: 'secrets.v1.resolve replies refused by their signature or binding checks, by reason; none was used',
      labelNames: ['reason'],
      registers,
    });
    const waiting = (): number => this.waiting;
    new Gauge({
      name: 'redaction_messages_waiting_on_matcher',
      help: 'Raw log messages held until their scope’s matcher is built',
      registers,
      collect() {
        this.set(waiting());
      },
    });
  }

  /** Gauges read from the matcher cache when scraped. */
  watchCache(cache: { valuesBelowMinLength(): number; cachedMatchers(): number }): void {
    new Gauge({
      name: 'redaction_values_below_min_length',
      help: 'Values in cached matchers too short to be matched on their own (REDACTION_MIN_LENGTH)',
      registers: [this.registry],
      collect() {
        this.set(cache.valuesBelowMinLength());
      },
    });
    new Gauge({
      name: 'redaction_matchers_cached',
      help: 'Scopes with a matcher in this instance’s cache',
      registers: [this.registry],
      collect() {
        this.set(cache.cachedMatchers());
      },
    });
  }

  /** Gauges read from the redact admission when scraped. */
  watchAdmission(admission: { inFlight(): number; queued(): number }): void {
    new Gauge({
      name: 'redaction_requests_in_flight',
      help: 'redaction.v1.redact requests running, every organization together',
      registers: [this.registry],
      collect() {
        this.set(admission.inFlight());
      },
    });
    new Gauge({
      name: 'redaction_requests_queued',
      help: 'redaction.v1.redact requests waiting for their organization’s turn',
      registers: [this.registry],
      collect() {
        this.set(admission.queued());
      },
    });
  }

  requestRefused(): void {
    this.requestsRefused.inc();
  }

  resolveReplyRefused(reason: string): void {
    this.resolveRepliesRefused.inc({ reason });
  }

  received(bytes: number): void {
    this.messagesIn.inc();
    this.bytesIn.inc(bytes);
  }

  stored(bytes: number, masks: number): void {
    this.messagesOut.inc();
    this.bytesOut.inc(bytes);
    if (masks > 0) this.masks.inc({ path: 'stream' }, masks);
  }

  redactedRequest(masks: number): void {
    if (masks > 0) this.masks.inc({ path: 'request' }, masks);
  }

  rejectedMessage(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }

  deferredMessage(reason: DeferReason): void {
    this.deferred.inc({ reason });
  }

  waitingOnMatcher(delta: number): void {
    this.waiting += delta;
  }

  matcherBuilt(seconds: number): void {
    this.rebuilds.inc({ outcome: 'built' });
    this.buildSeconds.observe(seconds);
  }

  matcherFailed(): void {
    this.rebuilds.inc({ outcome: 'failed' });
  }

  invalidated(): void {
    this.invalidations.inc();
  }

  exposureReport(outcome: 'reported' | 'retried' | 'dropped'): void {
    this.exposureReports.inc({ outcome });
  }
}
