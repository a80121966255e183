import { randomBytes } from 'node:crypto';
import { type KeyMaterial } from '@platform/config';
import { type PostgresEventStore } from '@platform/event-store';
import { type TestDatabase, createTestDatabase } from '@platform/testing';
import { devMasterKeyMaterial, devMasterKeys } from '../../test/support/dev-master-keys';
import { secretEventMessage } from '../outbox/secret-event-publisher';
import { openSecretsStore } from '../secrets.migrations';
import { SecretsOperations } from './secrets-operations';

const actor = { sub: 'ops:spec', org: 'platform', role: 'admin' };

/** The dev master key behind a new active one, as an operator lists them to rotate. */
const rotatedMasterKeys: KeyMaterial = {
  json: {
    keys: [
      { kty: 'oct', kid: 'spec-master-2', alg: 'A256KW', use: 'enc', k: randomBytes(32).toString('base64url') },
      ...devMasterKeys.keys,
    ],
  },
  source: 'test',
  isDevDefault: false,
};

describe('key management ops are events', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openSecretsStore(database.url);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const eventsOf = async (organizationId: string) =>
    (await store.readStream(`organization:${organizationId}`)).events.map((event) => ({
      type: event.type,
      data: event.data,
      actor: (event.metadata as { actor: unknown }).actor,
      message: secretEventMessage(event),
    }));

  it('records `keys rotate` as DataKeyRotated, published on the organization’s subject', async () => {
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    let dataKeyId: string;
    try {
      dataKeyId = await ops.rotateOrganizationKey('rot-acme', actor);
    } finally {
      await ops.close();
    }
    const [rotated] = await eventsOf('rot-acme');
    expect(rotated).toMatchObject({ type: 'DataKeyRotated', data: { organizationId: 'rot-acme', dataKeyId }, actor });
    expect(rotated.message.subject).toBe('secrets.events.rot-acme.DataKeyRotated');
    expect(JSON.parse(Buffer.from(rotated.message.payload).toString())).toMatchObject({
      type: 'DataKeyRotated',
      organizationId: 'rot-acme',
      actor: { sub: 'ops:spec', org: 'platform', role: 'admin' },
    });
  });

  it("rotates one customer's key alone (`keys rotate --customer`), named in its DataKeyRotated", async () => {
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    let vendorKey: string;
    let customerKey: string;
    try {
      vendorKey = await ops.rotateOrganizationKey('rot-initech', actor);
      customerKey = await ops.rotateOrganizationKey('rot-initech', actor, 'rot-customer');
    } finally {
      await ops.close();
    }
    const active = await store.query<{ id: string; customer_id: string }>(
      `select id, customer_id from data_key where organization_id = 'rot-initech' and active order by customer_id`,
    );
    expect(active).toEqual([
      { id: vendorKey, customer_id: '' },
      { id: customerKey, customer_id: 'rot-customer' },
    ]);
    const [, rotated] = await eventsOf('rot-initech');
    expect(rotated.data).toEqual({
      organizationId: 'rot-initech',
      dataKeyId: customerKey,
      customerOrganizationId: 'rot-customer',
    });
    expect(JSON.parse(Buffer.from(rotated.message.payload).toString())).toMatchObject({
      type: 'DataKeyRotated',
      organizationId: 'rot-initech',
      customerOrganizationId: 'rot-customer',
    });
  });

  it('records `keys rotate-master` as one DataKeysRewrapped per organization, counting its rewrapped keys', async () => {
    const before = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      await before.rotateOrganizationKey('rot-globex', actor);
      await before.rotateOrganizationKey('rot-globex', actor);
    } finally {
      await before.close();
    }
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: rotatedMasterKeys });
    try {
      expect(await ops.rotateMasterKey(undefined, actor)).toBe(5);
      // Nothing left to rewrap: nothing to record.
      expect(await ops.rotateMasterKey(undefined, actor)).toBe(0);
    } finally {
      await ops.close();
    }
    const rewrapped = async (organizationId: string) =>
      (await eventsOf(organizationId)).filter((event) => event.type === 'DataKeysRewrapped');
    expect(await rewrapped('rot-acme')).toEqual([
      expect.objectContaining({ data: { organizationId: 'rot-acme', masterKid: 'spec-master-2', dataKeys: 1 } }),
    ]);
    expect(await rewrapped('rot-globex')).toEqual([
      expect.objectContaining({ data: { organizationId: 'rot-globex', masterKid: 'spec-master-2', dataKeys: 2 } }),
    ]);
    const [event] = await rewrapped('rot-globex');
    expect(event.message.subject).toBe('secrets.events.rot-globex.DataKeysRewrapped');
    // Key ids only: no key material in the event.
    expect(JSON.stringify(event)).not.toContain((rotatedMasterKeys.json as { keys: { k: string }[] }).keys[0].k);
  });
});
