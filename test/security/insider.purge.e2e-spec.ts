// `secrets org purge` must make every secrets instance forget the organization at once, under the NATS permissions
// that ship (deploy/nats/nats-server.conf), not just under the open test server; and an instance whose NATS user may
// not hear purges (or its own subjects) must refuse to start rather than run deaf.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsConnection, connect, headers as natsHeaders } from 'nats';
import { natsCredentials } from '@platform/messaging';
import {
  type ConfiguredNatsServer,
  PlaintextValues,
  ResolveCaller,
  type TestDatabase,
  type TestService,
  TestTokens,
  createTestDatabase,
  eventually,
  startConfiguredNatsServer,
  startTestService,
  testTenants,
  natsServerBinary,
} from '@platform/testing';
import { SecretsOperations } from '../../services/secrets/src/ops/secrets-operations';
import { secretsService } from '../../services/secrets/src/secrets.definition';
import { SecretsRuntime } from '../../services/secrets/src/secrets-runtime';
import { devMasterKeyMaterial } from '../../services/secrets/test/support/dev-master-keys';

const NATS_CONF = join(__dirname, '../../deploy/nats/nats-server.conf');
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const { vendor } = testTenants();
const plaintexts = new PlaintextValues();

/** The shipped configuration, with `edit` applied, on a private port and store directory. */
async function startNats(edit: (conf: string) => string = (conf) => conf): Promise<ConfiguredNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'insider-purge-'));
  const path = join(dir, 'nats-server.conf');
  writeFileSync(path, edit(readFileSync(NATS_CONF, 'utf8')));
  const server = await startConfiguredNatsServer(path, {
    binary: natsServerBinary(),
    probeUser: 'ops',
    probePassword: 'dev-ops-password',
  });
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function startSecrets(natsUrl: string, databaseUrl: string): Promise<TestService> {
  return startTestService(secretsService, {
    NATS_SUBJECT_PREFIX: '',
    NATS_URL: natsUrl,
    NATS_USER: 'secrets',
    NATS_PASSWORD: 'dev-secrets-password',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
  });
}

describe('insider: purge under the shipped NATS configuration', () => {
  let server: ConfiguredNatsServer;
  let database: TestDatabase;
  const instances: TestService[] = [];
  const connections: NatsConnection[] = [];
  let client: NatsConnection;
  let render: NatsConnection;
  let admin: string;
  /** Render's side of resolve: a reply key its token confirms (`cnf.jkt`). */
  let renderCaller: ResolveCaller;

  async function request<T>(connection: NatsConnection, subject: string, body: object, token: string): Promise<T> {
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${token}`);
    const reply = await connection.request(subject, encoder.encode(JSON.stringify(body)), { headers, timeout: 10_000 });
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
    return JSON.parse(decoder.decode(reply.data)) as T;
  }

  async function resolve(keys: string[]): Promise<Record<string, { value: string }>> {
    const body = renderCaller.request({ organizationId: vendor, keys });
    const reply = await request<{ ciphertext: string; signature: string }>(
      render,
      'secrets.v1.resolve',
      body,
      renderCaller.token,
    );
    return ((await renderCaller.open(body, reply)) as { values: Record<string, { value: string }> }).values;
  }

  beforeAll(async () => {
    server = await startNats();
    database = await createTestDatabase();
    // One at a time: both migrate the same database.
    for (let i = 0; i < 2; i++) instances.push(await startSecrets(server.url, database.url));
    for (const user of ['client', 'render'] as const) {
      connections.push(await connect({ servers: server.url, ...natsCredentials(user, `dev-${user}-password`) }));
    }
    [client, render] = connections;
    const tokens = await TestTokens.create();
    [admin, renderCaller] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      ResolveCaller.create(tokens, 'deployer', ['secrets:resolve']),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    for (const instance of instances) await instance.close();
    await server?.stop();
    await database?.drop();
  });

  it('makes both instances drop the purged organization’s data keys and plaintext values at once', async () => {
    const runtimes = instances.map((instance) => instance.app.get(SecretsRuntime));
    const secret = plaintexts.next('purged');
    await request(client, 'secrets.v1.create', { key: 'PURGED_KEY', value: secret }, admin);
    // Requests are shared by the queue group: resolve until both instances hold the key and the value.
    await eventually(
      'both instances cached the data key and the value',
      async () => {
        expect((await resolve(['PURGED_KEY'])).PURGED_KEY.value).toBe(secret);
        return runtimes.every((runtime) => runtime.keyRing.holdsKeysOf(vendor) && runtime.values.size > 0);
      },
      { timeoutMs: 20_000, intervalMs: 10 },
    );

    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      expect(await ops.purgeOrganization(vendor)).toMatchObject({ dataKeysDeleted: 1, secretsRemoved: 1 });
    } finally {
      await ops.close();
    }
    // The caches' TTLs are minutes (values) and a minute (keys): only OrganizationPurged can clear them this soon.
    await eventually(
      'both instances forgot the purged organization',
      () => runtimes.every((runtime) => !runtime.keyRing.holdsKeysOf(vendor) && runtime.values.size === 0),
      { timeoutMs: 5_000, intervalMs: 20 },
    );
    expect(instances.flatMap((instance) => instance.logs).join('')).not.toMatch(/permissions violation/i);
    expect(instances.flatMap((instance) => instance.logs).join('')).not.toContain(secret);
  });
});

describe('insider: a secrets instance that could not hear purges', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it.each([
    [
      'OrganizationPurged (the earlier shipped configuration)',
      ', "secrets.events.*.OrganizationPurged"',
      /secrets\.events\.\*\.OrganizationPurged/,
    ],
    ['its own request subjects', '"secrets.v1.>", ', /secrets\.v1\.create, .*secrets\.v1\.resolve\b/],
  ])('refuses to start when NATS refuses it %s', async (_label, grant, refused) => {
    const server = await startNats((conf) => {
      const withoutGrant = conf.replace(grant, '');
      expect(withoutGrant).not.toBe(conf);
      return withoutGrant;
    });
    try {
      const started = startSecrets(server.url, database.url);
      await expect(started).rejects.toThrow(/NATS refused the subscription to .*permissions violation/);
      await expect(started).rejects.toThrow(refused);
    } finally {
      await server.stop();
    }
  });
});
