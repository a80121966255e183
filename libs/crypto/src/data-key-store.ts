/** One organization's data-encryption key as stored: only ever wrapped under a master key (ARCHITECTURE.md §6). */
export interface StoredDataKey {
  readonly id: string;
  readonly organizationId: string;
  readonly masterKid: string;
  /** base64url A256KW output (see MasterKeyRing). */
  readonly wrapped: string;
  /** Whether new values of the organization are encrypted with it; retired keys stay to decrypt old versions. */
  readonly active: boolean;
  readonly createdAt: Date;
}

/**
 * Persistence of wrapped data keys (the secrets service implements it over the `data_key` table). Every method is one
 * statement or one transaction; several service instances share the store.
 */
export interface DataKeyStore {
  /** The organization's active key, if it has one. */
  activeKey(organizationId: string): Promise<StoredDataKey | undefined>;

  /** A key by id, active or retired; undefined when it never existed or was purged. */
  keyById(dataKeyId: string): Promise<StoredDataKey | undefined>;

  /**
   * Adds the organization's first active key. If another instance already stored an active key for the organization,
   * does nothing (first writer wins), e.g. `INSERT … ON CONFLICT DO NOTHING` against a unique index on
   * `organization_id WHERE active`; the caller then reads `activeKey` to use the winner.
   */
  insert(key: StoredDataKey): Promise<void>;

  /** In one transaction: marks the organization's active key inactive and adds `key` (active) in its place. */
  replaceActive(key: StoredDataKey): Promise<void>;

  /** Up to `limit` keys, of any organization, wrapped under a master kid other than `masterKid`. */
  keysNotWrappedUnder(masterKid: string, limit: number): Promise<readonly StoredDataKey[]>;

  /** How many keys, of any organization, are wrapped under a master kid other than `masterKid`. */
  countNotWrappedUnder(masterKid: string): Promise<number>;

  /** Stores a key's new wrapping, only if it is still wrapped under `fromMasterKid` (else a concurrent rewrap won). */
  rewrap(dataKeyId: string, fromMasterKid: string, to: { masterKid: string; wrapped: string }): Promise<void>;

  /** Deletes every key of the organization (crypto-shredding); returns how many were deleted. */
  deleteByOrganization(organizationId: string): Promise<number>;
}
