// A secrets write replies only once its event is on SECRETS_EVENTS (so redaction can know the value before any line
// carrying it is shipped), whichever instance publishes; resolve releases no value whose event is not out yet.
import { create } from '@bufbuild/protobuf';
import { CreateSecretRequestSchema, ResolveSecretsRequestSchema } from '@platform/contracts';
import { generateReplyKeyPair, newReplyNonce, replyKeyThumbprint } from '@platform/crypto';
import { type ServicePrincipal, type VendorUser, prefixedStreamName } from '@platform/messaging';
import {
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  eventually,
  PlaintextValues,
  startTestPlatform,
  testTenants,
} from '@platform/testing';
import { type JetStreamManager } from 'nats';
import { type PublicationWatch, SecretPublication } from '../src/outbox/secret-publication';
import { IdempotencyStore } from '../src/secrets/idempotency';
import { SecretsService } from '../src/secrets/secrets.service';
import { loadSecretsConfig, secretsService } from '../src/secrets.definition';
import { SecretsRuntime, activeMasterKeyBytes } from '../src/secrets-runtime';

const { vendor } = testTenants();
const plaintexts = new PlaintextValues();
const WRITES = 12;

interface SecretEventJson {
  readonly eventId: string;
  readonly key?: string;
  readonly version: number;
}

describe('secrets writes reply after their event is published', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let prefix: string;
  let instances: readonly TestService[];
  let client: TestNatsClient;
  let jsm: JetStreamManager;
  let admin: string;
  /** `<key> v<version>` of every change event seen on `secrets.events.>`, in arrival order. */
  const announced: string[] = [];

  const runtimeOf = (service: TestService) => service.app.get(SecretsRuntime);

  beforeAll(async () => {
    // The first instance takes the outbox lock; the second serves requests but learns of publications by NOTIFY.
    platform = await startTestPlatform([secretsService], { env: { LOG_LEVEL: 'warn' } });
    ({ database, prefix, client, services: instances } = platform);
    await eventually('the first instance holds the outbox lock', () => runtimeOf(instances[0]).outbox.isPublishing, {
      intervalMs: 10,
    });
    await platform.start(secretsService);
    jsm = await client.connection.jetstreamManager();
    // Same connection as the requests: the server writes to it in order, so an event published before the reply
    // was sent is seen here before the reply resolves.
    client.connection.subscribe(`${prefix}secrets.events.${vendor}.>`, {
      callback: (_error, message) => {
        const event = message.json<SecretEventJson>();
        if (event.key) announced.push(`${event.key} v${event.version}`);
      },
    });
    admin = await platform.tokens.vendor(vendor, 'admin');
  }, 60_000);

  afterAll(() => platform?.close());

  /** The event of this key and version, read back from the SECRETS_EVENTS stream itself. */
  async function storedEvent(subject: string): Promise<SecretEventJson> {
    const message = await jsm.streams.getMessage(prefixedStreamName(prefix, 'SECRETS_EVENTS'), {
      last_by_subj: `${prefix}secrets.events.${vendor}.${subject}`,
    });
    return message.json<SecretEventJson>();
  }

  it('over NATS: every create, update and delete reply comes after its event is in SECRETS_EVENTS', async () => {
    for (let n = 0; n < WRITES; n++) {
      const key = `OVER_NATS_${n}`;
      const created = await client.request<{ version: number }>(
        'secrets.v1.create',
        { key, value: plaintexts.next('created') },
        { token: admin },
      );
      expect(created.body.version).toBe(1);
      expect(announced).toContain(`${key} v1`);
      expect(await storedEvent('SecretCreated')).toMatchObject({ key, version: 1 });

      const updated = await client.request<{ version: number }>(
        'secrets.v1.update',
        { key, value: plaintexts.next('updated') },
        { token: admin, headers: { 'Idempotency-Key': `update-${key}` } },
      );
      expect(updated.body.version).toBe(2);
      expect(announced).toContain(`${key} v2`);
      expect(await storedEvent('SecretValueUpdated')).toMatchObject({ key, version: 2 });

      await client.request('secrets.v1.delete', { key }, { token: admin });
      expect(announced).toContain(`${key} v3`);
      expect(await storedEvent('SecretDeleted')).toMatchObject({ key, version: 3 });
    }
  });

  it('on the instance that does not publish: its write resolves after the other instance published the event', async () => {
    const [publishing, standby] = instances.map(runtimeOf);
    expect([publishing.outbox.isPublishing, standby.outbox.isPublishing]).toEqual([true, false]);
    const principal: VendorUser = { sub: `admin@${vendor}`, org: vendor, orgType: 'vendor', role: 'admin' };
    for (let n = 0; n < WRITES; n++) {
      const key = `STANDBY_${n}`;
      const request = create(CreateSecretRequestSchema, { key, value: plaintexts.next('standby') });
      const snapshot = await standby.secrets.create(principal, request);
      expect(snapshot.version).toBe(1);
      expect(await storedEvent('SecretCreated')).toMatchObject({ key, version: 1 });
    }
  });

  it('resolve hands out a value only once its event is published', async () => {
    const [, standby] = instances.map(runtimeOf);
    const principal: VendorUser = { sub: `admin@${vendor}`, org: vendor, orgType: 'vendor', role: 'admin' };
    const { publicJwk } = await generateReplyKeyPair();
    const render: ServicePrincipal = {
      sub: 'service:render',
      org: 'render',
      orgType: 'service',
      scopes: new Set(['secrets:resolve']),
      confirmedKey: replyKeyThumbprint(publicJwk),
    };
    for (let n = 0; n < WRITES; n++) {
      const key = `RESOLVED_${n}`;
      // The write and a resolve racing it: if the resolve sees the value, its event is already out.
      const written = standby.secrets.create(
        principal,
        create(CreateSecretRequestSchema, { key, value: plaintexts.next('resolved') }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      const resolved = await standby.resolver.resolve(
        render,
        create(ResolveSecretsRequestSchema, {
          organizationId: vendor,
          keys: [key],
          replyKey: { ...publicJwk },
          nonce: newReplyNonce(),
        }),
      );
      if (resolved.missing.length === 0) expect(await storedEvent('SecretCreated')).toMatchObject({ key });
      await written;
    }
  });

  it('after a publication timeout, a retry with the same Idempotency-Key answers with the stored write once it is out', async () => {
    const [publishing] = instances.map(runtimeOf);
    // The first wait times out (as while JetStream is down); later ones ask the real outbox.
    let timeouts = 1;
    const flaky: PublicationWatch = {
      waitUntilPublished: (at, timeoutMs) =>
        timeouts-- > 0 ? Promise.resolve(false) : publishing.outbox.waitUntilPublished(at, timeoutMs),
    };
    const { masterKeys } = loadSecretsConfig({ NODE_ENV: 'test', DATABASE_URL: database.url });
    const secrets = new SecretsService(
      publishing.store,
      publishing.keyRing,
      new IdempotencyStore(publishing.store, activeMasterKeyBytes(masterKeys)),
      new SecretPublication(flaky, 500),
    );
    const principal: VendorUser = { sub: `admin@${vendor}`, org: vendor, orgType: 'vendor', role: 'admin' };
    const request = create(CreateSecretRequestSchema, { key: 'RETRIED', value: plaintexts.next('retried') });

    await expect(secrets.create(principal, request, { idempotencyKey: 'retried-1' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('a retry with the same Idempotency-Key returns its result') as string,
    });
    const retried = await secrets.create(principal, request, { idempotencyKey: 'retried-1' });

    expect(retried).toMatchObject({ key: 'RETRIED', version: 1 });
    expect(await storedEvent('SecretCreated')).toMatchObject({ key: 'RETRIED', version: 1 });
    const appended = await publishing.store.query<{ count: number }>(
      `select count(*)::int as count from events where stream_id like '%:RETRIED'`,
    );
    expect(appended).toEqual([{ count: 1 }]);
  });
});
