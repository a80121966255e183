// The deployment files: compose and the Helm chart parse and cover every service; the NATS config is valid and enforces its permissions.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsConnection, connect } from 'nats';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseTemplate } from '@platform/template';
import { SERVICE_NAMES } from '@platform/config';

const ROOT = join(__dirname, '../..');
const CHART = join(ROOT, 'deploy/helm/secrets-platform');
const NATS_SERVER = '/usr/sbin/nats-server';
const NATS_CONF = join(ROOT, 'deploy/nats/nats-server.conf');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered Kubernetes manifests are free-form
type Manifest = Record<string, any>;

describe('docker compose', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { environment?: Record<string, string>; healthcheck?: unknown }>;
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

  it('adds NATS credentials only when a credentials Secret is named', () => {
    const names = (docs: Manifest[]) =>
      docs
        .find((d) => d.kind === 'Deployment')!
        .spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(names(renderChart())).not.toContain('NATS_USER');
    const withCredentials = renderChart({ nats: { ...(values.nats as object), credentialsSecret: 'nats-creds' } });
    expect(names(withCredentials)).toEqual(expect.arrayContaining(['NATS_USER', 'NATS_PASSWORD']));
  });
});

const describeWithNats = existsSync(NATS_SERVER) ? describe : describe.skip;

describeWithNats('NATS server configuration', () => {
  let server: ChildProcess;
  let storeDir: string;
  const port = 14222 + Math.floor(Math.random() * 1000);
  const connections: NatsConnection[] = [];

  function as(user: string): Promise<NatsConnection> {
    return connect({ servers: `nats://127.0.0.1:${port}`, user, pass: `dev-${user}-password` }).then((c) => {
      connections.push(c);
      return c;
    });
  }

  beforeAll(async () => {
    expect(execFileSync(NATS_SERVER, ['-t', '-c', NATS_CONF], { encoding: 'utf8', stdio: 'pipe' })).toBeDefined();
    storeDir = mkdtempSync(join(tmpdir(), 'nats-conf-'));
    // The same configuration on a private port and store directory.
    const conf = readFileSync(NATS_CONF, 'utf8')
      .replace(/^port: \d+$/m, `port: ${port}`)
      .replace(/^http_port: \d+$/m, '')
      .replace(/store_dir: \S+/, `store_dir: ${JSON.stringify(storeDir)}`);
    writeFileSync(join(storeDir, 'nats-server.conf'), conf);
    server = spawn(NATS_SERVER, ['-c', join(storeDir, 'nats-server.conf'), '-a', '127.0.0.1'], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      try {
        await (await connect({ servers: `nats://127.0.0.1:${port}`, user: 'ops', pass: 'dev-ops-password' })).close();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error('nats-server did not start');
  });

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    server?.kill();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  /** Whether `publisher` can get a message on `subject` to a subscriber that may receive it. */
  async function delivered(subscriber: NatsConnection, publisher: NatsConnection, subject: string): Promise<boolean> {
    let received = false;
    const subscription = subscriber.subscribe(subject, { callback: (error) => (received ||= !error) });
    await subscriber.flush();
    publisher.publish(subject);
    await publisher.flush().catch(() => undefined);
    await subscriber.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    subscription.unsubscribe();
    return received;
  }

  it('lets only the secrets service listen on secrets.v1.>', async () => {
    const [secrets, render, client] = await Promise.all([as('secrets'), as('render'), as('client')]);
    expect(await delivered(secrets, client, 'secrets.v1.create')).toBe(true);
    expect(await delivered(render, client, 'secrets.v1.create')).toBe(false);
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

  it('lets log shippers publish logs.raw.> and nothing else', async () => {
    const [shipper, secrets] = await Promise.all([as('shipper'), as('secrets')]);
    const js = await secrets.jetstreamManager();
    await js.streams.add({ name: 'LOGS_RAW', subjects: ['logs.raw.>'] });
    const before = (await js.streams.info('LOGS_RAW')).state.messages;
    shipper.publish('logs.raw.acme._.web', 'hello');
    shipper.publish('logs.redacted.acme._.web', 'forged');
    await shipper.flush().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await js.streams.info('LOGS_RAW')).state.messages).toBe(before + 1);
    expect(await delivered(secrets, shipper, 'secrets.v1.create')).toBe(false);
  });
});
