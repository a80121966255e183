// The deployment files: compose and the Helm chart parse and cover every service; the NATS config is valid, takes TLS
// only, enforces its permissions, and runs the four services (built in dist/) and the CLI under them.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsConnection, connect, headers as natsHeaders } from 'nats';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseTemplate } from '@platform/template';
import { SERVICE_NAMES, type ServiceName } from '@platform/config';
import { natsConnectionOptions } from '@platform/messaging';
import {
  type ConfiguredNatsServer,
  type TestDatabase,
  type TestPki,
  TestTokens,
  createTestDatabase,
  createTestPki,
  eventually,
  freePort,
  plainTextExchange,
  startConfiguredNatsServer,
  natsServerBinary,
} from '@platform/testing';

const ROOT = join(__dirname, '../..');
const CHART = join(ROOT, 'deploy/helm/secrets-platform');
const BIN = join(ROOT, 'bin/secrets.js');
const NATS_CONF = join(ROOT, 'deploy/nats/nats-server.conf');
const DEV_TLS = join(ROOT, 'deploy/dev/tls');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered Kubernetes manifests are free-form
type Manifest = Record<string, any>;

describe('docker compose', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>; healthcheck?: unknown; volumes?: string[] }>;
  };

  it('runs NATS, Postgres and every service with health checks', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'audit',
      'nats',
      'postgres',
      'redaction',
      'render',
      'secrets',
    ]);
    for (const name of SERVICE_NAMES) {
      expect(compose.services[name].environment).toMatchObject({ SERVICE: name, NATS_USER: name });
    }
    expect(compose.services.nats.healthcheck).toBeDefined();
    expect(compose.services.postgres.healthcheck).toBeDefined();
  });

  it('connects every service over TLS with the dev CA that signed the NATS server certificate', () => {
    const mounted = (volumes: string[] | undefined, target: string) =>
      volumes?.find((v) => v.split(':')[1] === target)?.split(':')[0];
    expect(mounted(compose.services.nats.volumes, '/etc/nats/tls')).toBe('./deploy/dev/tls');
    for (const name of SERVICE_NAMES) {
      const { environment = {}, volumes } = compose.services[name];
      expect(environment.NATS_URL).toBe('tls://nats:4222');
      expect(mounted(volumes, environment.NATS_TLS_CA_FILE)).toBe('./deploy/dev/tls/ca.pem');
    }
    const ca = new X509Certificate(readFileSync(join(DEV_TLS, 'ca.pem')));
    const server = new X509Certificate(readFileSync(join(DEV_TLS, 'server.pem')));
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost('nats')).toBe('nats');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(new Date(server.validTo).getTime()).toBeGreaterThan(Date.now());
    // Marked so nobody mistakes them for real ones.
    expect([ca.subject, server.subject].every((subject) => /dev.only/.test(subject))).toBe(true);
  });

  it('gives each service the password its user has in the NATS configuration', () => {
    const conf = readFileSync(NATS_CONF, 'utf8');
    const passwords = Object.fromEntries(
      [...conf.matchAll(/user: (\w+), password: (\S+)/g)].map(([, user, password]) => [user, password]),
    );
    for (const name of SERVICE_NAMES) {
      expect([name, compose.services[name].environment?.NATS_PASSWORD]).toEqual([name, passwords[name]]);
    }
  });
});

describe('Helm chart', () => {
  const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;

  function renderChart(overrides: Record<string, unknown> = {}): Manifest[] {
    const data = {
      Values: { ...values, ...overrides },
      Release: { Name: 'sp', Namespace: 'default' },
      Chart: parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')),
    };
    return readdirSync(join(CHART, 'templates'))
      .filter((file) => file.endsWith('.yaml'))
      .flatMap((file) => {
        const output = parseTemplate(readFileSync(join(CHART, 'templates', file), 'utf8'), { name: file }).execute(
          data,
        );
        return parseAllDocuments(output).map((doc) => {
          expect(doc.errors).toEqual([]);
          return doc.toJS() as Manifest;
        });
      })
      .filter((doc) => doc !== null);
  }

  it('renders valid YAML with a Deployment, Service and PodDisruptionBudget per service', () => {
    const docs = renderChart();
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget']) {
      expect(
        docs
          .filter((d) => d.kind === kind)
          .map((d) => d.metadata.name)
          .sort(),
      ).toEqual(SERVICE_NAMES.map((s) => `sp-${s}`).sort());
    }
    expect(
      docs
        .filter((d) => d.kind === 'HorizontalPodAutoscaler')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['sp-redaction', 'sp-render', 'sp-secrets']);
  });

  it("mounts each service's own signing key Secret, and no other service's", () => {
    for (const deployment of renderChart().filter((d) => d.kind === 'Deployment')) {
      const name = (deployment.metadata.name as string).replace(/^sp-/, '');
      const secretNames = deployment.spec.template.spec.volumes.map(
        (v: { secret: { secretName: string } }) => v.secret.secretName,
      );
      expect(secretNames.filter((n: string) => n.startsWith('secrets-platform-service-key'))).toEqual([
        `secrets-platform-service-key-${name}`,
      ]);
    }
  });

  it('probes /healthz and /readyz, runs in production mode and takes keys from Kubernetes Secrets', () => {
    const secrets = renderChart().find((d) => d.kind === 'Deployment' && d.metadata.name === 'sp-secrets')!;
    const container = secrets.spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value?: string }) => [e.name, e.value ?? 'from-secret']),
    );
    expect(env).toMatchObject({
      NODE_ENV: 'production',
      SERVICE: 'secrets',
      HTTP_PORT: '8081',
      DATABASE_URL: 'from-secret',
      SECRETS_MASTER_KEYS_FILE: '/etc/secrets-platform/master/master-keys.json',
    });
    expect(
      secrets.spec.template.spec.volumes.map((v: { secret: { secretName: string } }) => v.secret.secretName),
    ).toContain('secrets-platform-master-keys');
    const render = renderChart().find((d) => d.kind === 'Deployment' && d.metadata.name === 'sp-render')!;
    const renderEnv = render.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(renderEnv).not.toContain('SECRETS_MASTER_KEYS_FILE');
    expect(renderEnv).not.toContain('DATABASE_URL');
  });

  describe('NATS TLS and credentials', () => {
    type Env = Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }>;
    const deployment = (docs: Manifest[], name: ServiceName) =>
      docs.find((d) => d.kind === 'Deployment' && d.metadata.name === `sp-${name}`)!.spec.template.spec;
    const envOf = (docs: Manifest[], name: ServiceName) =>
      new Map((deployment(docs, name).containers[0].env as Env).map((e) => [e.name, e.value ?? e.valueFrom]));
    /** Where each volume of the pod comes from, by the path it is mounted at. */
    const mountsOf = (docs: Manifest[], name: ServiceName) => {
      const spec = deployment(docs, name);
      const volumes = new Map(
        (spec.volumes as Array<{ name: string; secret: { secretName: string; items: Array<{ key: string }> } }>).map(
          (v) => [v.name, `${v.secret.secretName}:${v.secret.items.map((i) => i.key).join(',')}`],
        ),
      );
      return new Map(
        (spec.containers[0].volumeMounts as Array<{ name: string; mountPath: string }>).map((m) => [
          m.mountPath,
          volumes.get(m.name),
        ]),
      );
    };
    const nats = values.nats as Record<string, unknown>;
    const withNats = (overrides: Record<string, unknown>) => renderChart({ nats: { ...nats, ...overrides } });

    it('defaults to TLS with the CA Secret and a password per service, the user being the service', () => {
      const docs = renderChart();
      for (const name of SERVICE_NAMES) {
        const env = envOf(docs, name);
        expect(env.get('NATS_URL')).toMatch(/^tls:\/\//);
        expect(env.get('NATS_USER')).toBe(name);
        expect(env.get('NATS_PASSWORD')).toEqual({
          secretKeyRef: { name: `secrets-platform-nats-${name}`, key: 'password' },
        });
        expect(env.get('NATS_TLS_CA_FILE')).toBe('/etc/secrets-platform/nats-tls/ca.crt');
        expect(mountsOf(docs, name).get('/etc/secrets-platform/nats-tls')).toBe('secrets-platform-nats-ca:ca.crt');
        for (const absent of ['NATS_TLS_CERT_FILE', 'NATS_NKEY_SEED_FILE', 'NATS_CREDS_FILE']) {
          expect([name, absent, env.has(absent)]).toEqual([name, absent, false]);
        }
      }
    });

    it('mounts each service its own client certificate when a prefix is set', () => {
      const docs = withNats({ tls: { ...(nats.tls as object), clientCertSecretPrefix: 'nats-client' } });
      for (const name of SERVICE_NAMES) {
        const env = envOf(docs, name);
        expect(env.get('NATS_TLS_CERT_FILE')).toBe('/etc/secrets-platform/nats-client/tls.crt');
        expect(env.get('NATS_TLS_KEY_FILE')).toBe('/etc/secrets-platform/nats-client/tls.key');
        expect(mountsOf(docs, name).get('/etc/secrets-platform/nats-client')).toBe(
          `nats-client-${name}:tls.crt,tls.key`,
        );
      }
    });

    it('takes an nkey seed or a creds file per service instead of a password', () => {
      for (const [kind, variable, key] of [
        ['nkey', 'NATS_NKEY_SEED_FILE', 'seed'],
        ['creds', 'NATS_CREDS_FILE', 'creds'],
      ] as const) {
        const docs = withNats({ credentials: { kind, secretPrefix: 'nats-cred' } });
        for (const name of SERVICE_NAMES) {
          const env = envOf(docs, name);
          expect(env.get(variable)).toBe(`/etc/secrets-platform/nats-credentials/${key}`);
          expect(env.get('NATS_USER')).toBe(name);
          expect(env.has('NATS_PASSWORD')).toBe(false);
          expect(mountsOf(docs, name).get('/etc/secrets-platform/nats-credentials')).toBe(`nats-cred-${name}:${key}`);
        }
      }
    });
  });

  it('gives the reply-signing key to secrets only and the pinned reply JWKS to its callers', () => {
    const deployments = renderChart().filter((d) => d.kind === 'Deployment');
    const replyKeys = Object.fromEntries(
      deployments.map((d) => {
        const spec = d.spec.template.spec;
        const env = spec.containers[0].env as Array<{ name: string; value?: string }>;
        const volume = (spec.volumes as Array<{ name: string; secret: { secretName: string } }>).find(
          (v) => v.name === 'reply-keys',
        );
        const settings = env.filter((e) => /REPLY/.test(e.name)).map((e) => `${e.name}=${e.value}`);
        return [d.metadata.name, { settings, secret: volume?.secret.secretName }];
      }),
    );
    expect(replyKeys).toEqual({
      'sp-secrets': {
        settings: ['SECRETS_REPLY_SIGNING_KEY_FILE=/etc/secrets-platform/reply/reply-signing-key.json'],
        secret: 'secrets-platform-reply-signing-key',
      },
      'sp-render': {
        settings: ['RESOLVE_REPLY_JWKS_FILE=/etc/secrets-platform/reply/reply-jwks.json'],
        secret: 'secrets-platform-reply-jwks',
      },
      'sp-redaction': {
        settings: ['RESOLVE_REPLY_JWKS_FILE=/etc/secrets-platform/reply/reply-jwks.json'],
        secret: 'secrets-platform-reply-jwks',
      },
      'sp-audit': { settings: [], secret: undefined },
    });
  });

  it('gives the audit checkpoint key to audit only', () => {
    const checkpointKeys = Object.fromEntries(
      renderChart()
        .filter((d) => d.kind === 'Deployment')
        .map((d) => {
          const spec = d.spec.template.spec;
          const env = spec.containers[0].env as Array<{ name: string; value?: string }>;
          const volume = (spec.volumes as Array<{ name: string; secret: { secretName: string } }>).find(
            (v) => v.name === 'audit-checkpoint-key',
          );
          const mount = (spec.containers[0].volumeMounts as Array<{ name: string; mountPath: string }>).find(
            (m) => m.name === 'audit-checkpoint-key',
          );
          const settings = env.filter((e) => e.name.startsWith('AUDIT_CHECKPOINT')).map((e) => `${e.name}=${e.value}`);
          return [d.metadata.name, { settings, secret: volume?.secret.secretName, mountedAt: mount?.mountPath }];
        }),
    );
    const none = { settings: [], secret: undefined, mountedAt: undefined };
    expect(checkpointKeys).toEqual({
      'sp-secrets': none,
      'sp-render': none,
      'sp-redaction': none,
      'sp-audit': {
        settings: ['AUDIT_CHECKPOINT_KEY_FILE=/etc/secrets-platform/audit-checkpoint/audit-checkpoint-key.json'],
        secret: 'secrets-platform-audit-checkpoint-key',
        mountedAt: '/etc/secrets-platform/audit-checkpoint',
      },
    });
  });

  it('gives every pod a start deadline and a startup probe at least as patient', () => {
    for (const deployment of renderChart().filter((d) => d.kind === 'Deployment')) {
      const container = deployment.spec.template.spec.containers[0];
      const env = new Map<string, string>(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
      const startTimeoutMs = Number(env.get('START_TIMEOUT_MS'));
      expect(startTimeoutMs).toBe(60_000);
      const { periodSeconds, failureThreshold } = container.startupProbe;
      expect(periodSeconds * failureThreshold * 1000).toBeGreaterThan(startTimeoutMs);
      expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    }
  });

  it('exposes /metrics on a named port that a ServiceMonitor can select', () => {
    const docs = renderChart();
    for (const name of SERVICE_NAMES) {
      const httpPort = (values.services as Record<string, { httpPort: number }>)[name].httpPort;
      const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === `sp-${name}`)!;
      const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === `sp-${name}`)!;
      // A ServiceMonitor selects the Service by label and scrapes `port: http`, path /metrics.
      expect(service.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': name,
        'app.kubernetes.io/instance': 'sp',
      });
      expect(service.spec.ports).toEqual([{ name: 'http', port: httpPort, targetPort: 'http' }]);
      expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
      expect(deployment.spec.template.spec.containers[0].ports).toEqual([{ name: 'http', containerPort: httpPort }]);
    }
  });
});

/** nats-server from the PATH, or Debian's /usr/sbin/nats-server. */
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type NatsUser = 'secrets' | 'render' | 'redaction' | 'audit' | 'shipper' | 'client' | 'ops';

describe('NATS server configuration', () => {
  let server: ConfiguredNatsServer | undefined;
  let natsUrl: string;
  let database: TestDatabase;
  let adminToken: string;
  let pki: TestPki;
  const services: Array<{ name: ServiceName; process: ChildProcess; output: string[]; httpPort: number }> = [];
  const connections: NatsConnection[] = [];

  /** A connection as one of the config's users, with that user's own inbox prefix (as the services and CLI use). */
  async function as(user: NatsUser): Promise<NatsConnection> {
    const connection = await connect({ servers: natsUrl, ...natsConnectionOptions(tlsAs(user)) });
    connections.push(connection);
    return connection;
  }

  /** A user's password and the server's CA: the settings a service or the CLI runs with. */
  function tlsAs(user: NatsUser) {
    return { natsUser: user, natsPassword: `dev-${user}-password`, natsTlsCaFile: pki.caFile };
  }

  async function startServiceProcess(name: ServiceName): Promise<void> {
    const entry = join(ROOT, `dist/services/${name}/src/main.js`);
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
    const httpPort = await freePort();
    const child = spawn(process.execPath, [entry], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        NATS_URL: natsUrl,
        NATS_TLS_CA_FILE: pki.caFile,
        NATS_USER: name,
        NATS_PASSWORD: `dev-${name}-password`,
        DATABASE_URL: database.url,
        HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    services.push({ name, process: child, output, httpPort });
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${output.join('')}`);
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return;
      await delay(100);
    }
    throw new Error(`${name} not ready on /readyz within 30 s: ${output.join('')}`);
  }

  async function request<T>(connection: NatsConnection, subject: string, body: object): Promise<T> {
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${adminToken}`);
    const reply = await connection.request(subject, encoder.encode(JSON.stringify(body)), { headers, timeout: 5000 });
    return JSON.parse(decoder.decode(reply.data)) as T;
  }

  function cli(args: string[], user: NatsUser): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: {
          PATH: process.env.PATH,
          NATS_URL: natsUrl,
          NATS_TLS_CA_FILE: pki.caFile,
          NATS_USER: user,
          NATS_PASSWORD: `dev-${user}-password`,
          SECRETS_TOKEN: adminToken,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    // Valid as compose runs it: deploy/dev/tls mounted at /etc/nats/tls.
    const checkDir = mkdtempSync(join(tmpdir(), 'nats-conf-check-'));
    try {
      const asMounted = readFileSync(NATS_CONF, 'utf8')
        .replaceAll('/etc/nats/tls/', `${DEV_TLS}/`)
        .replace(/store_dir: \S+/, `store_dir: ${JSON.stringify(checkDir)}`);
      writeFileSync(join(checkDir, 'nats-server.conf'), asMounted);
      execFileSync(natsServerBinary(), ['-t', '-c', join(checkDir, 'nats-server.conf')], { stdio: 'pipe' });
    } finally {
      rmSync(checkDir, { recursive: true, force: true });
    }
    // The same configuration on a private port and store directory, with certificates made here.
    pki = createTestPki();
    server = await startConfiguredNatsServer(NATS_CONF, {
      binary: natsServerBinary(),
      probeUser: 'ops',
      probePassword: 'dev-ops-password',
      tlsDir: pki.dir,
    });
    natsUrl = server.url;
    database = await createTestDatabase();
    adminToken = await (await TestTokens.create()).vendor('acme', 'admin');
    // One at a time: secrets and audit migrate the same database.
    for (const name of SERVICE_NAMES) await startServiceProcess(name);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await Promise.all(
      services.map(
        ({ process: child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await server?.stop();
    pki?.remove();
    await database?.drop();
  }, 60_000);

  /** Whether `publisher` can get a message on `subject` to a subscriber that may receive it. */
  async function delivered(subscriber: NatsConnection, publisher: NatsConnection, subject: string): Promise<boolean> {
    let received = false;
    const subscription = subscriber.subscribe(subject, { callback: (error) => (received ||= !error) });
    await subscriber.flush();
    publisher.publish(subject);
    await publisher.flush().catch(() => undefined);
    await subscriber.flush();
    await delay(100);
    subscription.unsubscribe();
    return received;
  }

  /** Whether the server refuses `connection` a subscription to `subject` (nats.js hands the subscription the error). */
  async function subscriptionRefused(connection: NatsConnection, subject: string): Promise<boolean> {
    let refused = false;
    const subscription = connection.subscribe(subject, {
      callback: (error) => (refused ||= /permissions violation/i.test(String(error?.message))),
    });
    await connection.flush();
    await delay(100);
    if (!subscription.isClosed()) subscription.unsubscribe();
    return refused;
  }

  it('boots every service with its own NATS user over TLS: each answers /readyz', () => {
    expect(services.map((s) => s.name)).toEqual([...SERVICE_NAMES]);
    for (const service of services) expect(service.process.exitCode).toBeNull();
  });

  it('refuses an anonymous client, a wrong password and a client that does not trust the CA', async () => {
    const outcome = (options: object) =>
      connect({ servers: natsUrl, maxReconnectAttempts: 0, timeout: 5_000, ...options }).then(
        (connection) => connection.close().then(() => 'connected'),
        (error: Error) => error.message,
      );
    expect(await outcome(natsConnectionOptions({ natsTlsCaFile: pki.caFile }))).toMatch(/authorization violation/i);
    expect(await outcome(natsConnectionOptions({ ...tlsAs('client'), natsPassword: 'guess' }))).toMatch(
      /authorization violation/i,
    );
    expect(await outcome(natsConnectionOptions({ ...tlsAs('client'), natsTlsCaFile: pki.otherCaFile }))).toMatch(
      /certificate/i,
    );
    expect(await outcome(natsConnectionOptions(tlsAs('client')))).toBe('connected');
  });

  it('refuses a plain-text client: the server wants TLS and never answers its PING', async () => {
    const port = Number(new URL(natsUrl).port);
    const exchange = await plainTextExchange(port, { user: 'client', pass: 'dev-client-password' });
    expect(exchange).toMatch(/^INFO .*"tls_required":true/);
    expect(exchange).not.toContain('PONG');
  });

  it('will not start a service in production without TLS and credentials, naming what is missing', async () => {
    const entry = join(ROOT, 'dist/services/render/src/main.js');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [entry], {
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          NATS_URL: natsUrl,
          AUTH_JWKS: JSON.stringify({ keys: [{ kty: 'EC', kid: 'idp-prod-1' }] }),
          SERVICE_SIGNING_KEY: JSON.stringify({ kty: 'EC', kid: 'svc-prod-1' }),
          HTTP_PORT: '0',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'NODE_ENV=production needs TLS and credentials for NATS; missing: ' +
        'NATS_TLS_CA_FILE (the CA that signed the NATS server certificate), ' +
        'a NATS credential (NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE), ' +
        "NATS_USER (the service's NATS user, which names its reply inboxes)",
    );
  });

  it('lets only the secrets service listen on secrets.v1.>', async () => {
    const [secrets, client] = await Promise.all([as('secrets'), as('client')]);
    expect(await delivered(secrets, client, 'secrets.v1.create')).toBe(true);
    for (const user of ['render', 'redaction', 'audit', 'client', 'ops', 'shipper'] as const) {
      const connection = await as(user);
      expect([user, await subscriptionRefused(connection, 'secrets.v1.>')]).toEqual([user, true]);
      expect([user, await delivered(connection, client, 'secrets.v1.create')]).toEqual([user, false]);
    }
  });

  it('lets only render and redaction request secrets.v1.resolve', async () => {
    const [secrets, render, redaction, client, shipper] = await Promise.all([
      as('secrets'),
      as('render'),
      as('redaction'),
      as('client'),
      as('shipper'),
    ]);
    expect(await delivered(secrets, render, 'secrets.v1.resolve')).toBe(true);
    expect(await delivered(secrets, redaction, 'secrets.v1.resolve')).toBe(true);
    expect(await delivered(secrets, client, 'secrets.v1.resolve')).toBe(false);
    expect(await delivered(secrets, shipper, 'secrets.v1.resolve')).toBe(false);
  });

  it('lets only redaction request secrets.v1.reportexposure', async () => {
    const [secrets, redaction] = await Promise.all([as('secrets'), as('redaction')]);
    expect(await delivered(secrets, redaction, 'secrets.v1.reportexposure')).toBe(true);
    for (const user of ['render', 'audit', 'client', 'ops', 'shipper'] as const) {
      expect([user, await delivered(secrets, await as(user), 'secrets.v1.reportexposure')]).toEqual([user, false]);
    }
  });

  it('renders through secrets.v1.resolve under the config, and no other user can see the reply', async () => {
    const client = await as('client');
    const overheard: string[] = [];
    const listeners: NatsConnection[] = [];
    for (const user of ['secrets', 'render', 'redaction', 'audit', 'ops', 'shipper'] as const) {
      const connection = await as(user);
      listeners.push(connection);
      for (const subject of ['_INBOX.>', '_INBOX_client.>']) {
        expect([user, subject, await subscriptionRefused(connection, subject)]).toEqual([user, subject, true]);
      }
      // Whatever else a user may subscribe to, nothing of a client's replies may reach it.
      connection.subscribe('>', { callback: (error, m) => void (!error && overheard.push(m.subject)) });
    }
    const created = await request<{ key: string; version: number }>(client, 'secrets.v1.create', {
      key: 'DB_PASSWORD',
      value: 'deploy-conf-pw-4d1c',
    });
    expect(created).toMatchObject({ key: 'DB_PASSWORD', version: 1 });
    const rendered = await request<{ output: string }>(client, 'render.v1.render', {
      template: 'DB_PASSWORD={{ .Secrets.DB_PASSWORD }}\n',
      format: 'env',
    });
    expect(rendered.output).toBe('DB_PASSWORD=deploy-conf-pw-4d1c\n');
    // A round trip on each listener after the replies were sent: any copy the server routed to it has arrived.
    await Promise.all(listeners.map((listener) => listener.flush()));
    expect(overheard.filter((subject) => subject.startsWith('_INBOX'))).toEqual([]);
  });

  it('refuses a connection without its user inbox prefix any reply (the old shared _INBOX)', async () => {
    const shared = await connect({
      servers: natsUrl,
      user: 'client',
      pass: 'dev-client-password',
      tls: { caFile: pki.caFile },
    });
    connections.push(shared);
    await expect(request(shared, 'secrets.v1.list', {})).rejects.toThrow(/permissions violation/i);
  });

  it('lets ops read SECRETS_EVENTS: stream info and an ordered consumer', async () => {
    const [ops, client] = await Promise.all([as('ops'), as('client')]);
    await request(client, 'secrets.v1.create', { key: 'OPS_READS_THIS', value: 'ops-never-sees-this-value' });
    const manager = await ops.jetstreamManager();
    let messages = 0;
    // The secrets outbox publishes the event shortly after the write commits.
    for (let i = 0; i < 100 && messages === 0; i++) {
      messages = (await manager.streams.info('SECRETS_EVENTS')).state.messages;
      if (messages === 0) await delay(100);
    }
    expect(messages).toBeGreaterThanOrEqual(1);
    const consumer = await ops
      .jetstream()
      .consumers.get('SECRETS_EVENTS', { filterSubjects: 'secrets.events.acme.SecretCreated' });
    const seen: unknown[] = [];
    for (
      let message = await consumer.next({ expires: 2000 });
      message;
      message = await consumer.next({ expires: 2000 })
    ) {
      seen.push(JSON.parse(decoder.decode(message.data)));
      if (JSON.stringify(seen).includes('OPS_READS_THIS')) break;
    }
    expect(seen).toContainEqual(expect.objectContaining({ type: 'SecretCreated', key: 'OPS_READS_THIS' }));
    expect(JSON.stringify(seen)).not.toContain('ops-never-sees-this-value');
    await consumer.delete();
  });

  it("keeps ops away from raw logs and from pulling the audit service's durable consumer", async () => {
    const ops = await as('ops');
    const refused = (subject: string) =>
      ops
        .request(subject, encoder.encode(JSON.stringify({ batch: 1, expires: 1_000_000_000 })), { timeout: 3000 })
        .then(
          () => `${subject}: answered`,
          (error: Error) => (/permissions violation/i.test(error.message) ? 'refused' : `${subject}: ${error.message}`),
        );
    for (const subject of [
      '$JS.API.CONSUMER.MSG.NEXT.LOGS_RAW.redaction',
      '$JS.API.CONSUMER.DELETE.LOGS_RAW.redaction',
      '$JS.API.CONSUMER.CREATE.LOGS_RAW.stolen',
      '$JS.API.CONSUMER.MSG.NEXT.SECRETS_EVENTS.audit',
    ]) {
      expect(await refused(subject)).toBe('refused');
    }
    const manager = await ops.jetstreamManager();
    expect((await manager.consumers.info('SECRETS_EVENTS', 'audit')).name).toBe('audit');
    expect((await manager.consumers.info('LOGS_RAW', 'redaction')).name).toBe('redaction');
  });

  it('replays SECRETS_EVENTS with the CLI as ops and lists secrets as client', async () => {
    const replay = await cli(['audit', 'replay', '--from-seq', '1'], 'ops');
    expect(replay).toMatchObject({ code: 0, stderr: '' });
    const events = replay.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { sequence: number; type: string });
    expect(events[0]).toMatchObject({ sequence: 1, type: 'SecretCreated' });
    expect(replay.stdout).not.toContain('deploy-conf-pw');
    const list = await cli(['list', '--json'], 'client');
    expect(list).toMatchObject({ code: 0 });
    const keys = (JSON.parse(list.stdout) as { secrets: Array<{ key: string }> }).secrets.map((s) => s.key);
    expect(keys).toContain('DB_PASSWORD');
  });

  it('lets log shippers publish logs.raw.> only, and ops read the masked logs.redacted.>', async () => {
    const [shipper, ops, client] = await Promise.all([as('shipper'), as('ops'), as('client')]);
    expect(await subscriptionRefused(ops, 'logs.raw.>')).toBe(true);
    const seen: string[] = [];
    ops.subscribe('logs.redacted.acme.>', { callback: (error, m) => !error && seen.push(decoder.decode(m.data)) });
    await ops.flush();
    shipper.publish('logs.redacted.acme._.web', 'forged line');
    shipper.publish('logs.raw.acme._.web', 'connecting with deploy-conf-pw-4d1c');
    await shipper.flush().catch(() => undefined);
    for (let i = 0; i < 100 && seen.length === 0; i++) await delay(100);
    // The forged line was published before the shipper's flush returned; a round trip on ops after that has
    // delivered it, had the server let it through.
    await ops.flush();
    expect(seen).toEqual(['connecting with ********']);
    expect(await delivered(ops, shipper, 'secrets.v1.create')).toBe(false);
    expect(await delivered(client, shipper, 'render.v1.render')).toBe(false);
  });
  /** Whether the server refuses `user` a publish to `subject` (a request surfaces the permissions violation). */
  async function publishRefused(user: NatsUser, subject: string): Promise<boolean> {
    const connection = await as(user);
    return connection.request(subject, encoder.encode('{}'), { timeout: 2000 }).then(
      () => false,
      (error: Error) => /permissions violation/i.test(error.message),
    );
  }

  it('lets only secrets publish into secrets.events.> and deployments.events.>, only redaction into logs.redacted.>, only shipper into logs.raw.>', async () => {
    const users: readonly NatsUser[] = ['secrets', 'render', 'redaction', 'audit', 'shipper', 'client', 'ops'];
    const publishers: Record<string, NatsUser> = {
      'secrets.events.acme.X': 'secrets',
      'deployments.events.acme._.stale': 'secrets',
      'logs.redacted.acme._.x': 'redaction',
      'logs.raw.acme._.x': 'shipper',
    };
    for (const [subject, publisher] of Object.entries(publishers)) {
      for (const user of users.filter((u) => u !== publisher)) {
        expect([user, subject, await publishRefused(user, subject)]).toEqual([user, subject, true]);
      }
    }
  });

  it('has the services drop requests whose reply subject is a stream or JetStream API subject', async () => {
    // allow_responses would let a service answer there; the services refuse to (NATS_REPLY_PREFIXES).
    const [client, ops] = await Promise.all([as('client'), as('ops')]);
    const manager = await ops.jetstreamManager();
    const eventsBefore = (await manager.streams.info('SECRETS_EVENTS')).state.messages;
    const logsBefore = (await manager.streams.info('LOGS')).state.messages;
    const seen: string[] = [];
    ops.subscribe('logs.redacted.acme.>', { callback: (error, m) => void (!error && seen.push(m.subject)) });
    await ops.flush();
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${adminToken}`);
    const forged: Array<[ServiceName, string, object, string]> = [
      ['secrets', 'secrets.v1.list', {}, 'secrets.events.acme.X'],
      ['secrets', 'secrets.v1.list', {}, '$JS.API.STREAM.PURGE.SECRETS_EVENTS'],
      [
        'render',
        'render.v1.render',
        { template: 'P={{ .Secrets.DB_PASSWORD }}\n', format: 'env' },
        'logs.redacted.acme._.x',
      ],
      ['redaction', 'redaction.v1.redact', { text: 'deploy-conf-pw-4d1c' }, 'logs.redacted.acme._.y'],
      ['audit', 'audit.v1.query', {}, '$JS.API.STREAM.PURGE.LOGS'],
    ];
    const droppedBy = async (name: ServiceName) => {
      const { httpPort } = services.find((s) => s.name === name)!;
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith(`${name}_requests_dropped_total{`));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    // Earlier tests' publishes without a reply subject were dropped too.
    const before = new Map(
      await Promise.all(SERVICE_NAMES.map(async (name) => [name, await droppedBy(name)] as const)),
    );
    for (const [, subject, body, reply] of forged) {
      client.publish(subject, encoder.encode(JSON.stringify(body)), { headers, reply });
    }
    await client.flush();
    for (const name of SERVICE_NAMES) {
      const expected = before.get(name)! + forged.filter(([service]) => service === name).length;
      await eventually(`${name} drops ${expected} requests`, async () => (await droppedBy(name)) >= expected);
      expect([name, await droppedBy(name)]).toEqual([name, expected]);
    }
    await ops.flush();
    expect(seen).toEqual([]);
    expect((await manager.streams.info('SECRETS_EVENTS')).state.messages).toBe(eventsBefore);
    expect((await manager.streams.info('LOGS')).state.messages).toBe(logsBefore);
  });
});
