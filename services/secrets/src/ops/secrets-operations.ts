import { userInfo } from 'node:os';
import { DataKeyRing, MasterKeyRing } from '@platform/crypto';
import { type CheckpointRebase, type PostgresEventStore, rebaseOutboxCheckpoint } from '@platform/event-store';
import { deleteCustomerKeys, deleteOrganizationKeys } from '../keys/data-key.repository';
import { countLiveSecrets } from '../secrets/secret-view.repository';
import { DATA_KEYS_REWRAPPED, DATA_KEY_ROTATED, type KeyEvent } from '../keys/key-events';
import { SecretExposureProjection } from '../exposure/secret-exposure.projection';
import { DeploymentIndexProjection } from '../secrets/deployment-index.projection';
import {
  deleteCustomerIdempotencyRecords,
  deleteOrganizationIdempotencyRecords,
} from '../secrets/idempotency.repository';
import { CUSTOMER_PURGED, type CustomerPurged, type EventMetadata, type OrganizationPurged } from '../secrets/secret';
import { customerStreamId, organizationStreamId } from '../secrets/secret-stream';
import { SecretsError, SecretsErrorCode } from '../secrets/secrets.error';
import { ORGANIZATION_PURGED, SecretViewProjection } from '../secrets/secret-view.projection';
import { type RebindReport, rebindUnboundValues } from '../secrets/value-rebinding';
import { SECRETS_OUTBOX, type SecretsSettings } from '../secrets-runtime';
import { openSecretsStore } from '../secrets.migrations';
import { RewrapRecordingKeyStore } from './rewrap-recording-key-store';

/** Events per replay batch; each is applied inside Postgres by `SecretViewProjection.rebuildBatch`. */
const REBUILD_BATCH = 20_000;

export interface RebuildReport {
  /** secret_view's replay (what `onProgress` reports). */
  readonly events: number;
  readonly seconds: number;
  /** deployment_index's replay, run after secret_view's. */
  readonly deploymentIndex: { readonly events: number; readonly seconds: number };
  /** secret_exposure's replay, run last. */
  readonly secretExposure: { readonly events: number; readonly seconds: number };
}

export interface PurgeReport {
  readonly dataKeysDeleted: number;
  readonly secretsRemoved: number;
}

/** Who an operator's events are recorded as. */
export function operatorActor(): EventMetadata['actor'] {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return { sub: `ops:${user}`, org: 'platform', role: 'admin' };
}

/** One line for an operator: what the checkpoint was, what it is, and what will be published. */
export function describeRebase({ before, after, published, queued }: CheckpointRebase): string {
  return (
    `outbox re-based: checkpoint (transaction ${before.transactionId}, position ${before.position}) → ` +
    `(transaction ${after.transactionId}, position ${after.position}); ${published} events marked published, ` +
    `${queued} restored events queued before newer ones`
  );
}

/**
 * The secrets ops commands (ARCHITECTURE.md §5, §6), against the database directly, beside running services: key
 * commands and purges are safe while they serve; a rebuild blocks their secret_view reads and writes until it commits.
 */
export class SecretsOperations {
  private constructor(
    private readonly store: PostgresEventStore,
    private readonly keyRing: DataKeyRing,
    private readonly masterKid: string,
    private readonly keyStore: RewrapRecordingKeyStore,
  ) {}

  static async open(settings: SecretsSettings): Promise<SecretsOperations> {
    const store = await openSecretsStore(settings.databaseUrl, { poolSize: 2, applicationName: 'secrets-ops' });
    try {
      const master = await MasterKeyRing.fromJwks(settings.masterKeys.json);
      const keyStore = new RewrapRecordingKeyStore(store);
      return new SecretsOperations(store, new DataKeyRing(master, keyStore), master.activeKid, keyStore);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /**
   * Truncates `secret_view` and replays every event into it, in batches, in one transaction; then the same for
   * `deployment_index` (its own transaction: it reads no secret_view row, only joins it when queried).
   */
  async rebuildProjections(
    onProgress?: (done: number, total: number) => void,
    batchSize = REBUILD_BATCH,
  ): Promise<RebuildReport> {
    const view = await this.store.rebuildProjection(new SecretViewProjection(), { batchSize, onProgress });
    const deploymentIndex = await this.store.rebuildProjection(new DeploymentIndexProjection(), { batchSize });
    const secretExposure = await this.store.rebuildProjection(new SecretExposureProjection(), { batchSize });
    return { ...view, deploymentIndex, secretExposure };
  }

  /**
   * Rewraps every data key under the active (first) master key; returns how many were rewrapped. `onProgress` gets
   * `(0, total)` from a count first, then `(done, total)` after each key.
   */
  async rotateMasterKey(onProgress?: (done: number, total: number) => void, actor = operatorActor()): Promise<number> {
    this.keyStore.takeRewrapped();
    let rewrapped: number;
    try {
      rewrapped = await this.keyRing.rewrapAll(onProgress);
    } finally {
      // Also after a failure part-way: the keys rewrapped so far are recorded.
      await this.recordRewraps(this.keyStore.takeRewrapped(), actor);
    }
    return rewrapped;
  }

  /**
   * Re-seals every value written before ciphertexts were bound to their version and event (ARCHITECTURE.md §6), so
   * `SECRETS_UNBOUND_VALUES=refuse` can be set. `onProgress` gets `(0, total)` first, then `(done, total)` per batch.
   */
  rebindValues(onProgress?: (done: number, total: number) => void): Promise<RebindReport> {
    return rebindUnboundValues(this.store, this.keyRing, onProgress);
  }

  /** One `DataKeysRewrapped` per organization whose keys were rewrapped, in one transaction. */
  private async recordRewraps(organizations: ReadonlyMap<string, number>, actor: EventMetadata['actor']) {
    if (organizations.size === 0) return;
    const metadata: EventMetadata = { actor, occurredAt: new Date().toISOString() };
    await this.store.withTransaction(async (tx) => {
      for (const [organizationId, dataKeys] of organizations) {
        const event: KeyEvent = {
          type: DATA_KEYS_REWRAPPED,
          data: { organizationId, masterKid: this.masterKid, dataKeys },
          metadata,
        };
        await tx.appendToStream(organizationStreamId(organizationId), [event], { expectedVersion: 'any' });
      }
    });
  }

  /**
   * A new data key for the new writes of the organization's vendor level (or of one customer), recorded as
   * `DataKeyRotated`; returns its id. The rotation
   * commits first: if the event cannot be appended, the command fails saying so (run it again to rotate and record).
   */
  async rotateOrganizationKey(
    organizationId: string,
    actor = operatorActor(),
    customerOrganizationId: string | null = null,
  ): Promise<string> {
    const dataKeyId = await this.keyRing.rotate(organizationId, customerOrganizationId);
    const event: KeyEvent = {
      type: DATA_KEY_ROTATED,
      data: { organizationId, dataKeyId, ...(customerOrganizationId === null ? {} : { customerOrganizationId }) },
      metadata: { actor, occurredAt: new Date().toISOString() },
    };
    try {
      await this.store.appendToStream(organizationStreamId(organizationId), [event], { expectedVersion: 'any' });
    } catch (error) {
      throw new Error(
        `organization ${organizationId} was given data key ${dataKeyId}, but its DataKeyRotated event could not be ` +
          `recorded (${(error as Error).message}); run the rotation again`,
        { cause: error },
      );
    }
    return dataKeyId;
  }

  /**
   * Crypto-shredding in ONE transaction: the organization's data keys, its `secret_view` rows (by the projection of
   * `OrganizationPurged`), its idempotency records (fingerprints of its requests) and the event commit together or not
   * at all; the events stay. Value appends of the
   * organization wait for it (see data-key-guard), and running instances forget their cached keys and values on the
   * published event.
   */
  async purgeOrganization(organizationId: string, actor = operatorActor()): Promise<PurgeReport> {
    const report = await this.store.withTransaction(async (tx) => {
      const dataKeysDeleted = await deleteOrganizationKeys(tx, organizationId);
      await deleteOrganizationIdempotencyRecords(tx, organizationId);
      const count = await countLiveSecrets(tx, organizationId);
      const metadata: EventMetadata = { actor, occurredAt: new Date().toISOString() };
      const purged: OrganizationPurged = {
        type: ORGANIZATION_PURGED,
        data: { organizationId, dataKeysDeleted },
        metadata,
      };
      await tx.appendToStream(organizationStreamId(organizationId), [purged], { expectedVersion: 'any' });
      return { dataKeysDeleted, secretsRemoved: count };
    });
    this.keyRing.forgetOrganization(organizationId);
    return report;
  }

  /**
   * Crypto-shredding of one customer scope in ONE transaction, beside running services: the customer's data keys, its
   * `secret_view` and `deployment_index` rows (by the projections of `CustomerPurged`), the idempotency records of its
   * users and of writes to its scope, and the event commit together; the vendor level and other customers keep their
   * keys and rows. Refused (FAILED_PRECONDITION, nothing changed) while any value of the customer is still sealed
   * under a vendor-level key of an earlier release: `values rebind` moves those first.
   */
  async purgeCustomer(
    organizationId: string,
    customerOrganizationId: string,
    actor = operatorActor(),
  ): Promise<PurgeReport> {
    const report = await this.store.withTransaction(async (tx) => {
      const { dataKeysDeleted, sharedKeyValues } = await deleteCustomerKeys(tx, organizationId, customerOrganizationId);
      if (sharedKeyValues > 0) {
        throw new SecretsError(
          SecretsErrorCode.FAILED_PRECONDITION,
          `customer ${customerOrganizationId} of ${organizationId} has ${sharedKeyValues} value(s) sealed under the ` +
            "organization's vendor-level data key (written before customers had keys of their own); run " +
            '`secrets values rebind` first, then purge again',
          { sharedKeyValues },
        );
      }
      await deleteCustomerIdempotencyRecords(tx, organizationId, customerOrganizationId);
      const count = await countLiveSecrets(tx, organizationId, customerOrganizationId);
      const purged: CustomerPurged = {
        type: CUSTOMER_PURGED,
        data: { organizationId, customerOrganizationId, dataKeysDeleted },
        metadata: { actor, occurredAt: new Date().toISOString() },
      };
      await tx.appendToStream(customerStreamId(organizationId, customerOrganizationId), [purged], {
        expectedVersion: 'any',
      });
      return { dataKeysDeleted, secretsRemoved: count };
    });
    this.keyRing.forgetCustomer(organizationId, customerOrganizationId);
    return report;
  }

  /**
   * After a logical restore into another cluster, the outbox checkpoint is ahead of the database's transaction ids and
   * every instance refuses to publish (not ready). Marks what the checkpoint covered as published and queues the rest
   * before newer events (`rebaseOutboxCheckpoint`); refused when the checkpoint is not ahead.
   */
  rebaseOutbox(): Promise<CheckpointRebase> {
    return rebaseOutboxCheckpoint(this.store, { name: SECRETS_OUTBOX });
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
