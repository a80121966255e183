import { type MsgHdrs, type NatsConnection } from 'nats';
import { until } from './wait';

export interface StoredMessage {
  readonly sequence: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
}

const READ_TIMEOUT_MS = 60_000;

/** Every message stored in `stream` now, read in order with an ordered (ephemeral) consumer. */
export async function readStream(connection: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const manager = await connection.jetstreamManager();
  const { state } = await manager.streams.info(stream);
  if (state.messages === 0) return [];
  const consumer = await connection.jetstream().consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 1_000 });
  const timer = setTimeout(() => messages.stop(), READ_TIMEOUT_MS);
  const stored: StoredMessage[] = [];
  try {
    for await (const message of messages) {
      stored.push({
        sequence: message.seq,
        subject: message.subject,
        data: message.data,
        headers: message.headers,
      });
      if (message.seq >= state.last_seq) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  if (stored.length === 0 || stored[stored.length - 1].sequence < state.last_seq) {
    throw new Error(`read ${stored.length} of ${state.messages} messages of ${stream} before timing out`);
  }
  return stored;
}

/** The number of messages `stream` holds now. */
export async function streamMessageCount(connection: NatsConnection, stream: string): Promise<number> {
  const manager = await connection.jetstreamManager();
  return (await manager.streams.info(stream)).state.messages;
}

/** Once the outbox has published at least `count` events to `stream` (SECRETS_EVENTS), the event ids it holds. */
export async function publishedEventIds(connection: NatsConnection, stream: string, count: number): Promise<string[]> {
  await until(async () => (await streamMessageCount(connection, stream)) >= count, 'the outbox to publish every event');
  return (await readStream(connection, stream)).map(
    (message) => (JSON.parse(Buffer.from(message.data).toString('utf8')) as { eventId: string }).eventId,
  );
}

/** Deletes every stream whose name starts with the prefix's stream form (`t42.` → `t42_`). */
export async function deleteStreamsOf(connection: NatsConnection, subjectPrefix: string): Promise<void> {
  if (!subjectPrefix) throw new Error('refusing to delete streams without a subject prefix');
  const namePrefix = subjectPrefix.replace(/\./g, '_');
  const manager = await connection.jetstreamManager();
  const names: string[] = [];
  for await (const name of manager.streams.names()) if (name.startsWith(namePrefix)) names.push(name);
  for (const name of names) await manager.streams.delete(name);
}
