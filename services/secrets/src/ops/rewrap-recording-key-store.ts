import { type StoredDataKey } from '@platform/crypto';
import { PostgresDataKeyStore } from '../keys/data-key.repository';

/** The data key store, noting whose keys a master key rotation rewraps, so that each organization gets its event. */
export class RewrapRecordingKeyStore extends PostgresDataKeyStore {
  private readonly organizationOfKey = new Map<string, string>();
  private readonly rewrapped = new Map<string, Set<string>>();

  override async keysNotWrappedUnder(masterKid: string, limit: number): Promise<readonly StoredDataKey[]> {
    const keys = await super.keysNotWrappedUnder(masterKid, limit);
    for (const key of keys) this.organizationOfKey.set(key.id, key.organizationId);
    return keys;
  }

  override async rewrap(
    dataKeyId: string,
    fromMasterKid: string,
    to: { masterKid: string; wrapped: string },
  ): Promise<void> {
    await super.rewrap(dataKeyId, fromMasterKid, to);
    const organizationId = this.organizationOfKey.get(dataKeyId);
    if (organizationId === undefined) return;
    const keys = this.rewrapped.get(organizationId) ?? new Set<string>();
    keys.add(dataKeyId);
    this.rewrapped.set(organizationId, keys);
  }

  /** Organizations and how many of their keys were rewrapped since the last call, which starts afresh. */
  takeRewrapped(): Map<string, number> {
    const counts = new Map([...this.rewrapped].map(([organizationId, keys]) => [organizationId, keys.size]));
    this.rewrapped.clear();
    this.organizationOfKey.clear();
    return counts;
  }
}
