// `npm run bench -- secrets`: creates/s over NATS at 1 and 32 in flight, resolve/s of 20 keys (with CPU per operation
// of the process and of Postgres), rebuild events/s over 100k events, and value encrypt/decrypt ops/s beside raw
// node:crypto AES-256-GCM. Boots the service in-process against a fresh database and subject prefix, and removes both
// at the end.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type KeyMaterial } from '@platform/config';
import { DataKeyRing, InMemoryDataKeyStore, MasterKeyRing } from '@platform/crypto';
import { type NewEvent } from '@platform/event-store';
import { Client } from 'pg';
import { prefixedStreamName } from '@platform/messaging';
import {
  ResolveCaller,
  TestNatsClient,
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { SecretsOperations } from '../services/secrets/src/ops/secrets-operations';
import { PostgresDataKeyStore } from '../services/secrets/src/keys/data-key.repository';
import { secretStreamId } from '../services/secrets/src/secrets/secret-stream';
import { openStoredValue } from '../services/secrets/src/secrets/stored-value';
import { openSecretsStore } from '../services/secrets/src/secrets.migrations';
import { secretsService } from '../services/secrets/src/secrets.definition';
import { type BenchFigure, opsPerSecond, percentile, renderTable } from './report';

const CREATE_SECONDS = 3;
const RESOLVE_SECONDS = 3;
const RESOLVE_IN_FLIGHT = 16;
const RESOLVE_KEYS = 20;
const REBUILD_EVENTS = 100_000;
const EVENTS_PER_STREAM = 10;
const SAMPLE_VALUE = 'postgresql://app:correct-horse-battery-staple@db.internal:5432/app';

const masterKeysJson = JSON.parse(readFileSync(join(__dirname, '../deploy/dev/master-keys.json'), 'utf8')) as unknown;
const masterKeys: KeyMaterial = { json: masterKeysJson, source: 'bench', isDevDefault: true };

/** CPU time (user + system, ms) of a process so far, from /proc; undefined elsewhere. */
function cpuMsOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // 100 clock ticks per second
  } catch {
    return undefined;
  }
}

/**
 * CPU per operation of this process (the service and its load generator share it) and of the bench database's
 * Postgres backends: unlike throughput, it hardly depends on what else the shared machine is doing.
 */
async function cpuPerOperation<T>(
  database: TestDatabase,
  measure: () => Promise<T[]>,
): Promise<{ results: T[]; process: number; postgres?: number }> {
  const backends = async () => {
    const admin = new Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>(
        'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      return rows.map((row) => row.pid);
    } finally {
      await admin.end();
    }
  };
  const pids = await backends();
  const postgresBefore = pids.map((pid) => cpuMsOf(pid));
  const processBefore = process.cpuUsage();
  const results = await measure();
  const used = process.cpuUsage(processBefore);
  const postgresAfter = pids.map((pid) => cpuMsOf(pid));
  const postgres = postgresBefore.every((ms) => ms !== undefined)
    ? postgresAfter.reduce<number>((sum, ms, i) => sum + (ms ?? 0) - postgresBefore[i]!, 0)
    : undefined;
  const count = Math.max(results.length, 1);
  return {
    results,
    process: (used.user + used.system) / 1000 / count,
    postgres: postgres === undefined ? undefined : postgres / count,
  };
}

function cpuFigures(what: string, measured: { process: number; postgres?: number }): BenchFigure[] {
  const µs = (name: string, ms: number): BenchFigure => ({ name, value: ms * 1000, unit: 'µs', lowerIsBetter: true });
  return [
    µs(`${what}: CPU per operation, service and load generator (one process)`, measured.process),
    ...(measured.postgres === undefined
      ? []
      : [µs(`${what}: CPU per operation, Postgres backends`, measured.postgres)]),
  ];
}

/** The 1-minute load average, shown beside each figure: the machine is shared with other work. */
const load = (): string => `load ${loadavg()[0].toFixed(1)}`;

async function forSeconds(seconds: number, inFlight: number, step: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await step();
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

function rate(count: number, seconds: number): number {
  return count / seconds;
}

async function overNats(): Promise<BenchFigure[]> {
  const database = await createTestDatabase();
  const prefix = uniqueSubjectPrefix();
  const service = await startTestService(secretsService, {
    NATS_SUBJECT_PREFIX: prefix,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
  });
  const client = await TestNatsClient.connect(prefix);
  try {
    const tokens = await TestTokens.create();
    const admin = await tokens.vendor('benchvendor', 'admin');
    let n = 0;
    const create = async () => {
      const reply = await client.request(
        'secrets.v1.create',
        { key: `KEY_${n++}`, value: SAMPLE_VALUE },
        { token: admin },
      );
      if (reply.status !== undefined) throw new Error(`create failed: ${reply.raw}`);
    };
    await forSeconds(0.5, 8, create);
    const sequentialLoad = load();
    const sequential = await forSeconds(CREATE_SECONDS, 1, create);
    const parallelLoad = load();
    const parallelCpu = await cpuPerOperation(database, () => forSeconds(CREATE_SECONDS, 32, create));
    const parallel = parallelCpu.results;

    const renderOrg = 'benchrender';
    const renderAdmin = await tokens.vendor(renderOrg, 'admin');
    const keys = Array.from({ length: RESOLVE_KEYS }, (_, i) => `RENDER_KEY_${i}`);
    for (const key of keys)
      await client.request('secrets.v1.create', { key, value: SAMPLE_VALUE }, { token: renderAdmin });
    // As render resolves: the reply key confirmed by the token (cnf.jkt), a fresh nonce; the reply is signed.
    const render = await ResolveCaller.create(tokens, 'deployer', ['secrets:resolve']);
    const resolve = async () => {
      const reply = await client.request('secrets.v1.resolve', render.request({ organizationId: renderOrg, keys }), {
        token: render.token,
      });
      if (reply.status !== undefined) throw new Error(`resolve failed: ${reply.raw}`);
    };
    await forSeconds(0.5, RESOLVE_IN_FLIGHT, resolve);
    const resolveLoad = load();
    const resolveCpu = await cpuPerOperation(database, () => forSeconds(RESOLVE_SECONDS, RESOLVE_IN_FLIGHT, resolve));
    const resolves = resolveCpu.results;

    return [
      {
        name: `creates/s over NATS, 1 in flight (${sequentialLoad})`,
        value: rate(sequential.length, CREATE_SECONDS),
        unit: 'creates/s',
      },
      {
        name: `creates/s over NATS, 32 in flight (p50 ${percentile(parallel, 50).toFixed(1)} ms, p99 ${percentile(parallel, 99).toFixed(1)} ms; ${parallelLoad})`,
        value: rate(parallel.length, CREATE_SECONDS),
        unit: 'creates/s',
        baseline: { label: 'target', value: 1000 },
      },
      {
        name: `resolve/s of ${RESOLVE_KEYS} keys, ${RESOLVE_IN_FLIGHT} in flight (p50 ${percentile(resolves, 50).toFixed(1)} ms, p99 ${percentile(resolves, 99).toFixed(1)} ms; ${resolveLoad})`,
        value: rate(resolves.length, RESOLVE_SECONDS),
        unit: 'resolves/s',
        baseline: { label: 'render target', value: 2000 },
      },
      ...cpuFigures('creates, 32 in flight', parallelCpu),
      ...cpuFigures(`resolves, ${RESOLVE_IN_FLIGHT} in flight`, resolveCpu),
    ];
  } finally {
    await client.close();
    await service.close();
    const manager = await client.connection.jetstreamManager().catch(() => undefined);
    await manager?.streams.delete(prefixedStreamName(prefix, 'SECRETS_EVENTS')).catch(() => undefined);
    await database.drop();
  }
}

/** Writes 100k real secret events (10 per stream: a create and 9 value updates), then rebuilds secret_view. */
async function rebuild(): Promise<BenchFigure> {
  const database = await createTestDatabase();
  const store = await openSecretsStore(database.url);
  try {
    const ring = new DataKeyRing(await MasterKeyRing.fromJwks(masterKeysJson), new PostgresDataKeyStore(store));
    const metadata = { actor: { sub: 'bench', org: 'benchorg', role: 'admin' }, occurredAt: new Date().toISOString() };
    const streams = REBUILD_EVENTS / EVENTS_PER_STREAM;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < streams) {
          const i = next++;
          const scope = { organizationId: `benchorg${i % 10}`, customerOrganizationId: i % 2 ? `cust${i % 7}` : null };
          const key = `KEY_${i}`;
          const streamId = secretStreamId(scope, key);
          const events: NewEvent[] = [];
          for (let v = 0; v < EVENTS_PER_STREAM; v++) {
            const eventId = randomUUID();
            const place = { organizationId: scope.organizationId, streamId, version: v + 1, eventId };
            const sealed = await ring.encryptValue(place, `${SAMPLE_VALUE}-${v}`);
            const value = { value: sealed.jwe, dataKeyId: sealed.dataKeyId, digest: sealed.digest };
            events.push(
              v === 0
                ? { type: 'SecretCreated', data: { key, scope, ...value }, metadata, eventId }
                : { type: 'SecretValueUpdated', data: value, metadata, eventId },
            );
          }
          await store.appendToStream(streamId, events, { expectedVersion: 'no_stream' });
        }
      }),
    );
  } finally {
    await store.close();
  }
  const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys });
  try {
    const rebuildLoad = load();
    const report = await ops.rebuildProjections();
    return {
      name: `projections rebuild over ${report.events.toLocaleString('en-US')} events, in Postgres (${rebuildLoad})`,
      value: rate(report.events, report.seconds),
      unit: 'events/s',
      baseline: { label: 'target', value: 50_000 },
    };
  } finally {
    await ops.close();
    await database.drop();
  }
}

async function asyncOpsPerSecond(fn: () => Promise<unknown>, minMs = 1000): Promise<number> {
  for (let i = 0; i < 1000; i++) await fn();
  let runs = 0;
  const started = performance.now();
  while (performance.now() - started < minMs) {
    for (let i = 0; i < 64; i++) await fn();
    runs += 64;
  }
  return (runs * 1000) / (performance.now() - started);
}

/** DataKeyRing's value JWE (dir + A256GCM, node:crypto on the compact form) beside bare AES-256-GCM on the same bytes. */
async function valueCrypto(): Promise<BenchFigure[]> {
  const ring = new DataKeyRing(await MasterKeyRing.fromJwks(masterKeysJson), new InMemoryDataKeyStore());
  const streamId = 'secret:benchorg:_:API_KEY';
  const place = { organizationId: 'benchorg', streamId, version: 1, eventId: randomUUID() };
  const sealed = await ring.encryptValue(place, SAMPLE_VALUE);
  const encrypts = await asyncOpsPerSecond(() => ring.encryptValue(place, SAMPLE_VALUE));
  const decrypts = await asyncOpsPerSecond(() => ring.decryptValue(sealed.jwe, place));
  // What resolve does on a cache miss: the row's ciphertext against its event's digest, then the bound decrypt.
  const stored = { organizationId: 'benchorg', customerId: '', key: 'API_KEY', version: 1, eventId: place.eventId };
  const opens = await asyncOpsPerSecond(() =>
    openStoredValue(ring, { ...stored, value: sealed.jwe, digest: sealed.digest }),
  );

  const key = randomBytes(32);
  const plaintext = Buffer.from(SAMPLE_VALUE, 'utf8');
  const aad = Buffer.from(sealed.jwe.split('.')[0], 'ascii');
  const rawEncrypt = () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
    return { iv, data: Buffer.concat([cipher.update(plaintext), cipher.final()]), tag: cipher.getAuthTag() };
  };
  const box = rawEncrypt();
  const rawDecrypt = () => {
    const decipher = createDecipheriv('aes-256-gcm', key, box.iv).setAAD(aad).setAuthTag(box.tag);
    return Buffer.concat([decipher.update(box.data), decipher.final()]).toString('utf8');
  };
  return [
    {
      name: 'value encrypt (DataKeyRing, JWE dir+A256GCM)',
      value: encrypts,
      unit: 'ops/s',
      baseline: { label: 'raw node:crypto AES-256-GCM', value: opsPerSecond(rawEncrypt) },
    },
    {
      name: 'value decrypt (DataKeyRing, JWE dir+A256GCM)',
      value: decrypts,
      unit: 'ops/s',
      baseline: { label: 'raw node:crypto AES-256-GCM', value: opsPerSecond(rawDecrypt) },
    },
    {
      name: 'stored value open on a resolve cache miss (digest check + bound decrypt)',
      value: opens,
      unit: 'ops/s',
      baseline: { label: 'value decrypt alone', value: decrypts },
    },
  ];
}

export async function run(): Promise<string> {
  const figures = [...(await overNats()), await rebuild(), ...(await valueCrypto())];
  return renderTable('secrets service', figures);
}
