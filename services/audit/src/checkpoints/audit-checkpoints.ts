import { type JetStreamManager, type NatsConnection } from 'nats';
import { type CheckpointState } from './chain-audit';
import { type CheckpointSigner, type CheckpointVerifier } from './checkpoint';
import { latestCheckpoint } from './checkpoint-stream';

/** The checkpoint keys of this deployment and the stream that holds the checkpoints, for `audit.v1.verify`. */
export class AuditCheckpoints {
  private manager: JetStreamManager | undefined;

  constructor(
    private readonly nats: NatsConnection,
    private readonly subjectPrefix: string,
    readonly signer: CheckpointSigner,
    readonly verifier: CheckpointVerifier,
  ) {}

  /** The organization's latest checkpoint in AUDIT_CHECKPOINTS, checked against the pinned public keys. */
  async latest(organizationId: string): Promise<CheckpointState> {
    this.manager ??= await this.nats.jetstreamManager();
    return latestCheckpoint(this.manager, this.subjectPrefix, organizationId, this.verifier);
  }
}
