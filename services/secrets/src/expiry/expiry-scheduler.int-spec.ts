import { type PostgresEventStore } from '@platform/event-store';
import { type TestDatabase, createTestDatabase } from '@platform/testing';
import pino from 'pino';
import { type VendorUser } from '@platform/messaging';
import { devMasterKeyMaterial } from '../../test/support/dev-master-keys';
import { activeMasterKeyBytes, openKeyRing } from '../secrets-runtime';
import { openSecretsStore } from '../secrets.migrations';
import { IdempotencyStore } from '../secrets/idempotency';
import { type SecretScope } from '../secrets/secret';
import { SecretsService } from '../secrets/secrets.service';
import { SECRET_EXPIRED, SECRET_EXPIRING, expiryStreamId } from './expiry-notice';
import { ExpiryScheduler } from './expiry-scheduler';

const DAY = 24 * 60 * 60_000;
const LEAD = 7 * DAY;
const t0 = new Date('2026-03-01T00:00:00.000Z');
const later = (ms: number) => new Date(t0.getTime() + ms);
const admin = (org: string): VendorUser => ({ orgType: 'vendor', org, sub: `admin@${org}`, role: 'admin' });

describe('ExpiryScheduler (real Postgres)', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let secrets: SecretsService;
  let now = t0;
  const scheduler = () =>
    new ExpiryScheduler(store, { leadMs: LEAD, scanIntervalMs: 60_000, clock: () => now }, pino({ level: 'silent' }));

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openSecretsStore(database.url);
    const keyRing = await openKeyRing(store, devMasterKeyMaterial);
    const idempotency = new IdempotencyStore(store, activeMasterKeyBytes(devMasterKeyMaterial));
    secrets = new SecretsService(store, keyRing, idempotency, undefined, () => now);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const expiry = (expiresAt?: Date) => (expiresAt ? { expiresAt: expiresAt.toISOString() } : {});
  const create = (scope: SecretScope, key: string, expiresAt?: Date) =>
    secrets.create(admin(scope.organizationId), {
      key,
      value: 'expiry-scheduler-spec-value',
      ...(scope.customerOrganizationId ? { customerOrganizationId: scope.customerOrganizationId } : {}),
      ...expiry(expiresAt),
    } as Parameters<SecretsService['create']>[1]);
  const notices = async (scope: SecretScope, key: string, version: number) =>
    (
      await store.query<{ type: string; data: { version: number; expiresAt: string; key: string } }>(
        'select type, data from events where stream_id = $1 order by stream_version',
        [expiryStreamId(scope, key, version)],
      )
    ).map((row) => ({ type: row.type, ...row.data }));

  it('appends SecretExpiring once inside the lead time and SecretExpired once at the expiry, across instances', async () => {
    const scope = { organizationId: 'exp-acme', customerOrganizationId: 'exp-globex' };
    const expiresAt = later(30 * DAY);
    await create(scope, 'API_KEY', expiresAt);
    const [a, b] = [scheduler(), scheduler()];

    now = later(30 * DAY - LEAD - 1000);
    expect(await a.scan()).toEqual({ appended: 0, lost: 0 });

    now = later(30 * DAY - LEAD);
    const first = await Promise.all([a.scan(), b.scan()]);
    expect(first.reduce((sum, report) => sum + report.appended, 0)).toBe(1);
    expect(await notices(scope, 'API_KEY', 1)).toEqual([
      {
        type: SECRET_EXPIRING,
        organizationId: 'exp-acme',
        customerOrganizationId: 'exp-globex',
        key: 'API_KEY',
        version: 1,
        expiresAt: expiresAt.toISOString(),
      },
    ]);
    // Rescans before the expiry owe nothing.
    now = later(30 * DAY - 1);
    expect(await a.scan()).toEqual({ appended: 0, lost: 0 });

    now = expiresAt;
    const second = await Promise.all([a.scan(), b.scan(), scheduler().scan()]);
    expect(second.reduce((sum, report) => sum + report.appended, 0)).toBe(1);
    expect((await notices(scope, 'API_KEY', 1)).map((n) => n.type)).toEqual([SECRET_EXPIRING, SECRET_EXPIRED]);

    // A restarted instance, much later, finds nothing owed.
    now = later(90 * DAY);
    expect(await scheduler().scan()).toEqual({ appended: 0, lost: 0 });
  });

  it('owes both notices, in order and in one append, for a value that expired while no instance ran', async () => {
    const scope = { organizationId: 'exp-down', customerOrganizationId: null };
    now = t0;
    await create(scope, 'TOKEN', later(DAY));
    now = later(10 * DAY);
    expect(await scheduler().scan()).toEqual({ appended: 2, lost: 0 });
    expect((await notices(scope, 'TOKEN', 1)).map((n) => n.type)).toEqual([SECRET_EXPIRING, SECRET_EXPIRED]);
  });

  it('says nothing about a value replaced or deleted before its expiry, nor one without expiry', async () => {
    const scope = { organizationId: 'exp-replaced', customerOrganizationId: null };
    now = t0;
    await create(scope, 'ROTATED', later(DAY));
    await secrets.update(admin(scope.organizationId), {
      key: 'ROTATED',
      value: 'expiry-scheduler-spec-value-2',
    } as Parameters<SecretsService['update']>[1]);
    await create(scope, 'GONE', later(DAY));
    await secrets.delete(admin(scope.organizationId), { key: 'GONE' } as Parameters<SecretsService['delete']>[1]);
    await create(scope, 'FOREVER');
    now = later(10 * DAY);
    await scheduler().scan();
    for (const [key, version] of [
      ['ROTATED', 1],
      ['ROTATED', 2],
      ['GONE', 1],
      ['FOREVER', 1],
    ] as const) {
      expect(await notices(scope, key, version)).toEqual([]);
    }
  });
});
