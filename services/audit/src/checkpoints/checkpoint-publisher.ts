import { type JetStreamManager, type NatsConnection } from 'nats';
import { type Logger } from 'pino';
import { type AuditMetrics } from '../audit-metrics';
import { type AuditStore, type ChainHeadState } from '../records/audit-store.repository';
import { ChainVerifier, GENESIS_HASH } from '../records/hash-chain';
import { type ChainFailureReason } from './chain-audit';
import { type Checkpoint, type CheckpointSigner, type CheckpointVerifier } from './checkpoint';
import { latestCheckpoint, publishCheckpoint } from './checkpoint-stream';

export interface CheckpointPublisherOptions {
  readonly nats: NatsConnection;
  readonly subjectPrefix: string;
  readonly store: AuditStore;
  readonly signer: CheckpointSigner;
  readonly verifier: CheckpointVerifier;
  readonly logger: Logger;
  readonly metrics?: AuditMetrics;
  readonly now?: () => Date;
}

/** What one round of signing did. */
export interface CheckpointRound {
  readonly signed: number;
  readonly refused: number;
  readonly failed: number;
}

type Outcome = 'signed' | 'unchanged' | 'refused' | 'failed';

/** Why a head is not signed: the records no longer extend the latest checkpoint. */
class Refusal extends Error {
  constructor(
    readonly reason: ChainFailureReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Signs the chain head of each organization that changed since its latest checkpoint and appends it to
 * AUDIT_CHECKPOINTS. A new checkpoint only extends the latest one: the record it names must still carry its hash and
 * every record after it must link from there, so a chain an administrator rewrote is refused (an error in the log,
 * `audit_checkpoint_refusals_total`), never signed. An organization's first checkpoint vouches for its whole chain
 * as it is then (a trail written by an earlier release is taken as found, once its links verify).
 */
export class CheckpointPublisher {
  /** What AUDIT_CHECKPOINTS holds per organization, as this instance last read or wrote it. */
  private readonly known = new Map<string, { readonly sequence: number; readonly count: number }>();
  private manager: JetStreamManager | undefined;

  constructor(private readonly options: CheckpointPublisherOptions) {}

  /** Signs every organization whose chain head moved; one organization's failure does not stop the others. */
  async publishChanged(): Promise<CheckpointRound> {
    const round = { signed: 0, refused: 0, failed: 0 };
    for (const head of await this.options.store.chainHeads()) {
      const known = this.known.get(head.organizationId);
      if (known?.sequence === head.lastSequence && known.count === head.recordCount) continue;
      const outcome = await this.publishFor(head);
      if (outcome === 'signed') round.signed += 1;
      if (outcome === 'refused') round.refused += 1;
      if (outcome === 'failed') round.failed += 1;
    }
    return round;
  }

  private async publishFor(head: ChainHeadState): Promise<Outcome> {
    const organizationId = head.organizationId;
    try {
      this.manager ??= await this.options.nats.jetstreamManager();
      const { subjectPrefix, verifier } = this.options;
      const latest = await latestCheckpoint(this.manager, subjectPrefix, organizationId, verifier);
      if (latest.kind === 'invalid') {
        throw new Refusal('checkpoint_invalid', `the latest checkpoint is refused: ${latest.message}`);
      }
      const prior = latest.kind === 'valid' ? latest.checkpoint : undefined;
      const next = await this.extend(organizationId, prior);
      if (next === undefined) {
        if (prior) this.known.set(organizationId, { sequence: prior.sequence, count: prior.count });
        return 'unchanged';
      }
      const compact = this.options.signer.sign(next);
      await publishCheckpoint(
        this.options.nats.jetstream(),
        subjectPrefix,
        organizationId,
        next.sequence,
        compact,
        latest.streamSequence ?? 0,
      );
      this.known.set(organizationId, { sequence: next.sequence, count: next.count });
      this.options.metrics?.checkpointSigned();
      return 'signed';
    } catch (error) {
      this.known.delete(organizationId);
      if (error instanceof Refusal) {
        this.options.metrics?.checkpointRefused(error.reason);
        this.options.logger.error(
          { organizationId, reason: error.reason, detail: error.message },
          'refusing to sign an audit checkpoint: the chain no longer extends the latest signed checkpoint',
        );
        return 'refused';
      }
      // NATS or Postgres unavailable, or another signer moved the checkpoint first: the next round tries again.
      this.options.logger.warn({ err: error, organizationId }, 'signing an audit checkpoint failed; retrying later');
      return 'failed';
    }
  }

  /** The checkpoint that extends `prior` over the records after it; undefined when there are none. */
  private async extend(organizationId: string, prior: Checkpoint | undefined): Promise<Checkpoint | undefined> {
    const { store } = this.options;
    if (prior !== undefined && prior.count > 0) {
      const record = await store.recordAt(organizationId, prior.sequence);
      if (record === undefined) {
        throw new Refusal('truncated', `record ${prior.sequence}, the one the latest checkpoint names, is gone`);
      }
      if (record.hash !== prior.hash) {
        throw new Refusal('record_altered', `record ${prior.sequence} no longer has the hash the checkpoint signed`);
      }
    }
    const links = new ChainVerifier(prior?.hash ?? GENESIS_HASH);
    let last: { sequence: number; hash: string } | undefined;
    for await (const page of store.recordPages(organizationId, prior?.sequence ?? 0)) {
      for (const record of page) links.check(record);
      if (links.firstBrokenSequence !== undefined) {
        throw new Refusal('record_altered', `record ${links.firstBrokenSequence} does not link to the one before it`);
      }
      const end = page[page.length - 1];
      last = { sequence: end.sequence, hash: end.hash };
    }
    if (last === undefined) return undefined;
    return {
      organizationId,
      sequence: last.sequence,
      hash: last.hash,
      count: (prior?.count ?? 0) + links.checked,
      signedAt: (this.options.now ?? (() => new Date()))(),
    };
  }
}
