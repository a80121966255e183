import { AckPolicy, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { type Logger } from 'pino';
import { type AuditMetrics } from '../audit-metrics';
import {
  type ApplierLease,
  type AuditStore,
  type StreamGap,
  type StreamedEvent,
} from '../records/audit-store.repository';
import {
  AUDIT_CONSUMER,
  ensureAuditConsumer,
  READ_YIELD_EVERY,
  goneFromStream,
  secretsEventsStream,
  streamedEventOf,
  yieldToEventLoop,
} from './audit-stream';

export interface AuditConsumerOptions {
  readonly nats: NatsConnection;
  readonly subjectPrefix: string;
  readonly store: AuditStore;
  readonly logger: Logger;
  readonly metrics?: AuditMetrics;
  /** Most events applied in one transaction. */
  readonly maxBatch?: number;
  /** How long a message may wait for an earlier sequence before it is handed back to the server. */
  readonly holdLimitMs?: number;
  /** How often a standby instance asks whether it may apply. */
  readonly leasePollMs?: number;
  /** How long the server waits for an ack before redelivering; set when the durable consumer is first created. */
  readonly ackWaitMs?: number;
}

interface HeldMessage {
  readonly message: JsMsg;
  readonly streamed: StreamedEvent;
  readonly receivedAt: number;
}

/** While an earlier sequence is still on its way (a redelivery): it usually arrives within milliseconds. */
const GAP_RETRY_MS = 20;
const RETRY_MIN_MS = 10;
const RETRY_MAX_MS = 1_000;
/** How often a lasting gap or an idle applier asks whether the durable consumer still delivers what the trail lacks. */
const CONSUMER_CHECK_MS = 5_000;
/** While stopped at a gap of deleted sequences: how often the applier looks for the acknowledgement. */
const GAP_POLL_MS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Applies SECRETS_EVENTS to the audit trail through the shared durable pull consumer. Every instance runs one;
 * the one holding the applier lease reads, the others stand by and take over when it goes away. Messages are
 * buffered as they arrive and applied in batches (one transaction each), lowest stream sequence first; a message
 * is acknowledged only after its transaction committed, so a crash means redelivery, never loss.
 */
export class AuditEventConsumer {
  private readonly stream: string;
  private readonly maxBatch: number;
  private readonly holdLimitMs: number;
  private readonly leasePollMs: number;
  private readonly held = new Map<number, HeldMessage>();
  private messages: ConsumerMessages | undefined;
  private manager: JetStreamManager | undefined;
  private stopping = false;
  /** True while this instance holds the lease and reads. */
  private reading = false;
  /** The subscribed consumer acknowledges one message at a time (made by an earlier release, being replaced). */
  private ackEachMessage = false;
  private lastConsumerCheckAt = 0;
  /** The gap of deleted sequences the applier stopped at, until ops acknowledge it. */
  private stoppedAt: StreamGap | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: AuditConsumerOptions) {
    this.stream = secretsEventsStream(options.subjectPrefix);
    this.maxBatch = options.maxBatch ?? 5_000;
    this.holdLimitMs = options.holdLimitMs ?? 10_000;
    this.leasePollMs = options.leasePollMs ?? 1_000;
  }

  /** The lease holder creates or upgrades the durable consumer before it reads (it knows the applied position). */
  async start(): Promise<void> {
    this.manager = await this.options.nats.jetstreamManager();
    this.running = this.run();
  }

  /** Stops reading, finishes the batch in hand and hands unapplied messages back for redelivery. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    this.notify();
    await this.running;
  }

  /** Whether this instance is the one applying events now. */
  get isApplier(): boolean {
    return this.reading;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const lease = await this.options.store.tryAcquireApplierLease();
      if (!lease) {
        await this.waitForWork(this.leasePollMs);
        continue;
      }
      this.options.logger.info({ stream: this.stream }, 'this instance now applies SECRETS_EVENTS');
      try {
        await this.applyWhileHolding(lease);
      } finally {
        await lease.release();
      }
    }
  }

  private async applyWhileHolding(lease: ApplierLease): Promise<void> {
    this.reading = true;
    void lease.lost.then(() => {
      if (!this.reading) return;
      this.options.logger.warn('lost the applier lease; standing by');
      this.reading = false;
      this.messages?.stop();
      this.notify();
    });
    const reader = this.read();
    await this.applyLoop();
    this.reading = false;
    this.messages?.stop();
    await reader;
    await this.messages?.closed();
    this.messages = undefined;
    for (const { message } of this.held.values()) this.handBack(message);
    this.held.clear();
  }

  private handBack(message: JsMsg): void {
    try {
      message.nak();
    } catch {
      // The connection is gone: the server redelivers after the ack wait.
    }
  }

  private get active(): boolean {
    return this.reading && !this.stopping;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private waitForWork(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async read(): Promise<void> {
    while (this.active) {
      try {
        await this.ensureConsumer();
        const consumer = await this.options.nats.jetstream().consumers.get(this.stream, AUDIT_CONSUMER);
        this.ackEachMessage = (await consumer.info(true)).config.ack_policy !== AckPolicy.All;
        this.messages = await consumer.consume({ max_messages: this.maxBatch });
        if (!this.active) this.messages.stop();
        let received = 0;
        for await (const message of this.messages) {
          this.accept(message);
          if (++received % READ_YIELD_EVERY === 0) await yieldToEventLoop();
        }
        if (this.active) await sleep(RETRY_MAX_MS);
      } catch (error) {
        if (!this.active) break;
        this.options.logger.warn({ err: error, stream: this.stream }, 'audit consumer lost its subscription');
        await sleep(RETRY_MAX_MS);
      }
    }
  }

  /**
   * Creates, upgrades or rewinds the durable consumer to deliver from the first sequence not yet in the trail.
   * @returns whether the consumer was recreated, so a subscription to the old one must be renewed
   */
  private async ensureConsumer(): Promise<boolean> {
    const setup = await ensureAuditConsumer(this.options.nats, this.options.subjectPrefix, {
      appliedPosition: () => this.options.store.appliedPosition(),
      ackWaitMs: this.options.ackWaitMs,
    });
    if (setup.action === 'rewound') {
      this.options.logger.warn(
        { stream: this.stream, ackFloor: setup.ackFloor, nextSequence: setup.nextSequence },
        'the audit consumer had acknowledged events the audit database does not hold (restored, emptied or a new ' +
          'database); recreated it to deliver from the applied position + 1',
      );
    } else if (setup.action !== 'kept') {
      this.options.logger.info(
        { stream: this.stream, nextSequence: setup.nextSequence },
        `audit consumer ${setup.action}`,
      );
    }
    return setup.action !== 'kept';
  }

  /**
   * While the trail waits for sequences (a lasting gap) or sees nothing new, asks now and then whether the durable
   * consumer can still deliver what the trail lacks: if the audit database was restored or emptied under a running
   * instance, the consumer counts those sequences as acknowledged and the server would never send them again.
   */
  private async renewConsumerIfStuck(): Promise<boolean> {
    if (Date.now() - this.lastConsumerCheckAt < CONSUMER_CHECK_MS) return false;
    this.lastConsumerCheckAt = Date.now();
    if (!(await this.ensureConsumer())) return false;
    // Messages of the replaced consumer cannot be acknowledged any more; the new one delivers them again.
    this.held.clear();
    this.messages?.stop();
    return true;
  }

  private accept(message: JsMsg): void {
    if (!this.active) return; // delivered while the subscription closes: redelivered after the ack wait
    const streamed = streamedEventOf(message);
    if (streamed.rejection) {
      this.options.logger.error(
        { sequence: streamed.sequence, reason: streamed.rejection.message },
        'skipping a SECRETS_EVENTS message that breaks the event contract',
      );
      this.options.metrics?.rejected();
    }
    // A redelivery replaces the earlier delivery: its ack is the one the server now waits for.
    this.held.set(streamed.sequence, { message, streamed, receivedAt: Date.now() });
    this.notify();
  }

  private async applyLoop(): Promise<void> {
    let retryMs = RETRY_MIN_MS;
    let skipMissingThrough = 0;
    while (this.active) {
      if (this.held.size === 0) {
        await this.waitForWork(RETRY_MAX_MS);
        if (this.active && this.held.size === 0) await this.renewConsumerIfStuck().catch(() => false);
        continue;
      }
      const batch = [...this.held.values()].sort((a, b) => a.streamed.sequence - b.streamed.sequence);
      batch.length = Math.min(batch.length, this.maxBatch);
      try {
        const outcome = await this.options.store.apply(
          batch.map((h) => h.streamed),
          { skipMissingThrough },
        );
        retryMs = RETRY_MIN_MS;
        if (outcome.kind === 'applied') {
          this.acknowledgeThrough(outcome.appliedThrough, outcome.records.length, outcome.lastOccurredAt);
          continue;
        }
        const gapEnd = await this.deletedRunEnd(outcome.missingFrom, outcome.missingTo);
        if (gapEnd !== undefined) {
          skipMissingThrough = gapEnd;
          continue;
        }
        if (this.stoppedAt !== undefined) {
          this.handBackStale();
          await this.waitForWork(GAP_POLL_MS);
          continue;
        }
        if (await this.renewConsumerIfStuck()) continue;
        this.handBackStale();
        await this.waitForWork(GAP_RETRY_MS);
      } catch (error) {
        this.options.logger.error({ err: error }, 'applying secrets events to the audit trail failed; retrying');
        this.handBackStale();
        await this.waitForWork(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  /**
   * Decides what to do about sequences missing after the applied position. Still in the stream (a redelivery on its
   * way): undefined, wait. Deleted from the stream: the trail would silently lose an event, so the applier stops —
   * an error in the log, `audit_stream_gap_missing_sequences`, `/readyz` not ready (the gap is recorded in
   * `audit.stream_gaps`, which every instance's readiness reads) — until ops acknowledge that exact gap; then the
   * end of the gap, to move past it.
   */
  private async deletedRunEnd(missingFrom: number, missingTo: number): Promise<number | undefined> {
    const known = this.stoppedAt;
    // Already stopped here: only an acknowledgement can move the applier on; no need to ask the stream again.
    if (known === undefined || known.fromSequence !== missingFrom) {
      if (!(await goneFromStream(this.requireManager(), this.stream, missingFrom, missingTo))) return undefined;
    }
    const gap = await this.options.store.recordStreamGap(missingFrom, known?.toSequence ?? missingTo);
    if (gap.acknowledgedAt !== undefined) {
      this.options.logger.warn(
        { from: gap.fromSequence, to: gap.toSequence, acknowledgedBy: gap.acknowledgedBy },
        'moving past SECRETS_EVENTS sequences deleted from the stream, as ops acknowledged',
      );
      this.stoppedAt = undefined;
      this.options.metrics?.streamGap(0);
      return gap.toSequence;
    }
    if (known?.fromSequence !== gap.fromSequence) {
      this.options.logger.error(
        { from: gap.fromSequence, to: gap.toSequence, stream: this.stream },
        'SECRETS_EVENTS sequences were deleted from the stream: the audit trail stops here until ops acknowledge ' +
          `the gap (secrets audit acknowledge-gap ${gap.fromSequence} ${gap.toSequence} --by WHO)`,
      );
      this.options.metrics?.streamGap(gap.toSequence - gap.fromSequence + 1);
    }
    this.stoppedAt = gap;
    return undefined;
  }

  /** One ack for the highest applied message acknowledges all before it (AckPolicy.All). */
  private acknowledgeThrough(appliedThrough: number, records: number, lastOccurredAt: Date | undefined): void {
    let highest: HeldMessage | undefined;
    for (const [sequence, held] of this.held) {
      if (sequence > appliedThrough) continue;
      if (this.ackEachMessage) held.message.ack();
      if (highest === undefined || sequence > highest.streamed.sequence) highest = held;
      this.held.delete(sequence);
    }
    if (highest !== undefined && !this.ackEachMessage) highest.message.ack();
    this.options.metrics?.applied(records, lastOccurredAt, appliedThrough);
  }

  /** Messages stuck behind a missing sequence for too long go back to the server, so delivery order can recover. */
  private handBackStale(): void {
    const oldest = Math.min(...[...this.held.values()].map((h) => h.receivedAt));
    if (Date.now() - oldest < this.holdLimitMs) return;
    for (const { message } of this.held.values()) this.handBack(message);
    this.held.clear();
  }

  private requireManager(): JetStreamManager {
    if (!this.manager) throw new Error('the audit consumer has not started');
    return this.manager;
  }
}
