import { userInfo } from 'node:os';
import { type DataKeyRing } from '@platform/crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { type EventMetadata } from '../secrets/secret';
import { organizationStreamId } from '../secrets/secret-stream';
import { ORGANIZATION_PURGED, SecretViewProjection } from '../secrets/secret-view.projection';
import { type SecretsSettings, openKeyRing } from '../secrets-runtime';
import { openSecretsStore } from '../secrets.migrations';

/** Events per replay batch; each is applied inside Postgres by `SecretViewProjection.rebuildBatch`. */
const REBUILD_BATCH = 20_000;

export interface RebuildReport {
  readonly events: number;
  readonly seconds: number;
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

/** The secrets ops commands (ARCHITECTURE.md §5, §6), against the database directly; safe beside running services. */
export class SecretsOperations {
  private constructor(
    private readonly store: PostgresEventStore,
    private readonly keyRing: DataKeyRing,
  ) {}

  static async open(settings: SecretsSettings): Promise<SecretsOperations> {
    const store = await openSecretsStore(settings.databaseUrl, { poolSize: 2, applicationName: 'secrets-ops' });
    try {
      return new SecretsOperations(store, await openKeyRing(store, settings.masterKeys));
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** Truncates `secret_view` and replays every event into it, in batches, in one transaction. */
  rebuildProjections(
    onProgress?: (done: number, total: number) => void,
    batchSize = REBUILD_BATCH,
  ): Promise<RebuildReport> {
    return this.store.rebuildProjection(new SecretViewProjection(), { batchSize, onProgress });
  }

  /** Rewraps every data key under the active (first) master key; returns how many were rewrapped. */
  rotateMasterKey(): Promise<number> {
    return this.keyRing.rewrapAll();
  }

  /** A new data key for the organization's new writes; returns its id. */
  rotateOrganizationKey(organizationId: string): Promise<string> {
    return this.keyRing.rotate(organizationId);
  }

  /**
   * Crypto-shredding: deletes the organization's data keys first (its values become unrecoverable at once), then
   * appends `OrganizationPurged`, whose projection removes its `secret_view` rows. The events stay.
   */
  async purgeOrganization(organizationId: string, actor = operatorActor()): Promise<PurgeReport> {
    const [{ count }] = await this.store.query<{ count: number }>(
      'select count(*)::int as count from secret_view where organization_id = $1 and not deleted',
      [organizationId],
    );
    const dataKeysDeleted = await this.keyRing.purge(organizationId);
    const metadata: EventMetadata = { actor, occurredAt: new Date().toISOString() };
    await this.store.appendToStream(
      organizationStreamId(organizationId),
      [{ type: ORGANIZATION_PURGED, data: { organizationId, dataKeysDeleted }, metadata }],
      { expectedVersion: 'any' },
    );
    return { dataKeysDeleted, secretsRemoved: count };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
