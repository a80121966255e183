// Concurrent start on a NATS cluster (issue 17): three nats-server processes with clustered JetStream and R3 streams;
// three instances of each of the four services start at the same moment, as the pods of a Helm release do. Every
// instance must become ready (stream and consumer setup waits for the cluster instead of failing), and the platform
// must then work end to end: a write is acknowledged, audited, and its value masked in a shipped log line.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection, StringCodec } from 'nats';
import { SERVICE_NAMES, urlList } from '@platform/config';
import { prefixedStreamName } from '@platform/messaging';
import {
  NatsCluster,
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  eventually,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { ServiceProcess } from '../reliability/support/service-process';
import { PlatformClient } from '../reliability/support/platform-client';

const INSTANCES = 3;
/**
 * Twelve Node processes booting at once on a two-core machine that may be busy with other test files: generous on
 * purpose. The services get as long for their own stream setup (START_TIMEOUT_MS), so only a hang fails.
 */
const START_TIMEOUT_MS = 180_000;
const ORG = 'clusterco';

describe('services on a three-node NATS cluster', () => {
  const prefix = uniqueSubjectPrefix();
  let cluster: NatsCluster;
  let database: TestDatabase;
  const services: ServiceProcess[] = [];
  let client: PlatformClient;

  beforeAll(async () => {
    [cluster, database] = await Promise.all([NatsCluster.start(3), createTestDatabase()]);
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all(services.map((service) => service.stop()));
    await cluster?.stop();
    await database?.drop();
  }, 60_000);

  it('starts three instances of every service at once, all ready, and works end to end', async () => {
    const env = {
      NATS_URL: cluster.url,
      NATS_SUBJECT_PREFIX: prefix,
      DATABASE_URL: database.url,
      JETSTREAM_REPLICAS: '3',
      REDACTION_SETTLE_MS: '0',
      START_TIMEOUT_MS: String(START_TIMEOUT_MS),
    };
    const starting = SERVICE_NAMES.flatMap((name) =>
      Array.from({ length: INSTANCES }, () => ServiceProcess.start(name, env, { readyTimeoutMs: START_TIMEOUT_MS })),
    );
    const started = await Promise.allSettled(starting);
    for (const outcome of started) if (outcome.status === 'fulfilled') services.push(outcome.value);
    const failures = started.flatMap((outcome) => (outcome.status === 'rejected' ? [String(outcome.reason)] : []));
    expect(failures).toEqual([]);
    expect(services).toHaveLength(SERVICE_NAMES.length * INSTANCES);

    const streams = await jetStreamReplicas(cluster.url, prefix);
    expect(streams).toEqual({ LOGS: 3, LOGS_RAW: 3, SECRETS_EVENTS: 3 });

    client = await PlatformClient.connect(cluster.url, prefix);
    const tokens = await TestTokens.create();
    const admin = await tokens.vendor(ORG);
    const value = `cluster-${randomBytes(12).toString('hex')}`;
    const { body: created } = await client.writeUntilAcknowledged(
      'secrets.v1.create',
      { key: 'API_KEY', value },
      { token: admin, idempotencyKey: `create-${prefix}`, timeoutMs: 10_000 },
    );
    expect(created).toMatchObject({ key: 'API_KEY', version: 1 });

    await eventually('the audit trail to record the create', async () => {
      const query = await client.call('audit.v1.query', { key: 'API_KEY' }, { token: admin, timeoutMs: 10_000 });
      return query.kind === 'reply' && JSON.stringify(query.body).includes('SecretCreated');
    });

    const line = await shipAndRead(client.connection, prefix, `connecting with ${value} now`);
    expect(line).toBe('connecting with ******** now');
    for (const service of services) expect(service.isRunning).toBe(true);
  }, 360_000);
});

/** Each platform stream's replica count, by unprefixed name. */
async function jetStreamReplicas(url: string, prefix: string): Promise<Record<string, number>> {
  const connection = await connect({ servers: urlList(url) });
  try {
    const manager = await connection.jetstreamManager();
    const replicas: Record<string, number> = {};
    for (const name of ['LOGS', 'LOGS_RAW', 'SECRETS_EVENTS'] as const) {
      replicas[name] = (await manager.streams.info(prefixedStreamName(prefix, name))).config.num_replicas;
    }
    return replicas;
  } finally {
    await connection.close();
  }
}

/** Publishes one log line on logs.raw and returns it as redaction stored it in LOGS. */
async function shipAndRead(connection: NatsConnection, prefix: string, text: string): Promise<string> {
  const codec = StringCodec();
  const js = connection.jetstream();
  await js.publish(`${prefix}logs.raw.${ORG}._.api`, codec.encode(text));
  const stream = prefixedStreamName(prefix, 'LOGS');
  const manager = await connection.jetstreamManager();
  let stored: string | undefined;
  await eventually('the line to reach LOGS', async () => {
    const last = await manager.streams
      .getMessage(stream, { last_by_subj: `${prefix}logs.redacted.${ORG}._.api` })
      .catch(() => undefined);
    stored = last ? codec.decode(last.data) : undefined;
    return stored !== undefined;
  });
  return stored!;
}
