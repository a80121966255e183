import { DataKeyStore, StoredDataKey } from './data-key-store';

/** A DataKeyStore in a Map, with the same first-writer-wins rule as the Postgres one; for unit tests and benchmarks. */
export class InMemoryDataKeyStore implements DataKeyStore {
  private readonly keys = new Map<string, StoredDataKey>();

  async activeKey(organizationId: string, customerOrganizationId: string | null): Promise<StoredDataKey | undefined> {
    return this.findActive(organizationId, customerOrganizationId);
  }

  async keyById(dataKeyId: string): Promise<StoredDataKey | undefined> {
    return this.keys.get(dataKeyId);
  }

  async insert(key: StoredDataKey): Promise<void> {
    if (this.keys.has(key.id)) throw new Error(`data key ${key.id} already exists`);
    // Checked and set in one synchronous step, like the unique index that makes the Postgres insert race-safe.
    if (this.findActive(key.organizationId, key.customerOrganizationId)) return;
    this.keys.set(key.id, { ...key, active: true });
  }

  async replaceActive(key: StoredDataKey): Promise<void> {
    if (this.keys.has(key.id)) throw new Error(`data key ${key.id} already exists`);
    for (const existing of this.all()) {
      if (
        existing.organizationId === key.organizationId &&
        existing.customerOrganizationId === key.customerOrganizationId &&
        existing.active
      ) {
        this.keys.set(existing.id, { ...existing, active: false });
      }
    }
    this.keys.set(key.id, { ...key, active: true });
  }

  async keysNotWrappedUnder(masterKid: string, limit: number): Promise<readonly StoredDataKey[]> {
    return this.all()
      .filter((key) => key.masterKid !== masterKid)
      .slice(0, limit);
  }

  async countNotWrappedUnder(masterKid: string): Promise<number> {
    return this.all().filter((key) => key.masterKid !== masterKid).length;
  }

  async rewrap(dataKeyId: string, fromMasterKid: string, to: { masterKid: string; wrapped: string }): Promise<void> {
    const key = this.keys.get(dataKeyId);
    if (key?.masterKid === fromMasterKid) this.keys.set(dataKeyId, { ...key, ...to });
  }

  async deleteByOrganization(organizationId: string): Promise<number> {
    const doomed = this.all().filter((key) => key.organizationId === organizationId);
    for (const key of doomed) this.keys.delete(key.id);
    return doomed.length;
  }

  private findActive(organizationId: string, customerOrganizationId: string | null): StoredDataKey | undefined {
    return this.all().find(
      (key) =>
        key.organizationId === organizationId && key.customerOrganizationId === customerOrganizationId && key.active,
    );
  }

  /** Every stored key, for assertions. */
  all(): StoredDataKey[] {
    return [...this.keys.values()];
  }
}
