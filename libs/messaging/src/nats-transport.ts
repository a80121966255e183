import {
  type ConsumerDeserializer,
  type IncomingRequest,
  type NatsContext,
  type Serializer,
  ServerNats,
} from '@nestjs/microservices';
import { type Msg, type MsgHdrs, type NatsConnection, type Subscription, headers as natsHeaders } from 'nats';
import { INTERNAL_ERROR, type WireError, isWireError, statusOf } from './errors';
import { type RequestMetrics } from './request-metrics';
import { confirmSubscriptions } from './required-subscription';

export const ERROR_CODE_HEADER = 'Nats-Service-Error-Code';
export const ERROR_MESSAGE_HEADER = 'Nats-Service-Error';

/**
 * Hands handlers the raw request bytes: no Nest `{pattern, data, id}` envelope on the wire.
 * A message with a reply subject is a request (its reply subject serves as the packet id); without one it is an event.
 */
export class RawRequestDeserializer implements ConsumerDeserializer {
  deserialize(value: Uint8Array, options?: { channel?: string; replyTo?: string }): IncomingRequest {
    return { pattern: options?.channel ?? '', data: value, id: options?.replyTo || (undefined as unknown as string) };
  }
}

interface OutgoingPacket {
  readonly response?: unknown;
  readonly err?: unknown;
}

const encoder = new TextEncoder();

/** Header values cannot carry line breaks; keep them one short line. */
function headerSafe(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 512);
}

export function encodeErrorReply(error: WireError): { data: Uint8Array; headers: MsgHdrs } {
  const headers = natsHeaders();
  headers.set(ERROR_CODE_HEADER, String(statusOf(error.code)));
  headers.set(ERROR_MESSAGE_HEADER, headerSafe(error.message));
  return { data: encoder.encode(JSON.stringify({ error })), headers };
}

/** Room left in a message for the reply's headers. */
const REPLY_HEADER_ROOM_BYTES = 1024;

/** A reply as sent, with its code (`OK` or the wire error's) for the request metrics. */
export interface SerializedReply {
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
  readonly code: string;
}

/**
 * Replies are the plain JSON of the response, or the error envelope with the NATS service error headers. A reply
 * larger than the server's max_payload cannot be published (the publish throws, outside any handler, and the caller
 * would only time out), so it is answered with PAYLOAD_TOO_LARGE instead.
 */
export class JsonReplySerializer implements Serializer<OutgoingPacket, SerializedReply> {
  constructor(private readonly maxPayloadBytes: () => number = () => Infinity) {}

  serialize(packet: OutgoingPacket): SerializedReply {
    if (packet.err !== undefined) return errorReply(isWireError(packet.err) ? packet.err : INTERNAL_ERROR);
    const data = encoder.encode(JSON.stringify(packet.response ?? {}));
    const limit = this.maxPayloadBytes() - REPLY_HEADER_ROOM_BYTES;
    if (data.byteLength > limit) {
      return errorReply({
        code: 'PAYLOAD_TOO_LARGE',
        message: `the reply is ${data.byteLength} bytes, more than the ${limit} bytes a NATS message can carry here`,
        details: { sizeBytes: data.byteLength, limitBytes: limit },
      });
    }
    return { data, code: 'OK' };
  }
}

function errorReply(error: WireError): SerializedReply {
  return { ...encodeErrorReply(error), code: error.code };
}

/**
 * Whether a request's reply subject is a caller's inbox. Anything else (`secrets.events.<org>.X`, `logs.redacted.…`,
 * `$JS.API.…`, or none) would make the service publish where a stream or the server acts on it.
 */
export function isInboxReply(reply: string | undefined, replyPrefixes: readonly string[]): boolean {
  return (
    reply !== undefined && replyPrefixes.some((prefix) => reply.startsWith(prefix) && reply.length > prefix.length)
  );
}

/** A request dropped before any handler ran, with why. */
export interface DroppedRequest {
  readonly subject: string;
  /** The reply subject named, cut to 128 characters; absent when there was none. */
  readonly reply?: string;
  readonly reason: 'reply_subject';
}

export interface PlatformNatsServerOptions {
  /** The service's shared connection (also used for JetStream and outgoing requests). */
  readonly connection: NatsConnection;
  /** Queue group: the service name, so instances share the load. */
  readonly queue: string;
  /** Prepended to every subject the service listens on (`NATS_SUBJECT_PREFIX`). */
  readonly subjectPrefix: string;
  /** Reply subjects a request may name (`NATS_REPLY_PREFIXES`); other requests are dropped unanswered. */
  readonly replyPrefixes: readonly string[];
  /** Told of each dropped request (never its body). */
  readonly onDropped: (dropped: DroppedRequest) => void;
  /** Counts and times each request answered, by its handler's subject and the reply's code. */
  readonly requests?: RequestMetrics;
}

/**
 * Nest's NATS transport over a shared connection, with the subject prefix applied to every subscription, answering
 * only requests whose reply subject is an inbox.
 */
export class PlatformNatsServer extends ServerNats {
  private readonly handlerSubscriptions: Subscription[] = [];
  /** The handler subject (without the prefix) of each request in flight, for its metrics. */
  private readonly channels = new WeakMap<Msg, string>();

  constructor(private readonly platform: PlatformNatsServerOptions) {
    super({
      queue: platform.queue,
      serializer: new JsonReplySerializer(() => platform.connection.info?.max_payload ?? Infinity),
      deserializer: new RawRequestDeserializer(),
    });
  }

  override createNatsClient(): Promise<NatsConnection> {
    return Promise.resolve(this.platform.connection);
  }

  override bindEvents(client: NatsConnection): void {
    const prefix = this.platform.subjectPrefix;
    const prefixed = Object.create(client) as NatsConnection;
    prefixed.subscribe = (subject, options) => {
      const subscription = client.subscribe(prefix + subject, options);
      this.handlerSubscriptions.push(subscription);
      return subscription;
    };
    super.bindEvents(prefixed);
  }

  /** Throws SubscriptionRefused when the server refused any handler's subject: the service must not start deaf. */
  confirmSubscribed(): Promise<void> {
    return confirmSubscriptions(this.platform.connection, this.handlerSubscriptions);
  }

  /** Answers only into inboxes: a request with any other reply subject runs nothing and gets no reply. */
  override handleMessage(channel: string, message: Msg): Promise<unknown> {
    if (!isInboxReply(message.reply || undefined, this.platform.replyPrefixes)) {
      const reply = message.reply ? message.reply.slice(0, 128) : undefined;
      this.platform.onDropped({ subject: message.subject, reply, reason: 'reply_subject' });
      return Promise.resolve();
    }
    this.channels.set(message, channel);
    return super.handleMessage(channel, message);
  }

  /** Nest's publisher, counting the request by the code of the reply it sends (the first: Nest may send a second). */
  override getPublisher(message: Msg, id: string, context: NatsContext): (response: OutgoingPacket) => unknown {
    const channel = this.channels.get(message);
    if (!message.reply || channel === undefined) return super.getPublisher(message, id, context);
    const counted = this.platform.requests?.start(channel);
    return (response) => {
      const reply = this.serializer.serialize({ ...response, id }) as SerializedReply;
      counted?.(reply.code);
      this.onProcessingEndHook?.(this.transportId, context);
      return message.respond(reply.data, { headers: reply.headers });
    };
  }

  /** The shared connection is closed by its owner, after the HTTP server and the consumers. */
  override async close(): Promise<void> {}
}
