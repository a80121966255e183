import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { LogsPublisher, PublishNotConfirmed, pubAckFailure } from './logs-publisher';

const encode = (text: string) => Buffer.from(text, 'utf8');

interface Sent {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  readonly reply: string;
}

/** The two calls LogsPublisher makes on a connection: one wildcard inbox subscription, and plain publishes. */
class FakeConnection {
  readonly options = { inboxPrefix: '_INBOX_redaction' };
  readonly sent: Sent[] = [];
  subscribedTo: string | undefined;
  unsubscribed = false;
  failPublish = false;
  private deliver: ((error: Error | null, message: Msg) => void) | undefined;

  subscribe(subject: string, options: { callback: (error: Error | null, message: Msg) => void }) {
    this.subscribedTo = subject;
    this.deliver = options.callback;
    return { unsubscribe: () => (this.unsubscribed = true) };
  }

  publish(subject: string, data: Uint8Array, options: { headers: MsgHdrs; reply: string }): void {
    if (this.failPublish) throw new Error('connection closed');
    this.sent.push({ subject, data, ...options });
  }

  /** The server's answer to the `index`-th publish. */
  reply(index: number, data: string, headers?: MsgHdrs): void {
    this.deliver?.(null, { subject: this.sent[index].reply, data: encode(data), headers } as unknown as Msg);
  }

  asConnection(): NatsConnection {
    return this as unknown as NatsConnection;
  }
}

const PUB_ACK = '{"stream":"LOGS","seq":7}';

function setup(timeoutMs = 10_000) {
  const connection = new FakeConnection();
  const publisher = new LogsPublisher(connection.asConnection(), timeoutMs);
  publisher.start();
  return { connection, publisher };
}

/** Watches a publish from the start: `outcome()` reads 'confirmed', the rejection, or 'pending' once I/O has run. */
function watch(promise: Promise<void>): { outcome(): Promise<string> } {
  let state = 'pending';
  promise.then(
    () => (state = 'confirmed'),
    (error: Error) => (state = `${error.name}: ${error.message}`),
  );
  return { outcome: () => new Promise<string>((resolve) => setImmediate(() => resolve(state))) };
}

describe('LogsPublisher', () => {
  it('publishes with a reply on its own inbox and the message id, and confirms only on the PubAck', async () => {
    const { connection, publisher } = setup();
    const confirmed = watch(
      publisher.publish('logs.redacted.acme._.web', encode('line'), natsHeaders(), 'logs-raw-42'),
    );
    expect(connection.subscribedTo).toMatch(/^_INBOX_redaction\.[^.]+\.\*$/);
    expect(connection.sent).toHaveLength(1);
    expect(connection.sent[0].subject).toBe('logs.redacted.acme._.web');
    expect(connection.sent[0].reply.startsWith(connection.subscribedTo!.slice(0, -1))).toBe(true);
    expect(connection.sent[0].headers.get('Nats-Msg-Id')).toBe('logs-raw-42');
    expect(await confirmed.outcome()).toBe('pending');

    connection.reply(0, PUB_ACK);
    expect(await confirmed.outcome()).toBe('confirmed');
    publisher.stop();
  });

  it('matches each PubAck to its own publish, whatever order they come back in', async () => {
    const { connection, publisher } = setup();
    const first = watch(publisher.publish('s', encode('1'), natsHeaders(), 'a'));
    const second = watch(publisher.publish('s', encode('2'), natsHeaders(), 'b'));
    connection.reply(1, PUB_ACK);
    expect([await first.outcome(), await second.outcome()]).toEqual(['pending', 'confirmed']);
    connection.reply(0, '{"error":{"code":503,"description":"no space"}}');
    expect(await first.outcome()).toBe('PublishNotConfirmed: JetStream error 503');
    publisher.stop();
  });

  it.each([
    ['a JetStream error', '{"error":{"code":10077,"description":"maximum messages exceeded"}}', undefined],
    ['a no-responders status', '', natsHeaders(503, 'No Responders')],
    ['a reply that is not a PubAck', 'hello', undefined],
  ])('rejects the publish on %s', async (_name, data, headers) => {
    const { connection, publisher } = setup();
    const confirmed = watch(publisher.publish('s', encode('x'), natsHeaders(), 'id'));
    connection.reply(0, data, headers);
    expect(await confirmed.outcome()).toMatch(/^PublishNotConfirmed: /);
    publisher.stop();
  });

  it('rejects a publish without a PubAck in time, and ignores the PubAck arriving afterwards', async () => {
    const { connection, publisher } = setup(50);
    const confirmed = watch(publisher.publish('s', encode('x'), natsHeaders(), 'id'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await confirmed.outcome()).toBe('PublishNotConfirmed: no PubAck in time');
    connection.reply(0, PUB_ACK);
    expect(await confirmed.outcome()).toBe('PublishNotConfirmed: no PubAck in time');
    publisher.stop();
  });

  it('rejects a publish the connection refuses at once', async () => {
    const { connection, publisher } = setup();
    connection.failPublish = true;
    const confirmed = watch(publisher.publish('s', encode('x'), natsHeaders(), 'id'));
    expect(await confirmed.outcome()).toBe('PublishNotConfirmed: publish failed: connection closed');
    publisher.stop();
  });

  it('rejects every unconfirmed publish when stopped, and unsubscribes', async () => {
    const { connection, publisher } = setup();
    const confirmed = watch(publisher.publish('s', encode('x'), natsHeaders(), 'id'));
    publisher.stop();
    expect(await confirmed.outcome()).toBe('PublishNotConfirmed: no PubAck in time');
    expect(connection.unsubscribed).toBe(true);
  });
});

describe('pubAckFailure', () => {
  it('accepts a PubAck naming its stream, a duplicate included', () => {
    expect(pubAckFailure(undefined, encode(PUB_ACK))).toBeUndefined();
    expect(pubAckFailure(natsHeaders(), encode('{"stream":"LOGS","seq":7,"duplicate":true}'))).toBeUndefined();
  });

  it.each([
    ['a JetStream error', undefined, '{"error":{"code":503,"err_code":10077}}', 'JetStream error 503'],
    ['a status header', natsHeaders(503, 'No Responders'), '', 'status 503'],
    ['a status header even with a PubAck body', natsHeaders(408, 'Request Timeout'), PUB_ACK, 'status 408'],
    ['a body without a stream', undefined, '{"seq":7}', 'not a PubAck'],
    ['an empty stream name', undefined, '{"stream":"","seq":7}', 'not a PubAck'],
    ['a body that is not JSON', undefined, 'OK', 'not a PubAck'],
    ['an empty body', undefined, '', 'not a PubAck'],
  ])('names %s', (_name, headers, body, reason) => {
    expect(pubAckFailure(headers, encode(body))).toBe(reason);
  });
});

it('names its failures PublishNotConfirmed', () => {
  expect(new PublishNotConfirmed('x').name).toBe('PublishNotConfirmed');
});
