// Failover on a NATS cluster (issue 17): three clustered nats-servers with R3 streams and two instances of every
// service. While writers update secrets and a shipper publishes log lines carrying their values, the SECRETS_EVENTS
// stream leader is killed (SIGKILL) and restarted, then the server holding most of the services' connections. Then:
// every acknowledged write is in history, once in SECRETS_EVENTS and once in the audit trail; the audit chain
// verifies; every shipped line reached LOGS with its value masked; no service process restarted or stayed unready.
import { randomBytes } from 'node:crypto';
import { type NatsConnection } from 'nats';
import { Client } from 'pg';
import { SERVICE_NAMES } from '@platform/config';
import { prefixedStreamName } from '@platform/messaging';
import {
  type ClusterNode,
  NatsCluster,
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  eventually,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { auditedEventIds } from '../reliability/support/audit-records';
import { type StoredMessage, readStream } from '../reliability/support/jetstream-messages';
import { PlatformClient, describeOutcome } from '../reliability/support/platform-client';
import { sized } from '../reliability/support/reliability-size';
import { ServiceProcess } from '../reliability/support/service-process';
import { sleep } from '../reliability/support/wait';

const ORG = 'failoverco';
const WRITERS = 8;
const UPDATES_PER_WRITER = sized(6, 50);
const INSTANCES = 2;
/** Generous: eight Node processes and three servers on a two-core machine that other test files share. */
const START_TIMEOUT_MS = 180_000;
const REQUEST_TIMEOUT_MS = 10_000;
const SHIP_EVERY_MS = 50;
/**
 * A line delivered to a redaction instance whose server was killed is redelivered only after the LOGS_RAW consumer's
 * ack wait (60 s): late, never lost. Waits for the stores to catch up allow that and more.
 */
const REDELIVERY_TIMEOUT_MS = 180_000;
const READY_AGAIN_TIMEOUT_MS = 120_000;

describe('failover on a three-node NATS cluster', () => {
  const prefix = uniqueSubjectPrefix();
  const run = randomBytes(3).toString('hex');
  let cluster: NatsCluster;
  let database: TestDatabase;
  let sql: Client;
  let client: PlatformClient;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    [cluster, database] = await Promise.all([NatsCluster.start(3), createTestDatabase()]);
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all(services.map((service) => service.stop()));
    await sql?.end();
    await cluster?.stop();
    await database?.drop();
  }, 60_000);

  it('loses no acknowledged write and no log line when the stream leader and then the busiest server die', async () => {
    const env = {
      NATS_URL: cluster.url,
      NATS_SUBJECT_PREFIX: prefix,
      DATABASE_URL: database.url,
      JETSTREAM_REPLICAS: '3',
      REDACTION_SETTLE_MS: '0',
      START_TIMEOUT_MS: String(START_TIMEOUT_MS),
    };
    services.push(
      ...(await Promise.all(
        SERVICE_NAMES.flatMap((name) =>
          Array.from({ length: INSTANCES }, () =>
            ServiceProcess.start(name, env, { readyTimeoutMs: START_TIMEOUT_MS }),
          ),
        ),
      )),
    );
    const pids = services.map((service) => service.pid);
    client = await PlatformClient.connect(cluster.url, prefix);
    const admin = await (await TestTokens.create()).vendor(ORG);

    // Writers: each creates its key, then updates it; every write is retried with its Idempotency-Key until acknowledged.
    const acknowledged = new Map<string, { version: number; value: string }[]>();
    let writes = 0;
    const writer = async (w: number) => {
      const key = `KEY_${w}`;
      const versions: { version: number; value: string }[] = [];
      acknowledged.set(key, versions);
      for (let i = 0; i <= UPDATES_PER_WRITER; i++) {
        const value = `failover-${run}-${w}-${i}-${randomBytes(8).toString('hex')}`;
        const { body } = await client.writeUntilAcknowledged(
          i === 0 ? 'secrets.v1.create' : 'secrets.v1.update',
          { key, value },
          { token: admin, idempotencyKey: `${run}-${w}-${i}`, timeoutMs: REQUEST_TIMEOUT_MS, giveUpAfterMs: 180_000 },
        );
        versions.push({ version: body.version as number, value });
        writes++;
      }
    };
    const values = () => [...acknowledged.values()].flat().map(({ value }) => value);

    // The shipper: a line a tick carrying an acknowledged value, on its own deployment subject, deduplicated by id.
    const shipped = new Map<string, string>();
    let shipping = true;
    const shipper = (async () => {
      for (let line = 0; shipping; line++) {
        const known = values();
        if (known.length > 0) {
          const id = `${run}-line-${line}`;
          const value = known[line % known.length];
          await shipLine(client.connection, `${prefix}logs.raw.${ORG}._.app${line % 4}`, id, `${id} token=${value}`);
          shipped.set(id, value);
        }
        await sleep(SHIP_EVERY_MS);
      }
    })();

    const total = WRITERS * (UPDATES_PER_WRITER + 1);
    const writing = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    const progressed = (atLeast: number, what: string) =>
      eventually(what, () => writes >= Math.min(total, atLeast), { timeoutMs: 180_000, intervalMs: 100 });

    await progressed(Math.ceil(total / 4), 'a quarter of the writes to be acknowledged');
    const leader = cluster.node(await streamLeader(client.connection, prefixedStreamName(prefix, 'SECRETS_EVENTS')));
    await restartAfterProgress(leader, () => progressed(writes + WRITERS, 'writes to go on without the leader'));

    await progressed(Math.ceil(total / 2), 'half of the writes to be acknowledged');
    const busiest = await busiestNode(cluster);
    await restartAfterProgress(busiest, () =>
      progressed(writes + WRITERS, 'writes to go on without the busiest server'),
    );

    await writing;
    shipping = false;
    await shipper;

    // Every acknowledged version is in history.
    for (const [key, versions] of acknowledged) {
      const history = await client.call('secrets.v1.history', { key }, { token: admin, timeoutMs: REQUEST_TIMEOUT_MS });
      if (history.kind !== 'reply') throw new Error(`history of ${key}: ${describeOutcome(history)}`);
      const listed = (history.body.versions as { version: number }[]).map(({ version }) => version);
      expect(listed).toEqual(expect.arrayContaining(versions.map(({ version }) => version)));
    }

    // Every stored event is once in SECRETS_EVENTS and once in the audit trail. Redaction keeps resolving values for
    // its matchers, so access events go on arriving: compare against a snapshot, and count each id.
    const { rows } = await sql.query<{ event_id: string }>('select event_id::text from secrets.events');
    const eventIds = rows.map(({ event_id }) => event_id);
    expect(eventIds.length).toBeGreaterThanOrEqual(total);
    const stream = prefixedStreamName(prefix, 'SECRETS_EVENTS');
    let published: string[] = [];
    await eventually(
      'the outbox to publish every stored event',
      async () => {
        published = (await readSettled(client.connection, stream)).map(
          (message) => (JSON.parse(Buffer.from(message.data).toString('utf8')) as { eventId: string }).eventId,
        );
        return missingFrom(published, eventIds).length === 0;
      },
      { timeoutMs: REDELIVERY_TIMEOUT_MS },
    );
    expect(duplicatesIn(published)).toEqual([]);
    let audited: string[] = [];
    await eventually('the audit trail to record every stored event', async () => {
      audited = await auditedEventIds(sql, eventIds.length);
      return missingFrom(audited, eventIds).length === 0;
    });
    expect(duplicatesIn(audited)).toEqual([]);
    const verify = await client.call('audit.v1.verify', {}, { token: admin, timeoutMs: REQUEST_TIMEOUT_MS });
    expect(verify).toMatchObject({ kind: 'reply', body: { ok: true } });

    // Every shipped line reached LOGS once, its value masked.
    const logs = prefixedStreamName(prefix, 'LOGS');
    let redacted: string[] = [];
    await eventually(
      'every shipped line to reach LOGS',
      async () => {
        redacted = (await readSettled(client.connection, logs)).map((message) => Buffer.from(message.data).toString());
        return redacted.length >= shipped.size;
      },
      { timeoutMs: REDELIVERY_TIMEOUT_MS },
    );
    for (const line of redacted) expect(line).toMatch(/^\S+ token=\*{8}$/);
    expect(new Set(redacted.map((line) => line.split(' ')[0]))).toEqual(new Set(shipped.keys()));
    const everyValue = values();
    expect(redacted.filter((line) => everyValue.some((value) => line.includes(value)))).toEqual([]);

    // No service restarted, and every instance is ready again.
    expect(services.map((service) => service.pid)).toEqual(pids);
    let unready: string[] = [];
    const allReady = async () => {
      const reports = await Promise.all(services.map(async (service) => [service, await service.readiness()] as const));
      unready = reports
        .filter(([, report]) => report.status !== 200)
        .map(([service, report]) => `${service.name} (pid ${service.pid}): ${JSON.stringify(report.body.checks)}`);
      return unready.length === 0;
    };
    // A failure to load values counts against redaction's readiness for up to a minute unless a build succeeds.
    await eventually('every instance to be ready', allReady, { timeoutMs: READY_AGAIN_TIMEOUT_MS }).catch(() => {
      throw new Error(`not ready ${READY_AGAIN_TIMEOUT_MS} ms after the last restart:\n${unready.join('\n')}`);
    });
  }, 600_000);
});

/**
 * The stream's messages, or none while the cluster still settles after a restart (a JetStream request may time out
 * then): the callers poll until what they wait for is there.
 */
function readSettled(connection: NatsConnection, stream: string): Promise<StoredMessage[]> {
  return readStream(connection, stream).catch(() => []);
}

/** The ids of `expected` that `ids` lacks. */
function missingFrom(ids: readonly string[], expected: readonly string[]): string[] {
  const present = new Set(ids);
  return expected.filter((id) => !present.has(id));
}

/** The ids that occur more than once in `ids`. */
function duplicatesIn(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => seen.has(id) || !seen.add(id));
}

/** Kills `node`, waits until the platform made progress without it, and starts it again. */
async function restartAfterProgress(node: ClusterNode, progress: () => Promise<void>): Promise<void> {
  await node.kill();
  await progress();
  await node.start();
}

/** The server name that leads `stream` now. */
async function streamLeader(connection: NatsConnection, stream: string): Promise<string> {
  const info = await (await connection.jetstreamManager()).streams.info(stream);
  if (!info.cluster?.leader) throw new Error(`${stream} has no leader`);
  return info.cluster.leader;
}

/** The node holding most of the services' connections. */
async function busiestNode(cluster: NatsCluster): Promise<ClusterNode> {
  let busiest = cluster.nodes[0];
  let most = -1;
  for (const node of cluster.nodes.filter((candidate) => candidate.isRunning)) {
    const names = await node.connectionNames();
    const count = names.filter((name) => (SERVICE_NAMES as readonly string[]).includes(name)).length;
    if (count > most) [busiest, most] = [node, count];
  }
  return busiest;
}

/** Publishes one line to LOGS_RAW, retried until the stream acknowledges it; the id makes retries land once. */
async function shipLine(connection: NatsConnection, subject: string, id: string, text: string): Promise<void> {
  const js = connection.jetstream();
  await eventually(
    `line ${id} to be stored`,
    () =>
      js.publish(subject, new TextEncoder().encode(text), { msgID: id, timeout: 5_000 }).then(
        () => true,
        () => false,
      ),
    { timeoutMs: 120_000, intervalMs: 200 },
  );
}
