import { prefixedStreamName } from '@platform/messaging';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  type MsgRequest,
  type NatsConnection,
  type StoredMsg,
  nanos,
} from 'nats';
import { type AuditLagSources, type UnappliedEvent } from '../audit-lag';
import { AuditError } from '../audit.error';
import { parseAuditEvent } from '../records/audit-event';
import { type AuditStore, type StreamedEvent } from '../records/audit-store.repository';

/** The durable pull consumer every audit instance shares. */
export const AUDIT_CONSUMER = 'audit';

/** Unacknowledged messages in flight across all instances; a little above what the appliers hold at once. */
const MAX_ACK_PENDING = 10_000;
export const DEFAULT_ACK_WAIT_MS = 30_000;

export function secretsEventsStream(subjectPrefix: string): string {
  return prefixedStreamName(subjectPrefix, 'SECRETS_EVENTS');
}

/**
 * Acknowledging a message acknowledges every message before it (AckPolicy.All): the applier commits whole runs of
 * sequences, so one ack per transaction says what it must, where one ack per message capped throughput at the
 * server's ack rate. Safe with several instances: the applied position in Postgres covers every sequence up to
 * the acknowledged one, whichever instance received it.
 */
function auditConsumerConfig(startSequence: number, ackWaitMs = DEFAULT_ACK_WAIT_MS): Partial<ConsumerConfig> {
  return {
    durable_name: AUDIT_CONSUMER,
    description: 'audit trail: every secrets event, applied in stream order',
    ack_policy: AckPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
    ...(startSequence > 1
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSequence }
      : { deliver_policy: DeliverPolicy.All }),
  };
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test(String((error as Error | undefined)?.message));
}

/** What `ensureAuditConsumer` found and did. */
export type AuditConsumerSetup =
  | { readonly action: 'kept' | 'created' | 'upgraded'; readonly nextSequence: number }
  /** The consumer had acknowledged sequences the trail does not hold (database restored, emptied or replaced). */
  | { readonly action: 'rewound'; readonly nextSequence: number; readonly ackFloor: number };

/**
 * Creates the durable consumer on first start; later starts (any instance) find it and keep its position. It is
 * recreated to deliver from the applied position + 1 when it cannot deliver what the trail lacks: a consumer left by
 * an earlier release with per-message acks (the ack policy of a consumer cannot be changed), or one whose ack floor
 * is past the applied position while those messages are still in the stream (the server would never redeliver them).
 *
 * @param appliedPosition read after the consumer's state: acks follow commits, so a floor read first is never ahead
 *   of a position the applier itself reached
 */
export async function ensureAuditConsumer(
  nats: NatsConnection,
  subjectPrefix: string,
  options: { appliedPosition: () => Promise<number>; ackWaitMs?: number },
): Promise<AuditConsumerSetup> {
  const manager = await nats.jetstreamManager();
  const stream = secretsEventsStream(subjectPrefix);
  let existing: ConsumerInfo | undefined;
  try {
    existing = await manager.consumers.info(stream, AUDIT_CONSUMER);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const nextSequence = (await options.appliedPosition()) + 1;
  if (existing === undefined) {
    await manager.consumers
      .add(stream, auditConsumerConfig(nextSequence, options.ackWaitMs))
      .catch((addError: unknown) => {
        // Another instance created it meanwhile: its start is as good as ours, both come from the applied position.
        if (!/already (exists|in use)/i.test(String((addError as Error).message))) throw addError;
      });
    return { action: 'created', nextSequence };
  }
  if (existing.config.ack_policy !== AckPolicy.All) {
    await resetAuditConsumer(manager, subjectPrefix, nextSequence, options.ackWaitMs);
    return { action: 'upgraded', nextSequence };
  }
  const ackFloor = existing.ack_floor.stream_seq;
  if (ackFloor < nextSequence || (await goneFromStream(manager, stream, nextSequence, ackFloor))) {
    return { action: 'kept', nextSequence };
  }
  await resetAuditConsumer(manager, subjectPrefix, nextSequence, options.ackWaitMs);
  return { action: 'rewound', nextSequence, ackFloor };
}

/** Recreates the durable consumer so it delivers from `nextSequence` on (after a rebuild applied everything before). */
export async function resetAuditConsumer(
  manager: JetStreamManager,
  subjectPrefix: string,
  nextSequence: number,
  ackWaitMs?: number,
): Promise<void> {
  const stream = secretsEventsStream(subjectPrefix);
  await manager.consumers.delete(stream, AUDIT_CONSUMER).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
  await manager.consumers.add(stream, auditConsumerConfig(nextSequence, ackWaitMs));
}

/** True when none of the stream sequences `from..to` is still in the stream (deleted or purged by ops). */
export async function goneFromStream(
  manager: JetStreamManager,
  stream: string,
  from: number,
  to: number,
): Promise<boolean> {
  const info = await manager.streams.info(stream);
  for (let seq = Math.max(from, info.state.first_seq); seq <= to; seq++) {
    try {
      await manager.streams.getMessage(stream, { seq });
      return false;
    } catch (error) {
      if (!/no message found/i.test(String((error as Error).message))) throw error;
    }
  }
  return true;
}

/**
 * The first message still in SECRETS_EVENTS at or after `sequence` (deleted sequences are passed over), for the lag
 * metric; undefined when the stream holds nothing from there on.
 */
export async function firstMessageFrom(
  manager: JetStreamManager,
  subjectPrefix: string,
  sequence: number,
): Promise<UnappliedEvent | undefined> {
  let message: StoredMsg;
  try {
    // next_by_subj: the server's "first message at or after seq on these subjects" (MSG.GET, NATS 2.9+).
    const request = { seq: sequence, next_by_subj: `${subjectPrefix}secrets.events.>` };
    message = await manager.streams.getMessage(secretsEventsStream(subjectPrefix), request as MsgRequest);
  } catch (error) {
    if (/no message found/i.test(String((error as Error).message))) return undefined;
    throw error;
  }
  let occurredAt: Date | undefined;
  try {
    occurredAt = parseAuditEvent(message.data).occurredAt;
  } catch (error) {
    if (!(error instanceof AuditError)) throw error;
  }
  return { sequence: message.seq, occurredAt, storedAt: message.time };
}

/** The lag metric's view of the trail: the applied position in Postgres and the stream's next message. */
export function auditLagSources(nats: NatsConnection, subjectPrefix: string, store: AuditStore): AuditLagSources {
  let manager: JetStreamManager | undefined;
  return {
    appliedPosition: () => store.appliedPosition(),
    firstMessageFrom: async (sequence) => {
      manager ??= await nats.jetstreamManager();
      return firstMessageFrom(manager, subjectPrefix, sequence);
    },
  };
}

/**
 * Messages a read loop handles before it lets other I/O run. A burst (thousands of messages after an ack or a pull)
 * is handed over as one microtask chain: without a break, the applier's Postgres replies wait behind all of it and
 * Postgres sits idle meanwhile.
 */
export const READ_YIELD_EVERY = 256;

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A message from SECRETS_EVENTS with its contract fields read; a malformed one carries its reason instead. */
export function streamedEventOf(message: JsMsg): StreamedEvent & { readonly rejection?: AuditError } {
  const sequence = message.info.streamSequence;
  const recordedAt = new Date(Math.floor(message.info.timestampNanos / 1_000_000));
  try {
    return { sequence, recordedAt, event: parseAuditEvent(message.data) };
  } catch (error) {
    if (!(error instanceof AuditError)) throw error;
    return { sequence, recordedAt, event: undefined, rejection: error };
  }
}
