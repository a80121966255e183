// `npm run bench -- cluster`: secrets creates/s and redacted log lines/s on a three-node NATS cluster (R3 streams)
// beside the single local server (R1), in one run. All three nodes share this machine's two cores with the services
// and the load generator, so the figures say what replication costs here, not what a cluster of machines gives.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { urlList } from '@platform/config';
import { ensureStreams, prefixedStreamName } from '@platform/messaging';
import {
  NatsCluster,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { connect } from 'nats';
import { type BenchFigure, renderTable } from './report';
import { KEYS } from './render-workload';
import {
  type Throughput,
  deleteStreams,
  load,
  logLine,
  request,
  startService,
  stopService,
  storedIn,
} from './service-processes';

const CREATES_IN_FLIGHT = 32;
const WARM_UP_MS = 1_000;
const MEASURE_MS = 5_000;
const BACKLOG_LINES = 20_000;
const PUBLISH_WINDOW = 1_000;
const ORG = 'clusterbench';

interface Topology {
  readonly creates: Throughput;
  /** Lines/s from the first redacted line stored in LOGS to the last. */
  readonly linesPerSecond: number;
}

/** Creates/s and a drained log backlog with one secrets and one redaction process against `natsUrl`. */
async function measure(natsUrl: string, replicas: number): Promise<Topology> {
  const database = await createTestDatabase();
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, NATS_URL: natsUrl };
  const replicaEnv = { JETSTREAM_REPLICAS: String(replicas) };
  const nats = await connect({ servers: urlList(natsUrl), name: 'cluster-bench', noAsyncTraces: true });
  const children: ChildProcess[] = [];
  try {
    children.push(await startService('secrets', { ...env, ...replicaEnv }));
    const admin = await (await TestTokens.create()).vendor(ORG, 'admin');
    let created = 0;
    const create = () =>
      request(nats, `${prefix}secrets.v1.create`, admin, {
        key: `K${created++}_${randomBytes(3).toString('hex')}`,
        value: `value-${randomBytes(12).toString('hex')}`,
      });
    await load(create, CREATES_IN_FLIGHT, WARM_UP_MS);
    const creates = await load(create, CREATES_IN_FLIGHT, MEASURE_MS);

    const values = KEYS.map((key) => `v-${key}-${randomBytes(6).toString('hex')}`);
    for (const [i, key] of KEYS.entries()) {
      if (!(await request(nats, `${prefix}secrets.v1.create`, admin, { key, value: values[i] }))) {
        throw new Error(`creating ${key} failed`);
      }
    }
    await ensureStreams(nats, ['LOGS_RAW', 'LOGS'], { subjectPrefix: prefix, replicas });
    const js = nats.jetstream();
    const window = new Set<Promise<unknown>>();
    for (let i = 0; i < BACKLOG_LINES; i++) {
      while (window.size >= PUBLISH_WINDOW) await Promise.race(window);
      const published = js
        .publish(`${prefix}logs.raw.${ORG}._.web-1`, logLine(i, values))
        .finally(() => window.delete(published));
      window.add(published);
    }
    await Promise.all(window);
    const manager = await nats.jetstreamManager();
    const logs = prefixedStreamName(prefix, 'LOGS');
    children.push(await startService('redaction', { ...env, ...replicaEnv }));
    let firstStoredAt = NaN;
    for (;;) {
      const stored = await storedIn(manager, logs);
      if (stored > 0 && Number.isNaN(firstStoredAt)) firstStoredAt = performance.now();
      if (stored >= BACKLOG_LINES) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { creates, linesPerSecond: (BACKLOG_LINES * 1000) / (performance.now() - firstStoredAt) };
  } finally {
    await Promise.all(children.map(stopService));
    await deleteStreams(await nats.jetstreamManager(), prefix);
    await nats.close();
    await database.drop();
  }
}

export async function run(): Promise<string> {
  const single = await measure(testInfrastructure().natsUrl, 1);
  const cluster = await NatsCluster.start(3);
  let replicated: Topology;
  try {
    replicated = await measure(cluster.url, 3);
  } finally {
    await cluster.stop();
  }
  const failed = (t: Throughput) => (t.failures > 0 ? ` (${t.failures} failed)` : '');
  const figures: BenchFigure[] = [
    {
      name: `secrets creates over NATS, ${CREATES_IN_FLIGHT} in flight, 3-node cluster R3${failed(replicated.creates)}`,
      value: replicated.creates.perSecond,
      unit: 'ops/s',
      baseline: { label: `single server R1${failed(single.creates)}`, value: single.creates.perSecond },
    },
    {
      name: `redaction, ${BACKLOG_LINES.toLocaleString('en-US')}-line backlog logs.raw → LOGS, 3-node cluster R3`,
      value: replicated.linesPerSecond,
      unit: 'lines/s',
      baseline: { label: 'single server R1', value: single.linesPerSecond },
    },
  ];
  return renderTable(
    'cluster: three nats-servers on this machine (R3) vs the single local server (R1), one instance per service',
    figures,
  );
}
