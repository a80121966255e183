// `npm run bench -- scaling`: render and redaction throughput with 1 and with 2 instances of the service on this
// machine. Instances are child processes of the compiled services (`npm run build` first) sharing one subject prefix,
// so they share the queue group (render) and the durable LOGS_RAW consumer (redaction), as replicas do when deployed.
import { type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { ensureStreams, prefixedStreamName } from '@platform/messaging';
import {
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { type NatsConnection, connect } from 'nats';
import { type BenchFigure, renderTable } from './report';
import { KEYS, ORG, TEMPLATE } from './render-workload';
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

const RENDERS_IN_FLIGHT = 200;
const WARM_UP_MS = 1500;
const MEASURE_MS = 5000;
const BACKLOG_LINES = 30_000;
const PUBLISH_WINDOW = 2_000;
const LOG_SUBJECT = 'logs.raw.acme._.web-1';

/** Renders/s at 200 in flight with one render instance, then again after a second joins the queue group. */
async function renderScaling(
  nats: NatsConnection,
  database: TestDatabase,
): Promise<{ one: Throughput; two: Throughput }> {
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, NATS_URL: testInfrastructure().natsUrl };
  const tokens = await TestTokens.create();
  const admin = await tokens.vendor(ORG, 'admin');
  const deployer = await tokens.service('deployer', ['render:any']);
  const children: ChildProcess[] = [];
  try {
    children.push(await startService('secrets', env));
    for (const key of KEYS) {
      if (!(await request(nats, `${prefix}secrets.v1.create`, admin, { key, value: `value-of-${key}-${prefix}` }))) {
        throw new Error(`creating ${key} failed`);
      }
    }
    const body = { template: TEMPLATE, format: 'env', organizationId: ORG };
    const renderOnce = () => request(nats, `${prefix}render.v1.render`, deployer, body);
    children.push(await startService('render', env));
    await load(renderOnce, 50, WARM_UP_MS);
    const one = await load(renderOnce, RENDERS_IN_FLIGHT, MEASURE_MS);
    children.push(await startService('render', env));
    await load(renderOnce, 50, WARM_UP_MS);
    const two = await load(renderOnce, RENDERS_IN_FLIGHT, MEASURE_MS);
    return { one, two };
  } finally {
    await Promise.all(children.map(stopService));
    await deleteStreams(await nats.jetstreamManager(), prefix);
  }
}

/** Lines/s from the first redacted line stored in LOGS to the last, and from the instances' start to the last. */
interface Drain {
  readonly steady: Throughput;
  readonly withStartup: number;
}

/** A backlog already in LOGS_RAW drained to LOGS by `instances` redaction processes started together. */
async function redactionDrain(nats: NatsConnection, instances: number): Promise<Drain> {
  // A database of its own: both runs create the same keys in the same scope.
  const database = await createTestDatabase();
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, NATS_URL: testInfrastructure().natsUrl };
  const manager = await nats.jetstreamManager();
  const children: ChildProcess[] = [];
  try {
    children.push(await startService('secrets', env));
    const admin = await (await TestTokens.create()).vendor('acme', 'admin');
    const values = KEYS.map((key) => `v-${key}-${prefix}`.replace(/\./g, ''));
    for (const [i, key] of KEYS.entries()) {
      if (!(await request(nats, `${prefix}secrets.v1.create`, admin, { key, value: values[i] }))) {
        throw new Error(`creating ${key} failed`);
      }
    }
    await ensureStreams(nats, ['LOGS_RAW', 'LOGS'], { subjectPrefix: prefix, replicas: 1 });
    const js = nats.jetstream();
    const window = new Set<Promise<unknown>>();
    for (let i = 0; i < BACKLOG_LINES; i++) {
      while (window.size >= PUBLISH_WINDOW) await Promise.race(window);
      const published = js.publish(prefix + LOG_SUBJECT, logLine(i, values)).finally(() => window.delete(published));
      window.add(published);
    }
    await Promise.all(window);
    const logs = prefixedStreamName(prefix, 'LOGS');
    const started = performance.now();
    children.push(...(await Promise.all(Array.from({ length: instances }, () => startService('redaction', env)))));
    let firstStoredAt = NaN;
    for (;;) {
      const stored = await storedIn(manager, logs);
      if (stored > 0 && Number.isNaN(firstStoredAt)) firstStoredAt = performance.now();
      if (stored >= BACKLOG_LINES) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const finished = performance.now();
    if (await anyValueStored(nats, logs, values)) throw new Error('a secret value reached LOGS unredacted');
    return {
      steady: { perSecond: (BACKLOG_LINES * 1000) / (finished - firstStoredAt), failures: 0, load: loadavg()[0] },
      withStartup: (BACKLOG_LINES * 1000) / (finished - started),
    };
  } finally {
    await Promise.all(children.map(stopService));
    await deleteStreams(manager, prefix);
    await database.drop();
  }
}

/** Reads LOGS back and checks that no value appears in it: the figures count only correct output. */
async function anyValueStored(nats: NatsConnection, stream: string, values: readonly string[]): Promise<boolean> {
  const consumer = await nats.jetstream().consumers.get(stream);
  const messages = await consumer.fetch({ max_messages: BACKLOG_LINES, expires: 30_000 });
  let seen = 0;
  for await (const message of messages) {
    const text = message.string();
    if (values.some((value) => text.includes(value))) return true;
    if (++seen >= BACKLOG_LINES) break;
  }
  return false;
}

function scaled(name: string, unit: string, two: Throughput, one: Throughput): BenchFigure {
  const failures = two.failures + one.failures;
  return {
    name: `${name}, 2 instances (load ${two.load.toFixed(1)}; 1 instance at load ${one.load.toFixed(1)})${failures > 0 ? ` (${failures} requests failed)` : ''}`,
    value: two.perSecond,
    unit,
    baseline: { label: '1 instance', value: one.perSecond },
  };
}

export async function run(): Promise<string> {
  const database = await createTestDatabase();
  const nats = await connect({ servers: testInfrastructure().natsUrl, name: 'scaling-bench', noAsyncTraces: true });
  try {
    const render = await renderScaling(nats, database);
    const drainOne = await redactionDrain(nats, 1);
    const drainTwo = await redactionDrain(nats, 2);
    const figures: BenchFigure[] = [
      scaled(`render, ${RENDERS_IN_FLIGHT} in flight: renders/s`, 'ops/s', render.two, render.one),
      scaled(
        `redaction, ${BACKLOG_LINES.toLocaleString('en-US')}-line backlog logs.raw → LOGS, first line stored → last`,
        'lines/s',
        drainTwo.steady,
        drainOne.steady,
      ),
      {
        name: 'redaction, the same backlog including instance start and matcher build, 2 instances',
        value: drainTwo.withStartup,
        unit: 'lines/s',
        baseline: { label: '1 instance', value: drainOne.withStartup },
      },
    ];
    return renderTable(
      `scaling: 1 vs 2 instances on this machine (23-line env file with 20 secrets; ~150-byte lines, 20 values)`,
      figures,
    );
  } finally {
    await nats.close();
    await database.drop();
  }
}
