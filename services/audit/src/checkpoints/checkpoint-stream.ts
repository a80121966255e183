import {
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  nanos,
} from 'nats';
import { type CheckpointVerifier } from './checkpoint';
import { type CheckpointState } from './chain-audit';

/** The audit service's own stream: every signed checkpoint, kept forever, never deleted or purged through the API. */
export const CHECKPOINT_STREAM = 'AUDIT_CHECKPOINTS';

const HOUR_NS = 60 * 60 * 1000;

export function checkpointStreamName(subjectPrefix: string): string {
  return `${subjectPrefix.replace(/\./g, '_')}${CHECKPOINT_STREAM}`;
}

/** Checkpoints of one organization are published on `audit.checkpoints.<organizationId>`. */
export function checkpointSubject(subjectPrefix: string, organizationId: string): string {
  return `${subjectPrefix}audit.checkpoints.${organizationId}`;
}

export function checkpointStreamConfig(
  subjectPrefix: string,
  replicas: number,
): Partial<StreamConfig> & { name: string } {
  return {
    name: checkpointStreamName(subjectPrefix),
    subjects: [`${subjectPrefix}audit.checkpoints.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: 0,
    // Nats-Msg-Id = organization and sequence: a second signer of the same head within the window adds nothing.
    duplicate_window: nanos(HOUR_NS),
    // Whoever holds the JetStream API cannot remove a checkpoint to hide a truncation.
    deny_delete: true,
    deny_purge: true,
  };
}

function isStreamNotFound(error: unknown): boolean {
  return /stream not found/i.test(String((error as Error | undefined)?.message));
}

/** Whether a setting of `wanted` differs from the stream's, so an update is needed. */
function differs(existing: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  return (Object.keys(wanted) as (keyof StreamConfig)[]).some(
    (setting) => JSON.stringify(existing[setting]) !== JSON.stringify(wanted[setting]),
  );
}

/**
 * Creates AUDIT_CHECKPOINTS, or brings an existing one to this configuration; one that already has it is left
 * alone, so a running deployment needs only the stream's INFO permission.
 */
export async function ensureCheckpointStream(
  manager: JetStreamManager,
  subjectPrefix: string,
  replicas: number,
): Promise<void> {
  const config = checkpointStreamConfig(subjectPrefix, replicas);
  try {
    const { config: existing } = await manager.streams.info(config.name);
    if (!differs(existing, config)) return;
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
    try {
      await manager.streams.add(config);
      return;
    } catch (addError) {
      if (!/already in use/i.test(String((addError as Error).message))) throw addError;
    }
  }
  await manager.streams.update(config.name, config);
}

/** The latest checkpoint message of an organization: its JWS and where it sits in the stream. */
export interface StoredCheckpoint {
  readonly compact: string;
  readonly streamSequence: number;
}

export async function latestStoredCheckpoint(
  manager: JetStreamManager,
  subjectPrefix: string,
  organizationId: string,
): Promise<StoredCheckpoint | undefined> {
  try {
    const message = await manager.streams.getMessage(checkpointStreamName(subjectPrefix), {
      last_by_subj: checkpointSubject(subjectPrefix, organizationId),
    } as MsgRequest);
    return { compact: Buffer.from(message.data).toString('utf8'), streamSequence: message.seq };
  } catch (error) {
    if (/no message found/i.test(String((error as Error).message))) return undefined;
    throw error;
  }
}

/** The latest checkpoint of an organization, verified against the pinned public keys. */
export async function latestCheckpoint(
  manager: JetStreamManager,
  subjectPrefix: string,
  organizationId: string,
  verifier: CheckpointVerifier,
): Promise<CheckpointState & { readonly streamSequence?: number }> {
  const stored = await latestStoredCheckpoint(manager, subjectPrefix, organizationId);
  if (stored === undefined) return { kind: 'none' };
  try {
    const checkpoint = verifier.verify(stored.compact);
    if (checkpoint.organizationId !== organizationId) {
      return {
        kind: 'invalid',
        message: 'it names another organization',
        streamSequence: stored.streamSequence,
      };
    }
    return { kind: 'valid', checkpoint, streamSequence: stored.streamSequence };
  } catch (error) {
    return { kind: 'invalid', message: (error as Error).message, streamSequence: stored.streamSequence };
  }
}

/**
 * Appends a checkpoint only if the organization's latest one is still the one the signer read
 * (`Nats-Expected-Last-Subject-Sequence`), so two signers can never publish heads out of order.
 */
export async function publishCheckpoint(
  js: JetStreamClient,
  subjectPrefix: string,
  organizationId: string,
  sequence: number,
  compact: string,
  previousStreamSequence: number,
): Promise<number> {
  const ack = await js.publish(checkpointSubject(subjectPrefix, organizationId), Buffer.from(compact, 'utf8'), {
    msgID: `${organizationId}:${sequence}`,
    expect: { lastSubjectSequence: previousStreamSequence },
  });
  return ack.seq;
}
