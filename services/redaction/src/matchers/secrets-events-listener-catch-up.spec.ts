// Regression test for b7a7805: a batch of log lines may only be redacted once the SECRETS_EVENTS listener has applied
// every change already in the stream. NATS serves the log consumer and this listener separately, so under load the
// listener can be behind; `caughtUp` must then hold the batch back (and fail, so it is handed back) until it is not.
import { type JsMsg, type NatsConnection } from 'nats';
import { type Logger } from 'pino';
import { type ScopeMatchers } from './scope-matchers';
import { SecretsEventsListener } from './secrets-events-listener';

/** The listener's deliveries, released by the test one by one: a listener as far behind as the test wants. */
class HeldBackDeliveries implements AsyncIterable<JsMsg> {
  private readonly queue: JsMsg[] = [];
  private wake: (() => void) | undefined;
  private stopped = false;

  deliver(seq: number, event: Record<string, unknown>): void {
    this.queue.push({ seq, data: Buffer.from(JSON.stringify(event)) } as unknown as JsMsg);
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JsMsg> {
    while (!this.stopped) {
      const next = this.queue.shift();
      if (next) yield next;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

function fakeNats(stream: { lastSeq: number }, deliveries: HeldBackDeliveries): NatsConnection {
  return {
    jetstreamManager: async () => ({ streams: { info: async () => ({ state: { last_seq: stream.lastSeq } }) } }),
    jetstream: () => ({ consumers: { get: async () => ({ consume: async () => deliveries }) } }),
  } as unknown as NatsConnection;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SecretsEventsListener.caughtUp (a listener behind the stream)', () => {
  const stream = { lastSeq: 3 };
  let deliveries: HeldBackDeliveries;
  let invalidated: string[];
  let listener: SecretsEventsListener;

  beforeEach(async () => {
    stream.lastSeq = 3;
    deliveries = new HeldBackDeliveries();
    invalidated = [];
    const matchers = {
      invalidateScope: (org: string, customer: string) => invalidated.push(`${org}/${customer}`),
      invalidateOrganization: (org: string) => invalidated.push(org),
      invalidateAll: () => invalidated.push('*'),
    } as unknown as ScopeMatchers;
    const logger = { warn: () => undefined } as unknown as Logger;
    listener = new SecretsEventsListener(fakeNats(stream, deliveries), 't1.', matchers, logger);
    await listener.start();
  });

  afterEach(() => listener.stop());

  it('is caught up when nothing was stored since it subscribed', async () => {
    await expect(listener.caughtUp(50)).resolves.toBeUndefined();
  });

  it('refuses while changes stored in the stream have not reached it, and passes once they are applied', async () => {
    // Two changes stored; NATS has not delivered them to the listener yet.
    stream.lastSeq = 5;
    await expect(listener.caughtUp(30)).rejects.toThrow(/behind the stream/);
    deliveries.deliver(4, { type: 'SecretValueUpdated', organizationId: 'acme', customerOrganizationId: 'globex' });
    await settle();
    await expect(listener.caughtUp(30)).rejects.toThrow(/behind the stream/);
    deliveries.deliver(5, { type: 'SecretCreated', organizationId: 'acme' });
    await settle();
    await expect(listener.caughtUp(30)).resolves.toBeUndefined();
    expect(invalidated).toEqual(['acme/globex', 'acme']);
  });

  it('waits for a late change and resolves only after the matchers it touches were invalidated', async () => {
    stream.lastSeq = 4;
    const order: string[] = [];
    const waiting = listener.caughtUp(2_000).then(() => order.push(`caught up after ${invalidated.join(',')}`));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]);
    deliveries.deliver(4, { type: 'SecretValueUpdated', organizationId: 'acme', customerOrganizationId: 'hooli' });
    await waiting;
    expect(order).toEqual(['caught up after acme/hooli']);
  });
});
