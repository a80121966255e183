import { prefixedStreamName } from '@platform/messaging';
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  nanos,
} from 'nats';
import { AuditError } from '../audit.error';
import { parseAuditEvent } from '../records/audit-event';
import { type StreamedEvent } from '../records/audit-store';

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

/**
 * Creates the durable consumer on first start; later starts (any instance) find it and keep its position. A consumer
 * left by an earlier release with per-message acks is replaced (the ack policy of a consumer cannot be changed),
 * starting after the applied position: what comes before is in the trail already.
 *
 * @param nextSequence the first stream sequence not yet in the audit trail (applied position + 1)
 */
export async function ensureAuditConsumer(
  nats: NatsConnection,
  subjectPrefix: string,
  options: { nextSequence: number; ackWaitMs?: number },
): Promise<void> {
  const manager = await nats.jetstreamManager();
  const stream = secretsEventsStream(subjectPrefix);
  const config = auditConsumerConfig(options.nextSequence, options.ackWaitMs);
  try {
    const info = await manager.consumers.info(stream, AUDIT_CONSUMER);
    if (info.config.ack_policy === AckPolicy.All) return;
    await manager.consumers.delete(stream, AUDIT_CONSUMER).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await manager.consumers.add(stream, config).catch((addError: unknown) => {
    // Another instance created it meanwhile: its start is as good as ours, both come from the applied position.
    if (!/already (exists|in use)/i.test(String((addError as Error).message))) throw addError;
  });
}

/** Recreates the durable consumer so it delivers from `nextSequence` on (after a rebuild applied everything before). */
export async function resetAuditConsumer(
  manager: JetStreamManager,
  subjectPrefix: string,
  nextSequence: number,
): Promise<void> {
  const stream = secretsEventsStream(subjectPrefix);
  await manager.consumers.delete(stream, AUDIT_CONSUMER).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
  await manager.consumers.add(stream, auditConsumerConfig(nextSequence));
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
