import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  CreateSecretRequestSchema,
  DeleteSecretRequestSchema,
  GetSecretHistoryRequestSchema,
  GetSecretRequestSchema,
  ListSecretsRequestSchema,
  RestoreSecretRequestSchema,
  RollbackSecretRequestSchema,
  UpdateSecretRequestSchema,
} from '@platform/contracts';
import { DataKeyRing, MasterKeyRing } from '@platform/crypto';
import { type InlineProjection, type PostgresEventStore } from '@platform/event-store';
import { type VendorUser } from '@platform/messaging';
import { type TestDatabase, createTestDatabase } from '@platform/testing';
import { PostgresDataKeyStore } from '../src/keys/data-key.repository';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { IdempotencyStore } from '../src/secrets/idempotency';
import { SecretViewProjection } from '../src/secrets/secret-view.projection';
import { SecretsErrorCode } from '../src/secrets/secrets.error';
import { SecretsService } from '../src/secrets/secrets.service';
import { activeMasterKeyBytes } from '../src/secrets-runtime';
import { openSecretsStore } from '../src/secrets.migrations';
import { devMasterKeyMaterial, devMasterKeys } from './support/dev-master-keys';

const vendorAdmin = (org: string): VendorUser => ({ sub: `admin@${org}`, org, orgType: 'vendor', role: 'admin' });
const inAYear = () => new Date(Date.now() + 365 * 24 * 60 * 60_000).toISOString();

describe('rollback, restore and expiry in the store (Postgres)', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let master: MasterKeyRing;
  let secrets: SecretsService;
  let ops: SecretsOperations;

  /** A service as a process started now would run it: nothing cached in its key ring. */
  const freshService = () =>
    new SecretsService(
      store,
      new DataKeyRing(master, new PostgresDataKeyStore(store)),
      new IdempotencyStore(store, activeMasterKeyBytes(devMasterKeyMaterial)),
    );

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openSecretsStore(database.url);
    master = await MasterKeyRing.fromJwks(devMasterKeys);
    secrets = freshService();
    ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
  });

  afterAll(async () => {
    await ops?.close();
    await store?.close();
    await database?.drop();
  });

  const admin = vendorAdmin;
  const createSecret = (
    org: string,
    key: string,
    value: string,
    extra: { customerOrganizationId?: string; expiresAt?: string } = {},
  ) => secrets.create(admin(org), create(CreateSecretRequestSchema, { key, value, ...extra }));
  const updateSecret = (
    org: string,
    key: string,
    value: string,
    extra: { customerOrganizationId?: string; expiresAt?: string } = {},
  ) => secrets.update(admin(org), create(UpdateSecretRequestSchema, { key, value, ...extra }));
  const deleteSecret = (org: string, key: string, customerOrganizationId?: string) =>
    secrets.delete(admin(org), create(DeleteSecretRequestSchema, { key, customerOrganizationId }));
  const rollback = (
    org: string,
    key: string,
    toVersion: number,
    extra: { customerOrganizationId?: string; expiresAt?: string } = {},
    service = secrets,
  ) => service.rollback(admin(org), create(RollbackSecretRequestSchema, { key, toVersion, ...extra }));
  const restore = (org: string, key: string, extra: { customerOrganizationId?: string; expiresAt?: string } = {}) =>
    secrets.restore(admin(org), create(RestoreSecretRequestSchema, { key, ...extra }));
  /** The plaintext of a secret's current value, opened as resolve opens it (bound to its version and event). */
  const currentValue = async (org: string, key: string, customer = '') => {
    const [row] = await store.query<{ value: string; stream_id: string; version: number; event_id: string }>(
      `select v.value, v.stream_id, v.version, e.event_id from secret_view v
       join events e on e.stream_id = v.stream_id and e.stream_version = v.version
       where v.organization_id = $1 and v.customer_id = $2 and v.key = $3`,
      [org, customer, key],
    );
    const ring = new DataKeyRing(master, new PostgresDataKeyStore(store));
    return ring.decryptValue(row.value, {
      organizationId: org,
      customerOrganizationId: customer === '' ? null : customer,
      streamId: row.stream_id,
      version: row.version,
      eventId: row.event_id,
    });
  };
  const viewRows = () => store.query('select * from secret_view order by stream_id');

  it("rolls back to an earlier version's value, sealed again for the new version, and says where it came from", async () => {
    const org = `rb${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'API_KEY', 'rollback-value-1');
    await updateSecret(org, 'API_KEY', 'rollback-value-2');
    const rolled = await rollback(org, 'API_KEY', 1);
    expect(rolled).toMatchObject({ version: 3, live: true, affectedDeployments: { count: 0, deployments: [] } });
    expect(await currentValue(org, 'API_KEY')).toBe('rollback-value-1');
    // Not the same ciphertext: bound to version 3 and its own event.
    const values = await store.query<{ value: string }>(
      `select data->>'value' as value from events where stream_id = $1 order by stream_version`,
      [`secret:${org}:_:API_KEY`],
    );
    expect(new Set(values.map((v) => v.value)).size).toBe(3);
    const history = await secrets.history(admin(org), create(GetSecretHistoryRequestSchema, { key: 'API_KEY' }));
    expect(history.map(({ version, type, fromVersion }) => ({ version, type, fromVersion }))).toEqual([
      { version: 1, type: 'SecretCreated', fromVersion: undefined },
      { version: 2, type: 'SecretValueUpdated', fromVersion: undefined },
      { version: 3, type: 'SecretRolledBack', fromVersion: 1 },
    ]);
    // A rollback's own version can be rolled back to as well.
    await updateSecret(org, 'API_KEY', 'rollback-value-4');
    expect(await rollback(org, 'API_KEY', 3)).toMatchObject({ version: 5 });
    expect(await currentValue(org, 'API_KEY')).toBe('rollback-value-1');
  });

  it('refuses a version that holds no value, a deleted key, and a stale expectedVersion', async () => {
    const org = `rbno${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'API_KEY', 'refused-value-1');
    await expect(rollback(org, 'API_KEY', 7)).rejects.toMatchObject({
      code: SecretsErrorCode.NOT_FOUND,
      message: 'secret "API_KEY" has no version 7 with a value in this scope',
    });
    await deleteSecret(org, 'API_KEY');
    await createSecret(org, 'API_KEY', 'refused-value-3');
    // Version 2 is the delete: no value.
    await expect(rollback(org, 'API_KEY', 2)).rejects.toMatchObject({ code: SecretsErrorCode.NOT_FOUND });
    // Version 1, from before the delete, still holds one.
    expect(await rollback(org, 'API_KEY', 1)).toMatchObject({ version: 4 });
    await expect(
      secrets.rollback(
        admin(org),
        create(RollbackSecretRequestSchema, { key: 'API_KEY', toVersion: 1, expectedVersion: 3 }),
      ),
    ).rejects.toMatchObject({ code: SecretsErrorCode.VERSION_CONFLICT });
    await expect(rollback(org, 'API_KEY', 0)).rejects.toMatchObject({
      code: SecretsErrorCode.INVALID_ARGUMENT,
      message: 'toVersion must be a version from 1 to 2147483647',
    });
    await deleteSecret(org, 'API_KEY');
    await expect(rollback(org, 'API_KEY', 1)).rejects.toMatchObject({
      code: SecretsErrorCode.NOT_FOUND,
      message: 'secret "API_KEY" not found in this scope',
    });
  });

  it('refuses to roll back to a version whose value is unrecoverable (its data key deleted)', async () => {
    const org = `rbgone${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'API_KEY', 'destroyed-value-1');
    const [{ id: oldKey }] = await store.query<{ id: string }>('select id from data_key where organization_id = $1', [
      org,
    ]);
    await ops.rotateOrganizationKey(org);
    const service = freshService();
    await service.update(admin(org), create(UpdateSecretRequestSchema, { key: 'API_KEY', value: 'destroyed-value-2' }));
    // What destroying a version or shredding a scope does to a value: its data key is gone for good.
    await store.query('delete from data_key where id = $1', [oldKey]);
    await expect(rollback(org, 'API_KEY', 1, {}, freshService())).rejects.toMatchObject({
      code: SecretsErrorCode.FAILED_PRECONDITION,
      message: 'secret "API_KEY" version 1 was destroyed: its value cannot be recovered',
      details: { key: 'API_KEY', version: 1, reason: 'destroyed' },
    });
    expect(await rollback(org, 'API_KEY', 2, {}, freshService())).toMatchObject({ version: 3 });
  });

  it("restores a deleted key's last value as a new version, and refuses a live one", async () => {
    const org = `rs${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'TOKEN', 'restore-value-1', { customerOrganizationId: 'cust' });
    await updateSecret(org, 'TOKEN', 'restore-value-2', { customerOrganizationId: 'cust' });
    await deleteSecret(org, 'TOKEN', 'cust');
    const restored = await restore(org, 'TOKEN', { customerOrganizationId: 'cust' });
    expect(restored).toMatchObject({ version: 4, live: true });
    expect(await currentValue(org, 'TOKEN', 'cust')).toBe('restore-value-2');
    const history = await secrets.history(
      admin(org),
      create(GetSecretHistoryRequestSchema, { key: 'TOKEN', customerOrganizationId: 'cust' }),
    );
    expect(history[3]).toMatchObject({ version: 4, type: 'SecretRestored', fromVersion: 2 });
    await expect(restore(org, 'TOKEN', { customerOrganizationId: 'cust' })).rejects.toMatchObject({
      code: SecretsErrorCode.FAILED_PRECONDITION,
      message: 'secret "TOKEN" is live, not deleted (never deleted, or created again since): nothing to restore',
    });
    await expect(restore(org, 'NEVER')).rejects.toMatchObject({ code: SecretsErrorCode.NOT_FOUND });
    // Re-created after a delete: live again, so nothing to restore.
    await deleteSecret(org, 'TOKEN', 'cust');
    await createSecret(org, 'TOKEN', 'restore-value-6', { customerOrganizationId: 'cust' });
    await expect(restore(org, 'TOKEN', { customerOrganizationId: 'cust' })).rejects.toMatchObject({
      code: SecretsErrorCode.FAILED_PRECONDITION,
    });
  });

  it('keeps expiresAt per value: get shows the current one, a new value without it never expires', async () => {
    const org = `ex${randomBytes(3).toString('hex')}`;
    const expiresAt = inAYear();
    expect(await createSecret(org, 'CERT', 'expiring-value-1', { expiresAt })).toMatchObject({ expiresAt });
    expect(await secrets.get(admin(org), create(GetSecretRequestSchema, { key: 'CERT' }))).toMatchObject({
      expiresAt,
    });
    const updated = await updateSecret(org, 'CERT', 'expiring-value-2');
    expect(updated.expiresAt).toBeUndefined();
    expect((await secrets.get(admin(org), create(GetSecretRequestSchema, { key: 'CERT' }))).expiresAt).toBeUndefined();
    expect(await rollback(org, 'CERT', 1, { expiresAt })).toMatchObject({ version: 3, expiresAt });
    const listed = await secrets.list(admin(org), create(ListSecretsRequestSchema, {}));
    expect(listed.secrets.map((s) => [s.key, s.expiresAt])).toEqual([['CERT', expiresAt]]);
    await expect(
      updateSecret(org, 'CERT', 'expiring-value-4', { expiresAt: '2020-01-01T00:00:00Z' }),
    ).rejects.toMatchObject({ code: SecretsErrorCode.INVALID_ARGUMENT, details: { field: 'expiresAt' } });
  });

  it('rebuilds secret_view with rollbacks, restores and expiries into exactly the rows written inline', async () => {
    const org = `rbv${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 12; i++) {
      const key = `KEY_${i}`;
      const scope = i % 2 === 0 ? {} : { customerOrganizationId: 'cust' };
      await createSecret(org, key, `rebuild-${i}-1`, { ...scope, ...(i % 3 === 0 ? { expiresAt: inAYear() } : {}) });
      await updateSecret(org, key, `rebuild-${i}-2`, { ...scope, ...(i % 4 === 0 ? { expiresAt: inAYear() } : {}) });
      if (i % 2 === 0) await rollback(org, key, 1, { ...scope, ...(i % 4 === 0 ? { expiresAt: inAYear() } : {}) });
      if (i % 3 === 0) {
        await deleteSecret(org, key, scope.customerOrganizationId);
        if (i % 2 === 0) await restore(org, key, { ...scope, expiresAt: inAYear() });
      }
    }
    const before = await viewRows();
    expect(before.some((row) => (row as { expires_at: unknown }).expires_at !== null)).toBe(true);
    for (const batchSize of [20_000, 3]) {
      await store.query(`update secret_view set value = 'damaged', version = 0, expires_at = null`);
      await ops.rebuildProjections(undefined, batchSize);
      expect(await viewRows()).toEqual(before);
    }
    const projection = new SecretViewProjection();
    const handleOnly: InlineProjection = {
      name: projection.name,
      eventTypes: projection.eventTypes,
      handle: (batch, context) => projection.handle(batch, context),
      truncate: (context) => projection.truncate(context),
    };
    for (const batchSize of [20_000, 2]) {
      await store.query(`update secret_view set value = 'damaged', version = 0, expires_at = null`);
      await store.rebuildProjection(handleOnly, { batchSize });
      expect(await viewRows()).toEqual(before);
    }
  });
});
