import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
  type NatsConnection,
  nanos,
} from 'nats';
import { type Logger } from 'pino';
import { type RedactionMatcher } from '@platform/redaction';
import { prefixedStreamName } from '@platform/messaging';
import { type ScopeMatchers, scopeKey } from '../matchers/scope-matchers';
import { type SeenReference } from '../exposure/exposure-attribution';
import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';
import { type RedactionMetrics } from '../redaction.metrics';
import { LogsPublisher } from './logs-publisher';
import { type LogSource, MAX_LOG_MESSAGE_BYTES, logSourceOf, redactedHeaders, redactedMessageId } from './log-message';

/** The durable pull consumer on LOGS_RAW that every redaction instance shares (work-queue: each line to one). */
export const RAW_LOG_CONSUMER = 'redaction';

export interface RawLogConsumerOptions {
  readonly nats: NatsConnection;
  readonly subjectPrefix: string;
  readonly matchers: ScopeMatchers;
  readonly metrics: RedactionMetrics;
  readonly logger: Logger;
  /**
   * How long a raw line rests in LOGS_RAW before it is redacted, so that the change event of a secret written just
   * before the line has arrived and invalidated the matcher. 0 redacts at once.
   */
  readonly settleMs: number;
  /** Resolves once the matchers reflect every change already in SECRETS_EVENTS; a batch waits for it (throws: nak). */
  readonly changesApplied: () => Promise<void>;
  /** Messages taken from the buffer and redacted together. */
  readonly batchSize?: number;
  /** Publishes to LOGS awaiting their PubAck at once. */
  readonly maxInFlight?: number;
  /** Told which secret versions each masked message showed, for exposure reports; none when absent. */
  readonly exposures?: { seen(source: LogSource, references: readonly SeenReference[]): void };
}

/** Unacknowledged messages the server hands this consumer (all instances together): the prefetch and settle buffer. */
const MAX_ACK_PENDING = 20_000;
const PULL_BATCH = 2_000;
const ACK_WAIT_MS = 60_000;
const PUBLISH_TIMEOUT_MS = 10_000;
/** Redelivery delay after LOGS did not confirm a publish. */
const PUBLISH_RETRY_MS = 1_000;
/** Shortest redelivery delay for a scope without a matcher. */
const MATCHER_RETRY_MIN_MS = 250;
const RESUBSCRIBE_MS = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Bounds the publishes awaiting a PubAck; once full, waits until half have been confirmed, then refills at once. */
class InFlightLimit {
  private active = 0;
  private waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Synchronous when there is room, so a batch's publishes leave in one socket write rather than one each. */
  tryAcquire(): boolean {
    if (this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  room(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    this.active--;
    if (this.active > this.limit / 2 || this.waiting.length === 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  async drained(): Promise<void> {
    while (this.active > 0) await sleep(5);
  }
}

interface Routed {
  readonly message: JsMsg;
  readonly source: LogSource;
}

/**
 * Redacts LOGS_RAW into LOGS (ARCHITECTURE.md §8). Each raw message is published redacted to
 * `logs.redacted.<same tail>` and acknowledged only after LOGS confirmed it; a scope without a matcher keeps its
 * messages unpublished and unacknowledged (negative ack with a delay), so nothing unredacted is stored and
 * nothing is lost. Messages are redacted in batches and published concurrently, in arrival order.
 */
export class RawLogConsumer {
  private readonly stream: string;
  private readonly batchSize: number;
  private readonly inFlight: InFlightLimit;
  private readonly buffer: JsMsg[] = [];
  /** When each buffered message will have rested `settleMs` (epoch ms), read once on arrival: `info` parses the reply subject on every access. */
  private readonly settlesAt: number[] = [];
  private readonly js: JetStreamClient;
  private readonly publisher: LogsPublisher;
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  private consuming = false;
  private wake: (() => void) | undefined;
  /** Ends the wait for the oldest message to settle, so stopping does not wait out the settle time. */
  private endSettleWait: (() => void) | undefined;
  private reading: Promise<void> | undefined;
  private redacting: Promise<void> | undefined;

  constructor(private readonly options: RawLogConsumerOptions) {
    this.stream = prefixedStreamName(options.subjectPrefix, 'LOGS_RAW');
    this.batchSize = options.batchSize ?? 500;
    this.inFlight = new InFlightLimit(options.maxInFlight ?? 4_000);
    this.js = options.nats.jetstream();
    this.publisher = new LogsPublisher(options.nats, PUBLISH_TIMEOUT_MS);
  }

  async start(): Promise<void> {
    // Nothing is started before the last step that can fail, so a failed start can simply be tried again.
    await this.ensureConsumer();
    await this.subscribe();
    this.publisher.start();
    this.reading = this.keepSubscribed();
    this.redacting = this.redactLoop();
  }

  /** Stops pulling, finishes the batch in hand, waits for its PubAcks and hands the rest back for redelivery. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    this.notify();
    this.endSettleWait?.();
    await Promise.all([this.reading, this.redacting]);
    await this.inFlight.drained();
    this.publisher.stop();
    this.settlesAt.length = 0;
    for (const message of this.buffer.splice(0)) message.nak();
  }

  isConsuming(): boolean {
    return this.consuming;
  }

  private async ensureConsumer(): Promise<void> {
    const manager = await this.options.nats.jetstreamManager();
    const config: Partial<ConsumerConfig> = {
      durable_name: RAW_LOG_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: MAX_ACK_PENDING,
      // Fail closed means waiting as long as it takes: a line is never dropped for having been retried.
      max_deliver: -1,
    };
    try {
      await manager.consumers.add(this.stream, config);
    } catch (error) {
      if (!/already (exists|in use)/i.test(String((error as Error).message))) throw error;
      await manager.consumers.update(this.stream, RAW_LOG_CONSUMER, config);
    }
  }

  private async subscribe(): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(this.stream, RAW_LOG_CONSUMER);
    const messages = await consumer.consume({
      max_messages: PULL_BATCH,
      callback: (message) => {
        this.buffer.push(message);
        this.settlesAt.push(this.settleTimeOf(message));
        this.notify();
      },
    });
    this.messages = messages;
    this.consuming = true;
    return messages;
  }

  private async keepSubscribed(): Promise<void> {
    while (!this.stopping) {
      try {
        const messages = this.messages ?? (await this.subscribe());
        await messages.closed();
      } catch (error) {
        if (!this.stopping) this.options.logger.warn({ err: error }, 'lost the LOGS_RAW subscription; resubscribing');
      }
      this.messages = undefined;
      this.consuming = false;
      if (this.stopping) break;
      await sleep(RESUBSCRIBE_MS);
      await this.ensureConsumer().catch(() => undefined);
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async redactLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.buffer.length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const batch = this.takeSettled();
      if (batch.length === 0) {
        await this.settleWait(this.settlesAt[0] - Date.now());
        continue;
      }
      try {
        await this.redactBatch(batch);
      } catch (error) {
        // Not expected; the batch goes back rather than being lost or published half-redacted.
        this.options.logger.error({ err: error }, 'redacting a batch of raw log messages failed');
        for (const message of batch) message.nak(PUBLISH_RETRY_MS);
      }
    }
  }

  private settleWait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endSettleWait?.(), ms);
      this.endSettleWait = () => {
        clearTimeout(timer);
        this.endSettleWait = undefined;
        resolve();
      };
    });
  }

  /** Up to one batch of the messages that have rested `settleMs` in LOGS_RAW, in arrival order. */
  private takeSettled(): JsMsg[] {
    let settled = 0;
    const limit = Math.min(this.batchSize, this.buffer.length);
    const now = Date.now();
    while (settled < limit && this.settlesAt[settled] <= now) settled++;
    this.settlesAt.splice(0, settled);
    return this.buffer.splice(0, settled);
  }

  /** When `message` will have rested `settleMs` in LOGS_RAW; never later than `settleMs` from now, whatever the clocks say. */
  private settleTimeOf(message: JsMsg): number {
    const { settleMs } = this.options;
    if (settleMs <= 0) return 0;
    const now = Date.now();
    return now + Math.min(settleMs, message.info.timestampNanos / 1e6 + settleMs - now);
  }

  private async redactBatch(batch: readonly JsMsg[]): Promise<void> {
    const { metrics } = this.options;
    const routed: Routed[] = [];
    for (const message of batch) {
      metrics.received(message.data.length);
      if (message.data.length > MAX_LOG_MESSAGE_BYTES) {
        this.reject(message, 'too_large');
        continue;
      }
      const source = logSourceOf(message.subject, this.options.subjectPrefix);
      if (!source) {
        this.reject(message, 'invalid_subject');
        continue;
      }
      routed.push({ message, source });
    }
    await this.options.changesApplied();
    const matchers = await this.matchersOf(routed);
    for (const { message, source } of routed) {
      const matcher = matchers.get(scopeKey(source.scope));
      if (matcher instanceof RedactionServiceError) {
        metrics.deferredMessage('matcher_unavailable');
        message.nak(Math.max(MATCHER_RETRY_MIN_MS, matcher.retryAfterMs));
        continue;
      }
      if (matcher === undefined) throw new Error('a routed scope has no matcher entry');
      while (!this.inFlight.tryAcquire()) await this.inFlight.room();
      this.publish(message, source, matcher);
    }
  }

  /** The matcher of every scope in the batch, or why there is none; built concurrently, counted while awaited. */
  private async matchersOf(routed: readonly Routed[]): Promise<Map<string, RedactionMatcher | RedactionServiceError>> {
    const { matchers, metrics, logger } = this.options;
    const found = new Map<string, RedactionMatcher | RedactionServiceError>();
    const pending = new Map<string, { scope: LogSource['scope']; waiting: number }>();
    for (const { source } of routed) {
      const key = scopeKey(source.scope);
      if (found.has(key)) continue;
      const awaited = pending.get(key);
      if (awaited) {
        awaited.waiting++;
        continue;
      }
      const current = matchers.peek(source.scope);
      if (current) found.set(key, current);
      else pending.set(key, { scope: source.scope, waiting: 1 });
    }
    if (pending.size === 0) return found;
    const waiting = [...pending.values()].reduce((sum, p) => sum + p.waiting, 0);
    metrics.waitingOnMatcher(waiting);
    try {
      await Promise.all(
        [...pending].map(async ([key, { scope }]) => {
          try {
            found.set(key, await matchers.matcherFor(scope));
          } catch (error) {
            if (error instanceof RedactionServiceError) {
              found.set(key, error);
              return;
            }
            logger.error({ err: error, scope: key }, 'unexpected failure getting a matcher');
            found.set(key, new RedactionServiceError(RedactionServiceErrorCode.MATCHER_UNAVAILABLE, 'unexpected'));
          }
        }),
      );
    } finally {
      metrics.waitingOnMatcher(-waiting);
    }
    return found;
  }

  private reject(message: JsMsg, reason: 'too_large' | 'invalid_subject'): void {
    this.options.metrics.rejectedMessage(reason);
    this.options.logger.warn(
      { reason, sequence: message.info.streamSequence, bytes: message.data.length },
      'terminated a raw log message that cannot be redacted',
    );
    message.term();
  }

  private publish(message: JsMsg, source: LogSource, matcher: RedactionMatcher): void {
    const { metrics, exposures } = this.options;
    const attribution = exposures && this.options.matchers.attributionOf(matcher);
    const seen: SeenReference[] = [];
    const body = matcher.redactBytes(message.data);
    if (attribution && body.count > 0) seen.push(...attribution.attribute(message.data, body.spans));
    const { headers, count } = redactedHeaders(message.headers, body.count, (text) => {
      if (!attribution) return matcher.redactText(text);
      const bytes = Buffer.from(text, 'utf8');
      const redacted = matcher.redactBytes(bytes);
      if (redacted.count === 0) return { output: text, count: 0 };
      seen.push(...attribution.attribute(bytes, redacted.spans));
      return { output: Buffer.from(redacted.output).toString('utf8'), count: redacted.count };
    });
    if (seen.length > 0) exposures?.seen(source, distinct(seen));
    const sequence = message.info.streamSequence;
    this.publisher
      .publish(source.redactedSubject, body.output, headers, redactedMessageId(sequence))
      .then(
        () => {
          message.ack();
          metrics.stored(body.output.length, count);
        },
        (error: unknown) => {
          metrics.deferredMessage('publish_failed');
          this.options.logger.warn(
            { err: error, sequence },
            'LOGS did not confirm a redacted message; it will be redelivered',
          );
          message.nak(PUBLISH_RETRY_MS);
        },
      )
      .finally(() => this.inFlight.release());
  }
}

/** Each secret version once per message: a line counts once however often it shows the value. */
function distinct(references: readonly SeenReference[]): SeenReference[] {
  const byId = new Map<string, SeenReference>();
  for (const reference of references) byId.set(`${reference.scope}/${reference.key}/${reference.version}`, reference);
  return [...byId.values()];
}
