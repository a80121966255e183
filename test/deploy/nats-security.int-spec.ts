// A service connects to a nats-server that takes only TLS and known users, with each kind of credential (password,
// nkey seed, creds file); anonymous, plain-text, uncertified and wrongly-trusting clients are refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, type NatsConnection, ErrorCode, type NatsError, connect, nkeys } from 'nats';
import { natsConnectionOptions } from '@platform/messaging';
import {
  type SecureNatsServer,
  type TestPki,
  type TestService,
  TestOperator,
  createTestPki,
  eventually,
  plainTextExchange,
  startSecureNatsServer,
  startTestService,
  testInfrastructure,
} from '@platform/testing';
import { renderService } from '../../services/render/src/render.definition';

const encoder = new TextEncoder();

/** Permissions of render and of a platform client, as deploy/nats/nats-server.conf grants them. */
const RENDER_PERMISSIONS =
  'permissions: { publish: { allow: ["secrets.v1.resolve", "secrets.v1.list"] }, ' +
  'subscribe: { allow: ["render.v1.>", "_INBOX_render.>"] }, allow_responses: true }';
const SECRETS_PERMISSIONS = 'permissions: { subscribe: { allow: ["secrets.v1.>"] }, allow_responses: true }';
const CLIENT_PERMISSIONS =
  'permissions: { publish: { allow: ["render.v1.>"] }, subscribe: { allow: ["_INBOX_client.>"] } }';

interface ConnzEntry {
  name?: string;
  authorized_user?: string;
  tls_version?: string;
}

async function connections(server: SecureNatsServer): Promise<ConnzEntry[]> {
  const response = await fetch(`http://127.0.0.1:${server.monitorPort}/connz?auth=true&limit=1024`);
  return ((await response.json()) as { connections?: ConnzEntry[] }).connections ?? [];
}

/** Waits until the server has logged `text` (why it refused a client: the client may see only a timeout). */
async function serverLogged(server: SecureNatsServer, text: string): Promise<void> {
  await eventually(`nats-server to log "${text}"`, () => server.output.some((line) => line.includes(text)));
}

/** Why `options` cannot connect to `server` (its error message), or 'connected'. */
function connectOutcome(server: SecureNatsServer, options: ConnectionOptions): Promise<string> {
  return connect({ ...options, servers: server.url, maxReconnectAttempts: 0, timeout: 3_000 }).then(
    (connection) => connection.close().then(() => 'connected'),
    (error: Error) => error.message,
  );
}

/**
 * The service's own request to secrets gets its reply: it came to the service's `_INBOX_render.` inbox, the only one
 * its user may subscribe to. `responder` stands in for the secrets service.
 */
async function replySubjectOfOwnRequest(service: TestService, responder: NatsConnection): Promise<string> {
  const subscription = responder.subscribe('secrets.v1.list', { max: 1, callback: (_error, m) => m.respond() });
  await responder.flush();
  const reply = await service.context.nats.request('secrets.v1.list', encoder.encode('{}'), { timeout: 10_000 });
  subscription.unsubscribe();
  return reply.subject;
}

/** Render answers a request on render.v1.validate: without a token, its guard's UNAUTHENTICATED, through its inbox. */
async function renderAnswers(client: NatsConnection): Promise<string | undefined> {
  const reply = await client.request('render.v1.validate', encoder.encode('{"template":"x","format":"text"}'), {
    timeout: 10_000,
  });
  return reply.headers?.get('Nats-Service-Error-Code');
}

describe('NATS with TLS and credentials', () => {
  let pki: TestPki;
  let dir: string;
  const running: Array<{ stop(): Promise<void> }> = [];
  const clients: NatsConnection[] = [];

  beforeAll(() => {
    pki = createTestPki();
    dir = mkdtempSync(join(tmpdir(), 'nats-security-'));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const item of running.reverse()) await item.stop();
    pki?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function startRender(env: Record<string, string>): Promise<TestService> {
    const service = await startTestService(renderService, { NATS_SUBJECT_PREFIX: '', LOG_LEVEL: 'warn', ...env });
    running.push({ stop: () => service.close() });
    return service;
  }

  async function client(server: SecureNatsServer, options: ConnectionOptions): Promise<NatsConnection> {
    const connection = await connect({ ...options, servers: server.url, maxReconnectAttempts: 0 });
    clients.push(connection);
    return connection;
  }

  describe('users in the server configuration, client certificates required (verify: true)', () => {
    let server: SecureNatsServer;
    let seedFile: string;
    const clientTls = () => ({
      natsTlsCaFile: pki.caFile,
      natsTlsCertFile: pki.clientCertFile,
      natsTlsKeyFile: pki.clientKeyFile,
    });

    beforeAll(async () => {
      const renderKey = (nkeys as { createUser(): { getPublicKey(): string; getSeed(): Uint8Array } }).createUser();
      seedFile = join(dir, 'render.nk');
      writeFileSync(seedFile, `${new TextDecoder().decode(renderKey.getSeed())}\n`, { mode: 0o600 });
      server = await startSecureNatsServer({
        pki,
        verify: true,
        auth: [
          'authorization {',
          '  users = [',
          `    { user: render, password: render-tls-pw, ${RENDER_PERMISSIONS} }`,
          `    { nkey: ${renderKey.getPublicKey()}, ${RENDER_PERMISSIONS} }`,
          `    { user: client, password: client-tls-pw, ${CLIENT_PERMISSIONS} }`,
          `    { user: secrets, password: secrets-tls-pw, ${SECRETS_PERMISSIONS} }`,
          '  ]',
          '}',
        ].join('\n'),
        probe: natsConnectionOptions({ ...clientTls(), natsUser: 'client', natsPassword: 'client-tls-pw' }),
      });
      running.push(server);
    }, 60_000);

    it('runs a service as its own user with a password, over TLS with a client certificate', async () => {
      const render = await startRender({
        NATS_URL: server.url,
        NATS_TLS_CA_FILE: pki.caFile,
        NATS_TLS_CERT_FILE: pki.clientCertFile,
        NATS_TLS_KEY_FILE: pki.clientKeyFile,
        NATS_USER: 'render',
        NATS_PASSWORD: 'render-tls-pw',
      });
      expect((await fetch(`http://127.0.0.1:${render.httpPort}/readyz`)).status).toBe(200);
      const caller = await client(
        server,
        natsConnectionOptions({ ...clientTls(), natsUser: 'client', natsPassword: 'client-tls-pw' }),
      );
      expect(await renderAnswers(caller)).toBe('401');
      const secrets = await client(
        server,
        natsConnectionOptions({ ...clientTls(), natsUser: 'secrets', natsPassword: 'secrets-tls-pw' }),
      );
      expect(await replySubjectOfOwnRequest(render, secrets)).toMatch(/^_INBOX_render\./);
      const seen = (await connections(server)).find((c) => c.name === 'render' && c.authorized_user === 'render');
      expect(seen?.tls_version).toMatch(/^1\.[23]$/);
      await render.close();
    });

    it('runs a service with an nkey seed file, its inbox still named after NATS_USER', async () => {
      const render = await startRender({
        NATS_URL: server.url,
        NATS_TLS_CA_FILE: pki.caFile,
        NATS_TLS_CERT_FILE: pki.clientCertFile,
        NATS_TLS_KEY_FILE: pki.clientKeyFile,
        NATS_USER: 'render',
        NATS_NKEY_SEED_FILE: seedFile,
      });
      expect((await fetch(`http://127.0.0.1:${render.httpPort}/readyz`)).status).toBe(200);
      const caller = await client(
        server,
        natsConnectionOptions({ ...clientTls(), natsUser: 'client', natsPassword: 'client-tls-pw' }),
      );
      expect(await renderAnswers(caller)).toBe('401');
      const secrets = await client(
        server,
        natsConnectionOptions({ ...clientTls(), natsUser: 'secrets', natsPassword: 'secrets-tls-pw' }),
      );
      expect(await replySubjectOfOwnRequest(render, secrets)).toMatch(/^_INBOX_render\./);
      const seen = (await connections(server)).find((c) => c.name === 'render');
      expect(seen).toMatchObject({ authorized_user: expect.stringMatching(/^U[A-Z2-7]{55}$/) });
      await render.close();
    });

    it('refuses an anonymous client, and a wrong password', async () => {
      expect(await connectOutcome(server, natsConnectionOptions(clientTls()))).toMatch(/authorization violation/i);
      expect(
        await connectOutcome(
          server,
          natsConnectionOptions({ ...clientTls(), natsUser: 'render', natsPassword: 'guess' }),
        ),
      ).toMatch(/authorization violation/i);
    });

    it('refuses a plain-text client: the server asks for TLS and never answers its PING', async () => {
      const exchange = await plainTextExchange(server.port, { user: 'client', pass: 'client-tls-pw' });
      expect(exchange).toMatch(/^INFO .*"tls_required":true/);
      expect(exchange).not.toContain('PONG');
      await serverLogged(server, 'first record does not look like a TLS handshake');
    });

    it('refuses a client without a client certificate, or with one from another CA', async () => {
      const credentials = { natsUser: 'client', natsPassword: 'client-tls-pw' };
      const uncertified = natsConnectionOptions({ ...credentials, natsTlsCaFile: pki.caFile });
      expect(await connectOutcome(server, uncertified)).not.toBe('connected');
      await serverLogged(server, "TLS handshake error: tls: client didn't provide a certificate");
      const foreign = {
        ...credentials,
        natsTlsCaFile: pki.caFile,
        natsTlsCertFile: pki.otherClientCertFile,
        natsTlsKeyFile: pki.otherClientKeyFile,
      };
      expect(await connectOutcome(server, natsConnectionOptions(foreign))).not.toBe('connected');
      await serverLogged(server, 'failed to verify client certificate: x509: certificate signed by unknown authority');
      expect(await connectOutcome(server, natsConnectionOptions({ ...credentials, ...clientTls() }))).toBe('connected');
    });

    it('refuses to talk to a server whose certificate its CA did not sign', async () => {
      const trustingOther = {
        ...clientTls(),
        natsTlsCaFile: pki.otherCaFile,
        natsUser: 'client',
        natsPassword: 'client-tls-pw',
      };
      expect(await connectOutcome(server, natsConnectionOptions(trustingOther))).toMatch(/certificate/i);
    });
  });

  it('never falls back to plain text: TLS settings refuse a server that offers no TLS', async () => {
    const plain = await connect({ servers: testInfrastructure().natsUrl, maxReconnectAttempts: 0 }).then(
      (connection) => connection.close().then(() => 'connected'),
      (error: Error) => error.message,
    );
    expect(plain).toBe('connected');
    const withTls = await connect({
      ...natsConnectionOptions({ natsTlsCaFile: pki.caFile }),
      servers: testInfrastructure().natsUrl,
      maxReconnectAttempts: 0,
    }).then(
      (connection) => connection.close().then(() => 'connected'),
      (error: NatsError) => error.code,
    );
    expect(withTls).toBe(ErrorCode.ServerOptionNotAvailable);
  });

  describe('decentralized JWT auth with .creds files, client certificates optional', () => {
    let server: SecureNatsServer;
    let operator: TestOperator;
    let renderCreds: string;
    let clientCreds: string;
    let secretsCreds: string;

    beforeAll(async () => {
      operator = new TestOperator();
      const operatorFile = join(dir, 'operator.jwt');
      writeFileSync(operatorFile, operator.operatorJwt);
      renderCreds = join(dir, 'render.creds');
      writeFileSync(
        renderCreds,
        operator.userCreds('render', {
          pub: { allow: ['secrets.v1.resolve', 'secrets.v1.list'] },
          sub: { allow: ['render.v1.>', '_INBOX_render.>'] },
          resp: { max: 1, ttl: 0 },
        }),
        { mode: 0o600 },
      );
      clientCreds = join(dir, 'client.creds');
      writeFileSync(
        clientCreds,
        operator.userCreds('client', { pub: { allow: ['render.v1.>'] }, sub: { allow: ['_INBOX_client.>'] } }),
        { mode: 0o600 },
      );
      secretsCreds = join(dir, 'secrets.creds');
      writeFileSync(
        secretsCreds,
        operator.userCreds('secrets', { sub: { allow: ['secrets.v1.>'] }, resp: { max: 1, ttl: 0 } }),
        { mode: 0o600 },
      );
      server = await startSecureNatsServer({
        pki,
        verify: false,
        auth: operator.serverConfig(operatorFile),
        probe: natsConnectionOptions({ natsTlsCaFile: pki.caFile, natsCredsFile: clientCreds, natsUser: 'client' }),
      });
      running.push(server);
    }, 60_000);

    it('runs a service with a creds file over TLS without a client certificate', async () => {
      const render = await startRender({
        NATS_URL: server.url,
        NATS_TLS_CA_FILE: pki.caFile,
        NATS_USER: 'render',
        NATS_CREDS_FILE: renderCreds,
      });
      expect((await fetch(`http://127.0.0.1:${render.httpPort}/readyz`)).status).toBe(200);
      const caller = await client(
        server,
        natsConnectionOptions({ natsTlsCaFile: pki.caFile, natsCredsFile: clientCreds, natsUser: 'client' }),
      );
      expect(await renderAnswers(caller)).toBe('401');
      const secrets = await client(
        server,
        natsConnectionOptions({ natsTlsCaFile: pki.caFile, natsCredsFile: secretsCreds }),
      );
      expect(await replySubjectOfOwnRequest(render, secrets)).toMatch(/^_INBOX_render\./);
      const seen = (await connections(server)).find((c) => c.name === 'render');
      expect(seen?.tls_version).toMatch(/^1\.[23]$/);
      await render.close();
    });

    it('refuses an anonymous client, and a creds file its account did not issue', async () => {
      expect(await connectOutcome(server, natsConnectionOptions({ natsTlsCaFile: pki.caFile }))).toMatch(
        /authorization violation/i,
      );
      const forged = join(dir, 'forged.creds');
      writeFileSync(forged, new TestOperator().userCreds('render'));
      expect(
        await connectOutcome(server, natsConnectionOptions({ natsTlsCaFile: pki.caFile, natsCredsFile: forged })),
      ).toMatch(/authorization violation/i);
    });

    it('refuses a plain-text client', async () => {
      const exchange = await plainTextExchange(server.port);
      expect(exchange).toMatch(/^INFO .*"tls_required":true/);
      expect(exchange).not.toContain('PONG');
      await serverLogged(server, 'first record does not look like a TLS handshake');
    });
  });
});
