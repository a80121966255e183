/** One scope's data-encryption key as stored: only ever wrapped under a master key (ARCHITECTURE.md §6). */
export interface StoredDataKey {
  readonly id: string;
  readonly organizationId: string;
  /**
   * The customer scope the key seals, or null for the vendor level (and for every key of an earlier release, which
   * sealed the organization's customers' values too).
   */
  readonly customerOrganizationId: string | null;
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
  /** The scope's active key (vendor level when `customerOrganizationId` is null), if it has one. */
  activeKey(organizationId: string, customerOrganizationId: string | null): Promise<StoredDataKey | undefined>;

  /** A key by id, active or retired; undefined when it never existed or was purged. */
  keyById(dataKeyId: string): Promise<StoredDataKey | undefined>;

  /**
   * Adds the scope's first active key. If another instance already stored an active key for the scope, does nothing
   * (first writer wins), e.g. `INSERT … ON CONFLICT DO NOTHING` against a unique index on
   * `(organization_id, customer_id) WHERE active`; the caller then reads `activeKey` to use the winner.
   */
  insert(key: StoredDataKey): Promise<void>;

  /** In one transaction: marks the scope's active key inactive and adds `key` (active) in its place. */
  replaceActive(key: StoredDataKey): Promise<void>;

  /** Up to `limit` keys, of any organization, wrapped under a master kid other than `masterKid`. */
  keysNotWrappedUnder(masterKid: string, limit: number): Promise<readonly StoredDataKey[]>;

  /** How many keys, of any organization, are wrapped under a master kid other than `masterKid`. */
  countNotWrappedUnder(masterKid: string): Promise<number>;

  /** Stores a key's new wrapping, only if it is still wrapped under `fromMasterKid` (else a concurrent rewrap won). */
  rewrap(dataKeyId: string, fromMasterKid: string, to: { masterKid: string; wrapped: string }): Promise<void>;

  /** Deletes every key of the organization, its customers' included (crypto-shredding); returns how many. */
  deleteByOrganization(organizationId: string): Promise<number>;
}
