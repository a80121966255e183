import { type AuditRecord } from '../records/audit-record';
import { ChainVerifier } from '../records/hash-chain';
import { type VerifiedCheckpoint } from './checkpoint';

/** What AUDIT_CHECKPOINTS holds for an organization, as `audit.v1.verify` found it. */
export type CheckpointState =
  | { readonly kind: 'none' }
  /** The latest checkpoint does not verify: forged, signed by an unpinned key, or malformed. */
  | { readonly kind: 'invalid'; readonly message: string; readonly streamSequence: number }
  | { readonly kind: 'valid'; readonly checkpoint: VerifiedCheckpoint };

/** Why a chain fails verification (the `reason` of `audit.v1.verify`). */
export const CHAIN_FAILURE_REASONS = ['record_altered', 'records_missing', 'truncated', 'checkpoint_invalid'] as const;
export type ChainFailureReason = (typeof CHAIN_FAILURE_REASONS)[number];

/** The checkpoint a verification was measured against, as the reply shows it. */
export interface CheckpointSummary {
  readonly sequence: number;
  readonly count: number;
  readonly hash: string;
  readonly signedAt: string;
  readonly keyId: string;
}

/** The reply of `audit.v1.verify` (proto `audit.v1.VerifyAuditChainResponse`). */
export interface ChainVerification {
  readonly ok: boolean;
  readonly checked: number;
  /** Where the chain breaks: the first record that does not link, or the record a checkpoint names. */
  readonly firstBrokenSequence?: number;
  readonly reason?: ChainFailureReason;
  /** One sentence for people: what was expected and what was found; numbers only, never record contents. */
  readonly detail?: string;
  readonly checkpoint?: CheckpointSummary;
}

interface ChainHeadState {
  readonly lastSequence: number;
  readonly lastHash: string;
}

/**
 * Walks one organization's records in sequence order and judges them against the chain itself, the chain head
 * kept beside them, and the latest signed checkpoint: an edit shows as a record that no longer links, or (when the
 * chain was recomputed) as a checkpoint hash the chain no longer reaches; a deletion as fewer records than the
 * checkpoint counts; a truncation as a chain that ends before the checkpoint's sequence. Records after the
 * checkpoint are verified by the chain from it on.
 */
export class ChainAudit {
  private readonly links = new ChainVerifier();
  private countThroughCheckpoint = 0;
  private atCheckpoint: AuditRecord | undefined;
  private lastSequence = 0;
  private head: ChainHeadState | undefined;

  constructor(private readonly state: CheckpointState) {}

  private get checkpoint(): VerifiedCheckpoint | undefined {
    return this.state.kind === 'valid' ? this.state.checkpoint : undefined;
  }

  check(record: AuditRecord): void {
    this.links.check(record);
    this.lastSequence = record.sequence;
    const checkpoint = this.checkpoint;
    if (checkpoint !== undefined && record.sequence <= checkpoint.sequence) {
      this.countThroughCheckpoint += 1;
      if (record.sequence === checkpoint.sequence) this.atCheckpoint = record;
    }
  }

  /** Whether further records can change the verdict on the links (the first break is already known). */
  get linksBroken(): boolean {
    return this.links.firstBrokenSequence !== undefined;
  }

  /** The chain head row kept beside the records (undefined when the organization has none). */
  checkHead(head: ChainHeadState | undefined): void {
    this.head = head;
  }

  result(): ChainVerification {
    const checked = this.links.checked;
    const checkpoint = this.checkpoint;
    const summary = checkpoint && {
      sequence: checkpoint.sequence,
      count: checkpoint.count,
      hash: checkpoint.hash,
      signedAt: checkpoint.signedAt.toISOString(),
      keyId: checkpoint.keyId,
    };
    const fail = (reason: ChainFailureReason, detail: string, at?: number): ChainVerification => ({
      ok: false,
      checked,
      ...(at === undefined ? {} : { firstBrokenSequence: at }),
      reason,
      detail,
      ...(summary ? { checkpoint: summary } : {}),
    });
    if (this.state.kind === 'invalid') {
      return fail(
        'checkpoint_invalid',
        `the latest checkpoint (AUDIT_CHECKPOINTS sequence ${this.state.streamSequence}) is refused: ${this.state.message}`,
      );
    }
    const brokenLink = this.links.firstBrokenSequence;
    if (checkpoint !== undefined) {
      const signed = `the checkpoint signed at ${checkpoint.signedAt.toISOString()}`;
      if (checked === 0 && checkpoint.count > 0) {
        return fail(
          'records_missing',
          `${signed} counts ${checkpoint.count} records; none are left`,
          checkpoint.sequence,
        );
      }
      if (this.lastSequence < checkpoint.sequence) {
        return fail(
          'truncated',
          `the chain ends at sequence ${this.lastSequence}; ${signed} reaches sequence ${checkpoint.sequence}`,
          checkpoint.sequence,
        );
      }
      if (this.countThroughCheckpoint < checkpoint.count) {
        return fail(
          'records_missing',
          `${signed} counts ${checkpoint.count} records through sequence ${checkpoint.sequence}; ` +
            `${this.countThroughCheckpoint} are left`,
          brokenLink ?? checkpoint.sequence,
        );
      }
      if (this.countThroughCheckpoint > checkpoint.count) {
        return fail(
          'record_altered',
          `${signed} counts ${checkpoint.count} records through sequence ${checkpoint.sequence}; ` +
            `${this.countThroughCheckpoint} are there`,
          brokenLink ?? checkpoint.sequence,
        );
      }
    }
    if (brokenLink !== undefined) {
      return fail('record_altered', `record ${brokenLink} does not link to the record before it`, brokenLink);
    }
    if (checkpoint !== undefined && this.atCheckpoint?.hash !== checkpoint.hash) {
      return fail(
        'record_altered',
        `the chain through sequence ${checkpoint.sequence} no longer ends in the hash signed at ` +
          `${checkpoint.signedAt.toISOString()}: a record at or before it was changed and the chain recomputed`,
        checkpoint.sequence,
      );
    }
    const headProblem = this.headProblem();
    if (headProblem !== undefined) return fail(headProblem.reason, headProblem.detail, headProblem.at);
    return { ok: true, checked, ...(summary ? { checkpoint: summary } : {}) };
  }

  /** The chain head beside the records names a later or different last record: the tail was cut or replaced. */
  private headProblem(): { reason: ChainFailureReason; detail: string; at: number } | undefined {
    const headSequence = this.head?.lastSequence ?? 0;
    const lastHash = this.links.lastHash;
    if (this.head === undefined ? this.lastSequence === 0 : this.head.lastHash === lastHash) return undefined;
    if (headSequence > this.lastSequence) {
      return {
        reason: 'truncated',
        detail: `the chain ends at sequence ${this.lastSequence}; its head names sequence ${headSequence}`,
        at: headSequence,
      };
    }
    return {
      reason: 'record_altered',
      detail: `the chain's last record (sequence ${this.lastSequence}) is not the one its head names`,
      at: this.lastSequence,
    };
  }
}
