import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  CreateSecretRequestSchema,
  DeleteSecretRequestSchema,
  GetSecretHistoryRequestSchema,
  GetSecretRequestSchema,
  ResolveSecretsRequestSchema,
  UpdateSecretRequestSchema,
} from '@platform/contracts';
import {
  CryptoErrorCode,
  DataKeyRing,
  MasterKeyRing,
  ReplySigner,
  type ValuePlace,
  decryptWithReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type InlineProjection, type PostgresEventStore } from '@platform/event-store';
import { type KeyMaterial } from '@platform/config';
import { type ServicePrincipal, type VendorUser } from '@platform/messaging';
import { type TestDatabase, createTestDatabase, devReplySigningKey } from '@platform/testing';
import { PostgresDataKeyStore } from '../src/keys/data-key.repository';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { SecretResolver } from '../src/resolve/secret-resolver';
import { AccessLog } from '../src/resolve/access-log';
import { ResolveReplySealer } from '../src/resolve/reply-sealer';
import { ValueCache } from '../src/resolve/value-cache';
import { IdempotencyStore } from '../src/secrets/idempotency';
import { SecretViewProjection } from '../src/secrets/secret-view.projection';
import { SecretsErrorCode } from '../src/secrets/secrets.error';
import { SecretsService } from '../src/secrets/secrets.service';
import { activeMasterKeyBytes } from '../src/secrets-runtime';
import { openSecretsStore } from '../src/secrets.migrations';
import { devMasterKeyMaterial, devMasterKeys } from './support/dev-master-keys';

const vendorAdmin = (org: string): VendorUser => ({ sub: `admin@${org}`, org, orgType: 'vendor', role: 'admin' });
const redaction: ServicePrincipal = {
  sub: 'service:redaction',
  org: 'redaction',
  orgType: 'service',
  scopes: new Set(['secrets:resolve-all']),
};
/** Redaction's principal as its token confirms `replyKey` (cnf.jkt). */
const redactionConfirming = (replyKey: unknown): ServicePrincipal => ({
  ...redaction,
  confirmedKey: replyKeyThumbprint(replyKey),
});
const devSealer = () => new ResolveReplySealer(ReplySigner.fromJwk(devReplySigningKey()));

describe('secrets storage (Postgres)', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let keyRing: DataKeyRing;
  let secrets: SecretsService;
  let ops: SecretsOperations;
  let master: MasterKeyRing;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openSecretsStore(database.url);
    master = await MasterKeyRing.fromJwks(devMasterKeys);
    keyRing = new DataKeyRing(await MasterKeyRing.fromJwks(devMasterKeys), new PostgresDataKeyStore(store));
    secrets = new SecretsService(
      store,
      keyRing,
      new IdempotencyStore(store, activeMasterKeyBytes(devMasterKeyMaterial)),
    );
    ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
  });

  afterAll(async () => {
    await ops?.close();
    await store?.close();
    await database?.drop();
  });

  const createSecret = (org: string, key: string, value: string, customerOrganizationId?: string) =>
    secrets.create(vendorAdmin(org), create(CreateSecretRequestSchema, { key, value, customerOrganizationId }));
  const updateSecret = (org: string, key: string, value: string, customerOrganizationId?: string) =>
    secrets.update(vendorAdmin(org), create(UpdateSecretRequestSchema, { key, value, customerOrganizationId }));
  const deleteSecret = (org: string, key: string, customerOrganizationId?: string) =>
    secrets.delete(vendorAdmin(org), create(DeleteSecretRequestSchema, { key, customerOrganizationId }));
  const getSecret = (org: string, key: string) =>
    secrets.get(vendorAdmin(org), create(GetSecretRequestSchema, { key }));
  const secretHistory = (org: string, key: string) =>
    secrets.history(vendorAdmin(org), create(GetSecretHistoryRequestSchema, { key }));
  const viewRows = () => store.query('select * from secret_view order by stream_id');
  /** Version 1 of a stream, for values sealed directly with the key ring rather than through a write. */
  const placeAt = (streamId: string): ValuePlace => ({
    organizationId: streamId.split(':')[1],
    streamId,
    version: 1,
    eventId: '00000000-0000-4000-8000-000000000001',
  });
  /** Decrypts a stored value bound to the event that carries it (found by its ciphertext). */
  const openValue = async (ring: DataKeyRing, value: string, streamId: string) => {
    const [event] = await store.query<{ stream_version: number; event_id: string }>(
      `select stream_version, event_id from events where stream_id = $1 and data->>'value' = $2`,
      [streamId, value],
    );
    const place = { organizationId: streamId.split(':')[1], streamId, version: event.stream_version };
    return ring.decryptValue(value, { ...place, eventId: event.event_id });
  };
  /** A key ring with nothing cached, as a process started now would have. */
  const freshKeyRing = () => new DataKeyRing(master, new PostgresDataKeyStore(store));
  const notFound = { code: SecretsErrorCode.NOT_FOUND };

  it('rebuilds secret_view into exactly the rows the inline projection wrote', async () => {
    for (let i = 0; i < 30; i++) {
      const org = `rebuild${i % 3}`;
      const customer = i % 2 === 0 ? undefined : `cust${i % 4}`;
      await createSecret(org, `KEY_${i}`, `value-${i}`, customer);
      if (i % 3 === 0) await updateSecret(org, `KEY_${i}`, `value-${i}-b`, customer);
      if (i % 5 === 0) await deleteSecret(org, `KEY_${i}`, customer);
      if (i % 10 === 0) await createSecret(org, `KEY_${i}`, `value-${i}-c`, customer);
    }
    await createSecret('rebuildpurged', 'GONE', 'gone-value');
    await createSecret('rebuildpurged', 'KEPT', 'kept-value-1');
    await ops.purgeOrganization('rebuildpurged');
    // Written after the purge: an update of a purged row changes nothing, a create starts a new row.
    await store.appendToStream(
      'secret:rebuildpurged:_:KEPT',
      [
        {
          type: 'SecretDeleted',
          data: {},
          metadata: { actor: vendorAdmin('x'), occurredAt: new Date().toISOString() },
        },
      ],
      { expectedVersion: 1 },
    );
    // This service's key ring still caches the purged key: the append is refused and sealed again under a new one.
    await createSecret('rebuildpurged', 'AFTER_PURGE', 'after-purge');
    const [afterPurge] = await store.query<{ stream_id: string; value: string; data_key_id: string }>(
      `select stream_id, value, data_key_id from secret_view where organization_id = 'rebuildpurged'`,
    );
    expect(afterPurge.stream_id).toBe('secret:rebuildpurged:_:AFTER_PURGE');
    expect(await openValue(freshKeyRing(), afterPurge.value, afterPurge.stream_id)).toBe('after-purge');
    const before = await viewRows();
    expect(before.length).toBe(31);

    // 30 creates, 10 updates, 6 deletes, 3 re-creates; for the purged organization 2 creates, the purge, a delete
    // and a create after it.
    const events = 54;
    for (const batchSize of [20_000, 1, 4, 7]) {
      await store.query(`update secret_view set value = 'damaged', version = 0`);
      const progress: number[] = [];
      const report = await ops.rebuildProjections((done) => progress.push(done), batchSize);
      expect(report.events).toBe(events);
      expect(progress).toEqual([
        0,
        ...Array.from({ length: Math.ceil(events / batchSize) }, (_, n) => Math.min(events, (n + 1) * batchSize)),
      ]);
      expect(await viewRows()).toEqual(before);
    }
    // The rows written inside each append statement are also what `handle` makes of the same events.
    const projection = new SecretViewProjection();
    const handleOnly: InlineProjection = {
      name: projection.name,
      eventTypes: projection.eventTypes,
      handle: (batch, context) => projection.handle(batch, context),
      truncate: (context) => projection.truncate(context),
    };
    for (const batchSize of [20_000, 3]) {
      await store.query(`update secret_view set value = 'damaged', version = 0`);
      expect((await store.rebuildProjection(handleOnly, { batchSize })).events).toBe(events);
      expect(await viewRows()).toEqual(before);
    }
  });

  it("makes a purged organization's values undecryptable while its events remain", async () => {
    const org = `purged${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'API_KEY', 'purge-me-1');
    await updateSecret(org, 'API_KEY', 'purge-me-2');
    await createSecret(org, 'CUSTOMER_KEY', 'purge-me-3', 'acustomer');
    const [stored] = await store.query<{ stream_id: string; value: string }>(
      `select stream_id, data->>'value' as value from events where stream_id = $1 and stream_version = 1`,
      [`secret:${org}:_:API_KEY`],
    );
    expect(await openValue(keyRing, stored.value, stored.stream_id)).toBe('purge-me-1');

    const report = await ops.purgeOrganization(org);
    // The vendor level's key and the customer's.
    expect(report).toEqual({ dataKeysDeleted: 2, secretsRemoved: 2 });

    const events = await store.query<{ type: string }>(
      `select type from events where stream_id like $1 order by position`,
      [`secret:${org}:%`],
    );
    expect(events.map((event) => event.type)).toEqual(['SecretCreated', 'SecretValueUpdated', 'SecretCreated']);
    expect(await store.query('select * from secret_view where organization_id = $1', [org])).toEqual([]);
    expect(await store.query('select * from data_key where organization_id = $1', [org])).toEqual([]);
    const freshRing = new DataKeyRing(await MasterKeyRing.fromJwks(devMasterKeys), new PostgresDataKeyStore(store));
    await expect(openValue(freshRing, stored.value, stored.stream_id)).rejects.toMatchObject({
      code: CryptoErrorCode.DATA_KEY_NOT_FOUND,
    });
    const [purged] = await store.query<{ type: string; data: unknown }>(
      `select type, data from events where stream_id = $1`,
      [`organization:${org}`],
    );
    expect(purged).toEqual({ type: 'OrganizationPurged', data: { organizationId: org, dataKeysDeleted: 2 } });

    // Resolve finds nothing to release, even with a key ring that still caches the purged data key (for its TTL)
    // and with history, which reads the events themselves.
    const { publicJwk } = await generateReplyKeyPair();
    const resolver = new SecretResolver(store, keyRing, new ValueCache(), new AccessLog(store), devSealer());
    const reply = await resolver.resolve(
      redactionConfirming(publicJwk),
      create(ResolveSecretsRequestSchema, {
        organizationId: org,
        keys: ['API_KEY'],
        includeHistory: true,
        replyKey: { ...publicJwk },
        nonce: newReplyNonce(),
      }),
    );
    expect(reply.missing).toEqual(['API_KEY']);
  });

  it("after a purge, the organization's old secrets are gone and their keys can be created again", async () => {
    const org = `gone${randomBytes(3).toString('hex')}`;
    const first = await createSecret(org, 'API_KEY', 'gone-1');
    await updateSecret(org, 'API_KEY', 'gone-2');
    await createSecret(org, 'DELETED_KEY', 'gone-3');
    await deleteSecret(org, 'DELETED_KEY');
    const [oldKey] = await store.query<{ id: string }>('select id from data_key where organization_id = $1', [org]);
    await ops.purgeOrganization(org);

    await expect(getSecret(org, 'API_KEY')).rejects.toMatchObject(notFound);
    await expect(updateSecret(org, 'API_KEY', 'gone-4')).rejects.toMatchObject(notFound);
    await expect(deleteSecret(org, 'API_KEY')).rejects.toMatchObject(notFound);
    await expect(secretHistory(org, 'API_KEY')).rejects.toMatchObject(notFound);

    // Re-created in the same stream, at the next version, under a new data key.
    const again = await createSecret(org, 'API_KEY', 'again-1');
    expect(again).toMatchObject({ streamId: first.streamId, version: 3, createdBy: `admin@${org}` });
    expect(await updateSecret(org, 'API_KEY', 'again-2')).toMatchObject({ version: 4 });
    expect(await createSecret(org, 'DELETED_KEY', 'again-3')).toMatchObject({ version: 3 });
    expect(await getSecret(org, 'API_KEY')).toMatchObject({ version: 4, createdAt: again.createdAt });
    expect((await secretHistory(org, 'API_KEY')).map(({ version, type }) => [version, type])).toEqual([
      [3, 'SecretCreated'],
      [4, 'SecretValueUpdated'],
    ]);
    const [row] = await store.query<{ stream_id: string; value: string; data_key_id: string }>(
      `select stream_id, value, data_key_id from secret_view where organization_id = $1 and key = 'API_KEY'`,
      [org],
    );
    expect(row.data_key_id).not.toBe(oldKey.id);
    expect(await openValue(freshKeyRing(), row.value, row.stream_id)).toBe('again-2');
  });

  it('purges in one transaction: when the event cannot be appended, keys and rows stay', async () => {
    const org = `atomic${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'API_KEY', 'atomic-1');
    const keysBefore = await store.query('select id from data_key where organization_id = $1', [org]);
    const rowsBefore = await store.query('select * from secret_view where organization_id = $1', [org]);
    // The append fails after the keys were deleted in the same transaction.
    await store.query(`create function refuse_purge() returns trigger language plpgsql as $$
      begin raise exception 'refused for the test'; end $$`);
    await store.query(`create trigger refuse_purge before insert on events for each row
      when (new.stream_id = 'organization:${org}') execute function refuse_purge()`);
    try {
      await expect(ops.purgeOrganization(org)).rejects.toThrow('refused for the test');
    } finally {
      await store.query('drop trigger refuse_purge on events');
      await store.query('drop function refuse_purge');
    }
    expect(await store.query('select id from data_key where organization_id = $1', [org])).toEqual(keysBefore);
    expect(await store.query('select * from secret_view where organization_id = $1', [org])).toEqual(rowsBefore);
    expect(await store.query('select 1 from events where stream_id = $1', [`organization:${org}`])).toEqual([]);
    await ops.purgeOrganization(org);
    await expect(getSecret(org, 'API_KEY')).rejects.toMatchObject(notFound);
  });

  it('refuses to append a value under a data key that no longer exists', async () => {
    const org = `guard${randomBytes(3).toString('hex')}`;
    const streamId = `secret:${org}:_:API_KEY`;
    const sealed = await keyRing.encryptValue(placeAt(streamId), 'guarded');
    await ops.purgeOrganization(org);
    const metadata = { actor: vendorAdmin(org), occurredAt: new Date().toISOString() };
    const created = {
      type: 'SecretCreated',
      data: { key: 'API_KEY', scope: { organizationId: org, customerOrganizationId: null }, ...sealed },
      metadata,
    };
    await expect(store.appendToStream(streamId, [created], { expectedVersion: 'no_stream' })).rejects.toMatchObject({
      code: '23503',
      constraint: 'events_data_key_exists',
    });
    expect(await store.query('select 1 from events where stream_id = $1', [streamId])).toEqual([]);
  });

  it("refuses to append a customer's value under another customer's data key", async () => {
    const org = `guardcust${randomBytes(3).toString('hex')}`;
    const streamId = `secret:${org}:victim:API_KEY`;
    // Sealed by whoever holds the other customer's key, for the victim's place: only the guard can tell.
    const sealer = await keyRing.sealerFor(org, 'other');
    const sealed = sealer.seal({ ...placeAt(streamId), customerOrganizationId: 'other' }, 'misplaced');
    const created = {
      type: 'SecretCreated',
      data: { key: 'API_KEY', scope: { organizationId: org, customerOrganizationId: 'victim' }, ...sealed },
      metadata: { actor: vendorAdmin(org), occurredAt: new Date().toISOString() },
    };
    await expect(store.appendToStream(streamId, [created], { expectedVersion: 'no_stream' })).rejects.toMatchObject({
      code: '23503',
      constraint: 'events_data_key_exists',
    });
    expect(await store.query('select 1 from events where stream_id = $1', [streamId])).toEqual([]);
  });

  it('lets no write racing a purge become undecryptable: each lands before it (shredded) or after it', async () => {
    const org = `racing${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 10; i++) await createSecret(org, `KEY_${i}`, `racing-${i}-1`);
    let purged = false;
    const writes = Array.from({ length: 10 }, async (_, i) => {
      const outcomes: string[] = [];
      for (let round = 2; round <= 8; round++) {
        const value = `racing-${i}-${round}`;
        const startedAfter = purged;
        const write = round % 2 === 0 ? updateSecret(org, `KEY_${i}`, value) : createSecret(org, `KEY_${i}`, value);
        await write.then(
          () => outcomes.push(`${startedAfter ? 'after' : 'around'}:${value}`),
          (error: { code?: string }) => outcomes.push(`refused:${error.code}`),
        );
      }
      return outcomes;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await ops.purgeOrganization(org);
    purged = true;
    const outcomes = (await Promise.all(writes)).flat();
    expect(outcomes.every((outcome) => /^(after|around):|^refused:(NOT_FOUND|ALREADY_EXISTS)$/.test(outcome))).toBe(
      true,
    );

    const [purge] = await store.query<{ position: string }>('select position from events where stream_id = $1', [
      `organization:${org}`,
    ]);
    const values = await store.query<{ stream_id: string; value: string; after: boolean }>(
      `select stream_id, data->>'value' as value, position > $2 as after from events
       where stream_id like $1 and data ? 'value' order by position`,
      [`secret:${org}:%`, purge.position],
    );
    const ring = freshKeyRing();
    const readable = await Promise.all(
      values.map((event) =>
        openValue(ring, event.value, event.stream_id).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(values.some((event) => event.after)).toBe(true);
    expect(readable).toEqual(values.map((event) => event.after));
    // Every write acknowledged after the purge returned can be resolved, with its value.
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    const resolver = new SecretResolver(store, freshKeyRing(), new ValueCache(), new AccessLog(store), devSealer());
    const reply = await resolver.resolve(
      redactionConfirming(publicJwk),
      create(ResolveSecretsRequestSchema, {
        organizationId: org,
        keys: [],
        replyKey: { ...publicJwk },
        nonce: newReplyNonce(),
      }),
    );
    const opened = (await decryptWithReplyKey(privateKey, reply.ciphertext)) as {
      values: Record<string, { value: string }>;
    };
    for (const outcome of outcomes.filter((outcome) => outcome.startsWith('after:'))) {
      const value = outcome.slice('after:'.length);
      const key = `KEY_${value.split('-')[1]}`;
      expect(Number(opened.values[key].value.split('-')[2])).toBeGreaterThanOrEqual(Number(value.split('-')[2]));
    }
  });

  it('gives an organization exactly one first data key when many instances race to create it', async () => {
    const org = `race${randomBytes(3).toString('hex')}`;
    const master = await MasterKeyRing.fromJwks(devMasterKeys);
    const rings = Array.from({ length: 12 }, () => new DataKeyRing(master, new PostgresDataKeyStore(store)));
    const values = await Promise.all(
      rings.map((ring, i) => ring.encryptValue(placeAt(`secret:${org}:_:K${i}`), `race-${i}`)),
    );
    expect(new Set(values.map((value) => value.dataKeyId)).size).toBe(1);
    expect(await store.query('select id from data_key where organization_id = $1', [org])).toEqual([
      { id: values[0].dataKeyId },
    ]);
    const decrypted = await Promise.all(
      values.map((value, i) => rings[(i + 1) % 12].decryptValue(value.jwe, placeAt(`secret:${org}:_:K${i}`))),
    );
    expect(decrypted).toEqual(values.map((_, i) => `race-${i}`));
  });

  it('rotates an organization key for new writes and keeps old values readable', async () => {
    const org = `rotate${randomBytes(3).toString('hex')}`;
    const old = await keyRing.encryptValue(placeAt(`secret:${org}:_:K`), 'before-rotation');
    const results = await Promise.all([ops.rotateOrganizationKey(org), ops.rotateOrganizationKey(org)]);
    const active = await store.query<{ id: string }>('select id from data_key where organization_id = $1 and active', [
      org,
    ]);
    expect(active).toHaveLength(1);
    expect(results).toContain(active[0].id);
    const freshRing = new DataKeyRing(await MasterKeyRing.fromJwks(devMasterKeys), new PostgresDataKeyStore(store));
    const fresh = await freshRing.encryptValue(placeAt(`secret:${org}:_:K`), 'after-rotation');
    expect(fresh.dataKeyId).toBe(active[0].id);
    expect(await freshRing.decryptValue(old.jwe, placeAt(`secret:${org}:_:K`))).toBe('before-rotation');
  });

  it('rewraps every data key under a new master key, leaving every event as it was and recording the rewrap', async () => {
    const org = `master${randomBytes(3).toString('hex')}`;
    await createSecret(org, 'ROTATED', 'master-rotation');
    const newMaster = {
      kty: 'oct',
      kid: `test-master-${randomBytes(3).toString('hex')}`,
      k: randomBytes(32).toString('base64url'),
    };
    const rotatedKeys: KeyMaterial = {
      json: { keys: [newMaster, ...devMasterKeys.keys] },
      source: 'test',
      isDevDefault: false,
    };
    const eventsBefore = await store.query('select event_id, data from events order by position');
    const [{ count: toRewrap }] = await store.query<{ count: number }>(
      'select count(*)::int as count from data_key where master_kid <> $1',
      [newMaster.kid],
    );
    const progress: [number, number][] = [];
    const rotatedOps = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: rotatedKeys });
    try {
      expect(toRewrap).toBeGreaterThan(1);
      expect(await rotatedOps.rotateMasterKey((done, total) => progress.push([done, total]))).toBe(toRewrap);
      // The total is counted before the first key is rewrapped, then each key is reported as it is done.
      expect(progress).toEqual(Array.from({ length: toRewrap + 1 }, (_, done) => [done, toRewrap]));
    } finally {
      await rotatedOps.close();
    }
    expect(await store.query('select distinct master_kid from data_key')).toEqual([{ master_kid: newMaster.kid }]);
    const eventsAfter = await store.query<{ event_id: string; data: unknown; type: string }>(
      'select event_id, data, type from events order by position',
    );
    expect(eventsAfter.slice(0, eventsBefore.length).map(({ event_id, data }) => ({ event_id, data }))).toEqual(
      eventsBefore,
    );
    // All the rotation appends: one DataKeysRewrapped per organization whose keys it rewrapped (ARCHITECTURE.md §6).
    const appended = eventsAfter.slice(eventsBefore.length);
    expect(new Set(appended.map((event) => event.type))).toEqual(new Set(['DataKeysRewrapped']));
    expect(appended.reduce((sum, event) => sum + (event.data as { dataKeys: number }).dataKeys, 0)).toBe(toRewrap);
    const onlyNewMaster = new DataKeyRing(
      await MasterKeyRing.fromJwks({ keys: [newMaster] }),
      new PostgresDataKeyStore(store),
    );
    const [stored] = await store.query<{ stream_id: string; value: string }>(
      `select stream_id, value from secret_view where organization_id = $1`,
      [org],
    );
    expect(await openValue(onlyNewMaster, stored.value, stored.stream_id)).toBe('master-rotation');
  });

  it('group-commits concurrent access events: one event per call, several calls per transaction', async () => {
    const org = `access${randomBytes(3).toString('hex')}`;
    const accessLog = new AccessLog(store);
    const metadata = {
      actor: { sub: 'service:render', org: 'render', role: 'service' },
      occurredAt: new Date().toISOString(),
    };
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        accessLog.record(org, { type: 'SecretValuesResolved', data: { call: i }, metadata }),
      ),
    );
    const rows = await store.query<{ stream_id: string; call: number }>(
      `select stream_id, (data->>'call')::int as call from events where stream_id like $1 order by position`,
      [`access:${org}:%`],
    );
    expect(rows.map((row) => row.call).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const streams = new Set(rows.map((row) => row.stream_id));
    expect(streams.size).toBeGreaterThan(1);
    expect(streams.size).toBeLessThan(50);
  });
});
