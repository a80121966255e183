import { type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { connectionInbox } from '@platform/messaging';

/** Why LOGS did not confirm a publish; the raw message is handed back for redelivery. */
export class PublishNotConfirmed extends Error {
  override readonly name = 'PublishNotConfirmed';
}

interface Pending {
  readonly sentAt: number;
  resolve(): void;
  reject(error: PublishNotConfirmed): void;
}

const SWEEP_EVERY_MS = 500;
const decoder = new TextDecoder();

/**
 * Publishes to JetStream with every PubAck arriving on one wildcard inbox, instead of one request (timer, promise,
 * reply subscription entry) per message: the asynchronous publish of the Go client, about five times the
 * throughput of `jetstream().publish` here. A publish is confirmed only by a PubAck without error.
 */
export class LogsPublisher {
  /** Under the connection's inbox prefix: a NATS user may subscribe only to its own inboxes. */
  private readonly inbox: string;
  private readonly pending = new Map<number, Pending>();
  private subscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private nextId = 0;

  constructor(
    private readonly nats: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.inbox = connectionInbox(nats);
  }

  start(): void {
    this.subscription = this.nats.subscribe(`${this.inbox}.*`, {
      callback: (error, message) => {
        if (error) return;
        const id = Number(message.subject.slice(this.inbox.length + 1));
        const entry = this.pending.get(id);
        if (!entry) return;
        this.pending.delete(id);
        const failure = pubAckFailure(message.headers, message.data);
        if (failure) entry.reject(new PublishNotConfirmed(failure));
        else entry.resolve();
      },
    });
    this.sweeper = setInterval(() => this.expire(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.subscription?.unsubscribe();
    this.expire(Infinity);
  }

  /** Resolves once the stream stored the message (or already had it under the same `Nats-Msg-Id`). */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, messageId: string): Promise<void> {
    const id = this.nextId++;
    headers.set('Nats-Msg-Id', messageId);
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { sentAt: Date.now(), resolve, reject });
      try {
        this.nats.publish(subject, data, { headers, reply: `${this.inbox}.${id}` });
      } catch (error) {
        this.pending.delete(id);
        reject(new PublishNotConfirmed(`publish failed: ${(error as Error).message}`));
      }
    });
  }

  private expire(olderThanMs = this.timeoutMs): void {
    const cutoff = Date.now() - olderThanMs;
    for (const [id, entry] of this.pending) {
      // Entries are in send order; the first young one ends the sweep.
      if (olderThanMs !== Infinity && entry.sentAt > cutoff) break;
      this.pending.delete(id);
      entry.reject(new PublishNotConfirmed('no PubAck in time'));
    }
  }
}

/** The reason a reply is not a successful PubAck, or undefined when it is one. */
export function pubAckFailure(headers: MsgHdrs | undefined, data: Uint8Array): string | undefined {
  if (headers?.hasError || (headers && headers.code >= 300)) return `status ${headers.code}`;
  try {
    const ack = JSON.parse(decoder.decode(data)) as { stream?: unknown; error?: { code?: unknown } };
    if (ack.error) return `JetStream error ${String(ack.error.code)}`;
    if (typeof ack.stream !== 'string' || ack.stream === '') return 'not a PubAck';
    return undefined;
  } catch {
    return 'not a PubAck';
  }
}
