import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { type CustomerUser, type VendorUser, userScope } from '@platform/messaging';
import { type TestDatabase, createTestDatabase } from '@platform/testing';
import { devMasterKeyMaterial } from '../../test/support/dev-master-keys';
import { SecretsOperations } from '../ops/secrets-operations';
import { activeMasterKeyBytes } from '../secrets-runtime';
import { openSecretsStore } from '../secrets.migrations';
import { IdempotencyStore, idempotencyPrincipal } from './idempotency';

const vendorUser = (org: string): VendorUser => ({ orgType: 'vendor', org, sub: 'user-1', role: 'admin' });
const customerUser = (vendorOrg: string, org: string): CustomerUser => ({
  orgType: 'customer',
  org,
  vendorOrg,
  sub: 'user-1',
  role: 'read_write',
});
const SAME_REQUEST = '{"key":"DB_PASSWORD","value":"idempotency-spec-value"}';

describe('IdempotencyStore: fingerprints per tenant', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let idempotency: IdempotencyStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openSecretsStore(database.url);
    idempotency = new IdempotencyStore(store, activeMasterKeyBytes(devMasterKeyMaterial));
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const scope = (principal: VendorUser | CustomerUser, idempotencyKey: string = randomUUID()) => ({
    principal,
    subject: 'secrets.v1.create',
    idempotencyKey,
    target: userScope(principal, undefined),
  });
  const storedHashes = async (principal: VendorUser | CustomerUser) =>
    (
      await store.query<{ request_hash: string }>('select request_hash from idempotency_key where principal = $1', [
        idempotencyPrincipal(principal),
      ])
    ).map((row) => row.request_hash);

  it('keys each organization’s fingerprints apart: the same request of two tenants never shares one', async () => {
    const [acme, globex] = [vendorUser('idem-acme'), vendorUser('idem-globex')];
    await idempotency.reserve(scope(acme, 'same-key'), SAME_REQUEST);
    await idempotency.reserve(scope(globex, 'same-key'), SAME_REQUEST);
    const [[acmeHash], [globexHash]] = [await storedHashes(acme), await storedHashes(globex)];
    expect(acmeHash).toMatch(/^v2\.[A-Za-z0-9_-]{43}$/);
    expect(globexHash).not.toBe(acmeHash);
    // A customer's records are its vendor's tenant.
    expect(idempotency.fingerprint('idem-acme', SAME_REQUEST)).toBe(acmeHash);
    expect(idempotency.fingerprint('idem-globex', SAME_REQUEST)).toBe(globexHash);
  });

  it('still answers a retry of a record the previous release wrote with its single key, and refuses another body', async () => {
    const principal = vendorUser('idem-legacy');
    const eventId = randomUUID();
    const legacyKey = Buffer.from(
      hkdfSync(
        'sha256',
        activeMasterKeyBytes(devMasterKeyMaterial),
        Buffer.alloc(0),
        'secrets/idempotency-request-fingerprint',
        32,
      ),
    );
    await store.query(
      `insert into idempotency_key (principal, subject, idempotency_key, request_hash, event_id, expires_at)
       values ($1, 'secrets.v1.create', 'legacy', $2, $3, now() + interval '1 hour')`,
      [
        idempotencyPrincipal(principal),
        createHmac('sha256', legacyKey).update(SAME_REQUEST).digest('base64url'),
        eventId,
      ],
    );
    expect(await idempotency.reserve(scope(principal, 'legacy'), SAME_REQUEST)).toEqual({ first: false, eventId });
    await expect(
      idempotency.reserve(scope(principal, 'legacy'), '{"key":"DB_PASSWORD","value":"other"}'),
    ).rejects.toThrow('this Idempotency-Key was already used with a different request');
  });

  it('is removed by a purge of the organization, its customers’ users included, and no other organization’s', async () => {
    const purged = [vendorUser('idem-purged'), customerUser('idem-purged', 'idem-purged-customer')];
    const kept = [vendorUser('idem-kept'), customerUser('idem-kept', 'idem-purged')];
    for (const principal of [...purged, ...kept]) await idempotency.reserve(scope(principal), SAME_REQUEST);
    // The previous release's `<org>/<sub>` form.
    await store.query(
      `insert into idempotency_key (principal, subject, idempotency_key, request_hash, event_id, expires_at)
       values ('idem-purged/user-1', 'secrets.v1.create', 'old-form', 'x', $1, now() + interval '1 hour')`,
      [randomUUID()],
    );

    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      await ops.purgeOrganization('idem-purged');
    } finally {
      await ops.close();
    }

    for (const principal of purged) expect([principal.org, await storedHashes(principal)]).toEqual([principal.org, []]);
    for (const principal of kept) expect(await storedHashes(principal)).toHaveLength(1);
    expect(await store.query("select 1 from idempotency_key where principal = 'idem-purged/user-1'")).toEqual([]);
  });
});
