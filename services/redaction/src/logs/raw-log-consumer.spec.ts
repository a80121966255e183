import { headers as natsHeaders, type JsMsg, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import pino from 'pino';
import { Registry } from 'prom-client';
import { eventually } from '@platform/testing';
import { ScopeMatchers } from '../matchers/scope-matchers';
import { RedactionMetrics } from '../redaction.metrics';
import { MAX_LOG_MESSAGE_BYTES } from './log-message';
import { RawLogConsumer } from './raw-log-consumer';

const PUB_ACK = '{"stream":"LOGS","seq":1}';

/** A JetStream message as the consumer sees it; records what was done with it. */
class FakeRawMessage {
  readonly outcomes: string[] = [];
  readonly info: { streamSequence: number; timestampNanos: number };

  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    sequence: number,
    readonly headers?: MsgHdrs,
  ) {
    this.info = { streamSequence: sequence, timestampNanos: Date.now() * 1e6 };
  }

  ack(): void {
    this.outcomes.push('ack');
  }

  nak(delayMs?: number): void {
    this.outcomes.push(delayMs === undefined ? 'nak' : `nak ${delayMs}`);
  }

  term(): void {
    this.outcomes.push('term');
  }
}

interface Sent {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  readonly reply: string;
}

/** What RawLogConsumer and its LogsPublisher use of a connection: the durable consumer, its messages, publishes. */
class FakeJetStream {
  readonly options = { inboxPrefix: '_INBOX_redaction' };
  readonly sent: Sent[] = [];
  private deliver: ((message: JsMsg) => void) | undefined;
  private pubAcks: ((error: Error | null, message: Msg) => void) | undefined;
  private closeMessages: (() => void) | undefined;

  jetstreamManager() {
    return Promise.resolve({ consumers: { add: () => Promise.resolve({}), update: () => Promise.resolve({}) } });
  }

  jetstream() {
    const consume = (options: { callback: (message: JsMsg) => void }) => {
      this.deliver = options.callback;
      const closed = new Promise<void>((resolve) => (this.closeMessages = resolve));
      return Promise.resolve({ stop: () => this.closeMessages?.(), closed: () => closed });
    };
    return { consumers: { get: () => Promise.resolve({ consume }) } };
  }

  subscribe(_subject: string, options: { callback: (error: Error | null, message: Msg) => void }) {
    this.pubAcks = options.callback;
    return { unsubscribe: () => undefined };
  }

  publish(subject: string, data: Uint8Array, options: { headers: MsgHdrs; reply: string }): void {
    this.sent.push({ subject, data, ...options });
  }

  /** LOGS_RAW handing the consumer a message. */
  push(message: FakeRawMessage): void {
    this.deliver?.(message as unknown as JsMsg);
  }

  /** LOGS answering the `index`-th publish. */
  answer(index: number, body = PUB_ACK): void {
    const message = { subject: this.sent[index].reply, data: Buffer.from(body), headers: undefined };
    this.pubAcks?.(null, message as unknown as Msg);
  }

  asConnection(): NatsConnection {
    return this as unknown as NatsConnection;
  }
}

/** The consumer acts on fakes within milliseconds: poll often, give up soon. */
const FAKES_ACT = { timeoutMs: 2_000, intervalMs: 2 };

/** Gives the consumer's loops time to act on what they were handed, for assertions that nothing happened. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

interface SetupOptions {
  readonly secretsDown?: boolean;
  readonly settleMs?: number;
  readonly changesApplied?: () => Promise<void>;
}

async function setup(options: SetupOptions = {}) {
  const jetStream = new FakeJetStream();
  const registry = new Registry();
  const matchers = new ScopeMatchers({
    source: {
      valuesOf: async () => {
        if (options.secretsDown) throw new Error('secrets service is unavailable');
        return ['vendor-secret-1'];
      },
    },
    minLength: 4,
    maxAgeMs: 60_000,
  });
  const consumer = new RawLogConsumer({
    nats: jetStream.asConnection(),
    subjectPrefix: '',
    matchers,
    metrics: new RedactionMetrics(registry),
    logger: pino({ level: 'silent' }),
    settleMs: options.settleMs ?? 0,
    changesApplied: options.changesApplied ?? (() => Promise.resolve()),
  });
  await consumer.start();
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const found = values.find((value) => Object.entries(labels).every(([k, v]) => value.labels[k] === v));
    return found?.value ?? 0;
  };
  return { jetStream, consumer, metric };
}

describe('RawLogConsumer', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('publishes the redacted message and acknowledges the raw one only after LOGS confirmed it', async () => {
    const { jetStream, consumer, metric } = await setup();
    stop = () => consumer.stop();
    const headers = natsHeaders();
    headers.set('X-Request', 'auth=vendor-secret-1');
    headers.set('Nats-Msg-Id', 'shipper-chosen');
    const raw = new FakeRawMessage('logs.raw.acme._.web', Buffer.from('token=vendor-secret-1 ok'), 42, headers);
    jetStream.push(raw);

    await eventually('the publish', () => jetStream.sent.length === 1, FAKES_ACT);
    const [sent] = jetStream.sent;
    expect(sent.subject).toBe('logs.redacted.acme._.web');
    expect(Buffer.from(sent.data).toString()).toBe('token=******** ok');
    expect(sent.headers.get('X-Request')).toBe('auth=********');
    expect(sent.headers.get('Redacted-Count')).toBe('2');
    expect(sent.headers.get('Nats-Msg-Id')).toBe('logs-raw-42');
    await settle();
    expect(raw.outcomes).toEqual([]);

    jetStream.answer(0);
    await eventually('the ack', () => raw.outcomes.length > 0, FAKES_ACT);
    expect(raw.outcomes).toEqual(['ack']);
    expect(await metric('redaction_messages_in_total')).toBe(1);
    expect(await metric('redaction_bytes_in_total')).toBe(raw.data.length);
    expect(await metric('redaction_messages_out_total')).toBe(1);
    expect(await metric('redaction_bytes_out_total')).toBe(sent.data.length);
    expect(await metric('redaction_masks_applied_total', { path: 'stream' })).toBe(2);
  });

  it.each([
    ['a JetStream error', '{"error":{"code":503,"description":"insufficient resources"}}'],
    ['a reply that is not a PubAck', 'nope'],
  ])('hands the raw message back for redelivery when LOGS answers with %s', async (_name, reply) => {
    const { jetStream, consumer, metric } = await setup();
    stop = () => consumer.stop();
    const raw = new FakeRawMessage('logs.raw.acme._.web', Buffer.from('vendor-secret-1'), 7);
    jetStream.push(raw);
    await eventually('the publish', () => jetStream.sent.length === 1, FAKES_ACT);
    jetStream.answer(0, reply);
    await eventually('the hand-back', () => raw.outcomes.length > 0, FAKES_ACT);
    expect(raw.outcomes).toEqual(['nak 1000']);
    expect(await metric('redaction_messages_deferred_total', { reason: 'publish_failed' })).toBe(1);
    expect(await metric('redaction_messages_out_total')).toBe(0);
  });

  it('waits for the PubAck of a message in flight when it stops, then acknowledges it', async () => {
    const { jetStream, consumer } = await setup();
    const raw = new FakeRawMessage('logs.raw.acme._.web', Buffer.from('line'), 8);
    jetStream.push(raw);
    await eventually('the publish', () => jetStream.sent.length === 1, FAKES_ACT);
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    jetStream.answer(0);
    await stopping;
    expect(raw.outcomes).toEqual(['ack']);
  });

  it('terminates a message over 1 MiB without publishing it, and redacts one of exactly 1 MiB', async () => {
    const { jetStream, consumer, metric } = await setup();
    stop = () => consumer.stop();
    const tooLarge = new FakeRawMessage('logs.raw.acme._.web', Buffer.alloc(MAX_LOG_MESSAGE_BYTES + 1, 0x61), 1);
    const largest = new FakeRawMessage('logs.raw.acme._.web', Buffer.alloc(MAX_LOG_MESSAGE_BYTES, 0x61), 2);
    jetStream.push(tooLarge);
    jetStream.push(largest);
    await eventually(
      'both messages handled',
      () => tooLarge.outcomes.length > 0 && jetStream.sent.length === 1,
      FAKES_ACT,
    );
    expect(tooLarge.outcomes).toEqual(['term']);
    expect(jetStream.sent[0].headers.get('Nats-Msg-Id')).toBe('logs-raw-2');
    expect(await metric('redaction_messages_rejected_total', { reason: 'too_large' })).toBe(1);
    jetStream.answer(0);
    await eventually('the ack', () => largest.outcomes.length > 0, FAKES_ACT);
    expect(largest.outcomes).toEqual(['ack']);
  });

  it('terminates a message on a subject without a valid scope', async () => {
    const { jetStream, consumer, metric } = await setup();
    stop = () => consumer.stop();
    const raw = new FakeRawMessage('logs.raw.acme', Buffer.from('line'), 3);
    jetStream.push(raw);
    await eventually('the termination', () => raw.outcomes.length > 0, FAKES_ACT);
    expect(raw.outcomes).toEqual(['term']);
    expect(jetStream.sent).toEqual([]);
    expect(await metric('redaction_messages_rejected_total', { reason: 'invalid_subject' })).toBe(1);
  });

  it('keeps a message of a scope without a matcher unpublished, handing it back with a delay', async () => {
    const { jetStream, consumer, metric } = await setup({ secretsDown: true });
    stop = () => consumer.stop();
    const raw = new FakeRawMessage('logs.raw.acme._.web', Buffer.from('vendor-secret-1'), 4);
    jetStream.push(raw);
    await eventually('the hand-back', () => raw.outcomes.length > 0, FAKES_ACT);
    expect(raw.outcomes).toHaveLength(1);
    expect(raw.outcomes[0]).toMatch(/^nak \d+$/);
    expect(Number(raw.outcomes[0].slice(4))).toBeGreaterThanOrEqual(250);
    expect(jetStream.sent).toEqual([]);
    expect(await metric('redaction_messages_deferred_total', { reason: 'matcher_unavailable' })).toBe(1);
  });

  it('hands a batch back unpublished when the secret changes cannot be confirmed applied', async () => {
    const { jetStream, consumer } = await setup({
      changesApplied: () => Promise.reject(new Error('SECRETS_EVENTS listener is behind the stream')),
    });
    stop = () => consumer.stop();
    const raw = new FakeRawMessage('logs.raw.acme._.web', Buffer.from('vendor-secret-1'), 5);
    jetStream.push(raw);
    await eventually('the hand-back', () => raw.outcomes.length > 0, FAKES_ACT);
    expect(raw.outcomes).toEqual(['nak 1000']);
    expect(jetStream.sent).toEqual([]);
  });

  it('holds a message for the settle time; stopping meanwhile hands it back at once, unpublished', async () => {
    const { jetStream, consumer } = await setup({ settleMs: 10_000 });
    const raw = new FakeRawMessage('logs.raw.acme._.web', Buffer.from('vendor-secret-1'), 6);
    jetStream.push(raw);
    await settle();
    expect(jetStream.sent).toEqual([]);
    expect(raw.outcomes).toEqual([]);
    const stoppedAt = Date.now();
    await consumer.stop();
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect(raw.outcomes).toEqual(['nak']);
  });
});
