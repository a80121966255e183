import { type JetStreamManager, type NatsConnection, type StreamInfo } from 'nats';
import { AuditError, AuditErrorCode } from '../audit.error';
import { type ApplierLease, type AuditStore, type StreamedEvent } from '../records/audit-store.repository';
import {
  READ_YIELD_EVERY,
  resetAuditConsumer,
  secretsEventsStream,
  streamedEventOf,
  yieldToEventLoop,
} from './audit-stream';

export interface RebuildProgress {
  /** The stream's last sequence when the rebuild started: it replays up to there. */
  readonly total: number;
  readonly applied: number;
}

export interface RebuildSummary {
  readonly events: number;
  /** Stream sequences up to the last one that the stream no longer holds (deleted), recorded as passed gaps. */
  readonly missing: number;
  readonly records: number;
  readonly rejected: number;
  readonly lastSequence: number;
  readonly seconds: number;
}

export interface RebuildOptions {
  readonly nats: NatsConnection;
  readonly subjectPrefix: string;
  readonly store: AuditStore;
  readonly batchSize?: number;
  readonly onProgress?: (progress: RebuildProgress) => void;
}

/** Reads the stream only (ops may not create or update it): a missing stream is a refusal, not a new empty stream. */
async function existingStream(manager: JetStreamManager, stream: string): Promise<StreamInfo> {
  try {
    return await manager.streams.info(stream);
  } catch (error) {
    if (!/stream not found/i.test(String((error as Error | undefined)?.message))) throw error;
    throw new AuditError(
      AuditErrorCode.REBUILD_REFUSED,
      `stream ${stream} does not exist on this NATS server: nothing to rebuild from (check NATS_URL and NATS_SUBJECT_PREFIX)`,
      { reason: 'stream-missing', stream },
    );
  }
}

/** The applier lease keeps every audit instance from applying while the trail is emptied and replayed. */
async function takeApplierLease(store: AuditStore): Promise<ApplierLease> {
  const lease = await store.tryAcquireApplierLease();
  if (lease) return lease;
  if (!(await store.isHealthy())) {
    throw new AuditError(AuditErrorCode.STORE_UNAVAILABLE, 'the audit database is unavailable');
  }
  throw new AuditError(
    AuditErrorCode.REBUILD_REFUSED,
    'the audit service is running (an instance holds the applier lease): stop every audit instance, then run rebuild again',
    { reason: 'applier-running' },
  );
}

/**
 * Empties the audit trail and re-applies SECRETS_EVENTS from sequence 1 through an ordered (ephemeral) consumer,
 * with the same code path as the live consumer, so the records and hashes come out identical. Afterwards the
 * durable consumer is recreated to continue after the last replayed sequence. It holds the applier lease throughout
 * and refuses to start while an audit instance holds it.
 *
 * Its transactions commit without waiting for the write-ahead log (`synchronous_commit = off`, per transaction): a
 * crash part-way loses at most the last commits of a rebuild that has to be run again anyway. One synchronous commit
 * at the end makes the whole trail durable before the durable consumer is moved past it.
 */
export async function rebuildAuditTrail(options: RebuildOptions): Promise<RebuildSummary> {
  const started = performance.now();
  const manager = await options.nats.jetstreamManager();
  const stream = secretsEventsStream(options.subjectPrefix);
  const { state } = await existingStream(manager, stream);
  const lease = await takeApplierLease(options.store);
  let leaseLost = false;
  void lease.lost.then(() => (leaseLost = true));
  try {
    return await replay(options, manager, state, started, () => leaseLost);
  } finally {
    await lease.release();
  }
}

async function replay(
  options: RebuildOptions,
  manager: JetStreamManager,
  state: StreamInfo['state'],
  started: number,
  leaseLost: () => boolean,
): Promise<RebuildSummary> {
  const stream = secretsEventsStream(options.subjectPrefix);
  const total = state.last_seq;
  await options.store.reset();
  const batchSize = options.batchSize ?? 5_000;
  let events = 0;
  let records = 0;
  let rejected = 0;
  let appliedThrough = 0;
  /** Runs of sequences the stream no longer holds: the rebuild passes them, and says so in `audit.stream_gaps`. */
  const gaps: Array<readonly [number, number]> = [];
  let previous = 0;
  options.onProgress?.({ total, applied: 0 });

  const flush = async (batch: StreamedEvent[]): Promise<void> => {
    if (batch.length === 0) return;
    for (const { sequence } of batch) {
      if (sequence > previous + 1) gaps.push([previous + 1, sequence - 1]);
      previous = sequence;
    }
    // An ordered consumer delivers every message still in the stream, in order: what it skips was deleted.
    const outcome = await options.store.apply(batch, {
      skipMissingThrough: batch[batch.length - 1].sequence,
      // Nothing is acknowledged on these commits; durability is made once, before the durable consumer moves on.
      deferDurability: true,
    });
    if (outcome.kind !== 'applied') throw new Error(`rebuild could not apply through sequence ${outcome.missingTo}`);
    appliedThrough = outcome.appliedThrough;
    records += outcome.records.length;
    options.onProgress?.({ total, applied: appliedThrough });
  };

  if (total > 0 && state.messages > 0) {
    const consumer = await options.nats.jetstream().consumers.get(stream);
    const messages = await consumer.consume({ max_messages: batchSize });
    // The next batch is read and parsed while the previous one is applied; applies still run one after the other.
    let applying: Promise<void> = Promise.resolve();
    const applyAfterPrevious = async (ready: StreamedEvent[]): Promise<void> => {
      await applying;
      applying = flush(ready);
      applying.catch(() => undefined); // awaited before the next batch or at the end
    };
    try {
      let batch: StreamedEvent[] = [];
      for await (const message of messages) {
        const streamed = streamedEventOf(message);
        if (streamed.rejection) rejected += 1;
        batch.push(streamed);
        events += 1;
        const done = streamed.sequence >= total;
        if (batch.length >= batchSize || message.info.pending === 0 || done) {
          await applyAfterPrevious(batch);
          batch = [];
        }
        if (done) break;
        if (events % READ_YIELD_EVERY === 0) await yieldToEventLoop();
      }
      await applyAfterPrevious(batch);
      await applying;
    } finally {
      messages.stop();
    }
  }
  if (total > previous) gaps.push([previous + 1, total]);
  for (const [from, to] of gaps) await options.store.recordPassedStreamGap(from, to, 'audit rebuild');
  await options.store.flushDurably();
  // Without the lease an instance may have applied meanwhile: the durable consumer must not be moved under it.
  if (leaseLost()) throw new Error('the rebuild lost the applier lease (its database session ended); run it again');
  await resetAuditConsumer(manager, options.subjectPrefix, Math.max(appliedThrough, total) + 1);
  const missing = gaps.reduce((sum, [from, to]) => sum + to - from + 1, 0);
  return {
    events,
    missing,
    records,
    rejected,
    lastSequence: appliedThrough,
    seconds: (performance.now() - started) / 1000,
  };
}
