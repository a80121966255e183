// `npm run bench -- redaction`: end-to-end lines/s from logs.raw to LOGS with the secrets and redaction services
// in-process (fresh database and subject prefix, 10,000 secret values in the scope), then the matcher figures of
// bench/redaction-matcher.bench.ts so one command prints both.
import { randomBytes } from 'node:crypto';
import { type JetStreamManager, type NatsConnection, headers as natsHeaders } from 'nats';
import { ensureStreams, prefixedStreamName } from '@platform/messaging';
import {
  type TestService,
  TestNatsClient,
  TestTokens,
  createTestDatabase,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { LogsPublisher } from '../services/redaction/src/logs/logs-publisher';
import { redactionService } from '../services/redaction/src/redaction.definition';
import { secretsService } from '../services/secrets/src/secrets.definition';
import { run as runMatcherBench } from './redaction-matcher.bench';
import { type BenchFigure, renderTable } from './report';

const VALUE_COUNT = 10_000;
const KEYS = 1_000;
/** Each key gets this many versions: 1,000 keys × 10 versions = 10,000 values, history included. */
const VERSIONS = VALUE_COUNT / KEYS;
const WRITES_IN_FLIGHT = 32;
const BACKLOG_LINES = 100_000;
const LIVE_LINES = 100_000;
const PUBLISH_WINDOW = 4_000;
const PUBLISH_CHUNK = 500;
const CARRIER_EVERY = 100;
const TARGET_LINES_PER_SECOND = 30_000;
/** Vendor-level values under short keys, for the same reason as the value length. */
const SUBJECT = 'logs.raw.acme._.web-1';

const WORDS = 'deployment agent pulled image container started health check passed request completed upstream'.split(
  ' ',
);

/** 16 characters: 10,000 values of 32 would make one resolve reply larger than NATS's 1 MiB max_payload. */
function secretValue(): string {
  return randomBytes(12).toString('base64url');
}

/** ~150-byte log lines; every 100th carries one of the scope's values. */
function logLine(index: number, values: readonly string[]): Buffer {
  const words = Array.from({ length: 9 }, (_, i) => WORDS[(index * 7 + i * 3) % WORDS.length]).join(' ');
  const secret = index % CARRIER_EVERY === 0 ? ` password=${values[index % values.length]}` : '';
  const head = `2025-01-01T00:00:00.000Z INFO [agent-${index % 7}] ${words}`.slice(0, 130 - secret.length);
  return Buffer.from(`${head} request_id=${index.toString(16).padStart(12, '0')}${secret}`);
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Publishes like a shipper with asynchronous acks: a window of unconfirmed publishes, every PubAck on one inbox. */
async function publishLines(
  nats: NatsConnection,
  prefix: string,
  lines: readonly Buffer[],
  first: number,
): Promise<void> {
  const shipper = new LogsPublisher(nats, 30_000);
  shipper.start();
  const window = new Set<Promise<unknown>>();
  try {
    // Sent a chunk at a time (one socket write each), with at most PUBLISH_WINDOW unconfirmed.
    for (let start = 0; start < lines.length; start += PUBLISH_CHUNK) {
      while (window.size > PUBLISH_WINDOW - PUBLISH_CHUNK) await Promise.race(window);
      lines.slice(start, start + PUBLISH_CHUNK).forEach((line, i) => {
        const publish = shipper
          .publish(prefix + SUBJECT, line, natsHeaders(), `bench-line-${first + start + i}`)
          .finally(() => window.delete(publish));
        window.add(publish);
      });
    }
    await Promise.all(window);
  } finally {
    shipper.stop();
  }
}

async function storedIn(manager: JetStreamManager, stream: string): Promise<number> {
  // A busy server may answer an info request late; that is no reason to abort the run.
  for (;;) {
    try {
      return (await manager.streams.info(stream)).state.messages;
    } catch (error) {
      if ((error as { code?: string }).code !== 'TIMEOUT') throw error;
    }
  }
}

function progress(message: string): void {
  process.stderr.write(`  redaction bench: ${message}\n`);
}

/** Waits until `stream` holds `count` messages; returns when the first new one was seen (ms, performance.now()). */
async function waitForStored(manager: JetStreamManager, stream: string, count: number): Promise<number> {
  const before = await storedIn(manager, stream);
  let firstSeenAt = NaN;
  for (;;) {
    const stored = await storedIn(manager, stream);
    if (stored > before && Number.isNaN(firstSeenAt)) firstSeenAt = performance.now();
    if (stored >= count) return firstSeenAt;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function writeValues(client: TestNatsClient, token: string): Promise<string[]> {
  const values: string[] = [];
  const keys = Array.from({ length: KEYS }, (_, i) => `K${i}`);
  for (let version = 1; version <= VERSIONS; version++) {
    await inParallel(keys, WRITES_IN_FLIGHT, async (key) => {
      const value = secretValue();
      values.push(value);
      const reply = await client.request(
        `secrets.v1.${version === 1 ? 'create' : 'update'}`,
        { key, value },
        { token },
      );
      if (reply.status !== undefined) throw new Error(`writing ${key} failed: ${reply.raw}`);
    });
  }
  return values;
}

async function endToEnd(): Promise<string> {
  const database = await createTestDatabase();
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
  const services: TestService[] = [];
  const client = await TestNatsClient.connect(prefix);
  const nats: NatsConnection = client.connection;
  const manager = await nats.jetstreamManager();
  const logs = prefixedStreamName(prefix, 'LOGS');
  try {
    services.push(await startTestService(secretsService, env));
    const tokens = await TestTokens.create();
    const values = await writeValues(client, await tokens.vendor('acme', 'admin'));
    // Measured in steady state: the outbox has published every change, so no invalidation lands mid-run.
    await waitForStored(manager, prefixedStreamName(prefix, 'SECRETS_EVENTS'), VALUE_COUNT);
    progress(`${values.length} values written and their events published`);
    await ensureStreams(nats, ['LOGS_RAW', 'LOGS'], { subjectPrefix: prefix, replicas: 1 });

    // First figure: a backlog of lines already in LOGS_RAW when the service starts, drained to LOGS.
    const backlog = Array.from({ length: BACKLOG_LINES }, (_, i) => logLine(i, values));
    await publishLines(nats, prefix, backlog, 0);
    progress(`${BACKLOG_LINES} lines in LOGS_RAW`);
    const drainStart = performance.now();
    let redaction = await startTestService(redactionService, env);
    services.push(redaction);
    const firstStoredAt = await waitForStored(manager, logs, BACKLOG_LINES);
    const drainSeconds = (performance.now() - drainStart) / 1000;
    const steadySeconds = (performance.now() - firstStoredAt) / 1000;
    progress(`backlog drained in ${drainSeconds.toFixed(2)} s`);
    const buildSeconds = await histogramSum(redaction, 'redaction_matcher_build_seconds_sum');
    const masks = await histogramSum(redaction, 'redaction_masks_applied_total');

    // Second figure: lines published while the service runs (shipper, NATS and both services share the machine).
    const live = Array.from({ length: LIVE_LINES }, (_, i) => logLine(BACKLOG_LINES + i, values));
    const liveStart = performance.now();
    await publishLines(nats, prefix, live, BACKLOG_LINES);
    await waitForStored(manager, logs, BACKLOG_LINES + LIVE_LINES);
    const liveSeconds = (performance.now() - liveStart) / 1000;
    progress(`live lines stored in ${liveSeconds.toFixed(2)} s`);
    redaction = services[services.length - 1];

    const leaked = await anyValueStored(nats, logs, values);
    if (leaked) throw new Error('a secret value reached LOGS unredacted');
    const target = { label: 'target', value: TARGET_LINES_PER_SECOND };
    const figures: BenchFigure[] = [
      {
        name: `backlog of ${BACKLOG_LINES.toLocaleString('en-US')} lines drained logs.raw → LOGS (incl. service start and matcher build)`,
        value: BACKLOG_LINES / drainSeconds,
        unit: 'lines/s',
        baseline: target,
      },
      {
        name: `the same backlog from its first line stored in LOGS to its last (steady state)`,
        value: BACKLOG_LINES / steadySeconds,
        unit: 'lines/s',
        baseline: target,
      },
      {
        name: `${LIVE_LINES.toLocaleString('en-US')} lines published and redacted concurrently, first publish → last stored`,
        value: LIVE_LINES / liveSeconds,
        unit: 'lines/s',
        baseline: target,
      },
      {
        name: `matcher build: resolve ${VALUE_COUNT.toLocaleString('en-US')} values with history + buildMatcher`,
        value: buildSeconds * 1000,
        unit: 'ms',
        lowerIsBetter: true,
      },
      { name: 'masks applied in the backlog (1% of lines carry a value)', value: masks, unit: 'masks' },
    ];
    return renderTable(
      `redaction service end to end (${VALUE_COUNT.toLocaleString('en-US')} values, ~150-byte lines, REDACTION_SETTLE_MS default)`,
      figures,
    );
  } finally {
    await client.close();
    for (const service of services.reverse()) await service.close();
    await database.drop();
  }
}

async function histogramSum(service: TestService, name: string): Promise<number> {
  const text = await service.context.metrics.metrics();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/** Reads LOGS back and checks that no value appears in it: the figure counts only correct output. */
async function anyValueStored(nats: NatsConnection, stream: string, values: readonly string[]): Promise<boolean> {
  const consumer = await nats.jetstream().consumers.get(stream);
  const total = (await (await nats.jetstreamManager()).streams.info(stream)).state.messages;
  const messages = await consumer.fetch({ max_messages: total, expires: 30_000 });
  const needles = new Set(values);
  let seen = 0;
  for await (const message of messages) {
    const text = message.string();
    const carried = /password=(\S+)/.exec(text)?.[1];
    if (carried !== undefined && needles.has(carried)) return true;
    if (++seen >= total) break;
  }
  return false;
}

/** The matcher figures are part of this benchmark's output. */
export const includes = ['redaction-matcher'];

export async function run(): Promise<string> {
  const endToEndTable = await endToEnd();
  return `${endToEndTable}\n${await runMatcherBench()}`;
}
