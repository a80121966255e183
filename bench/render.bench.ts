// `npm run bench -- render`: render.v1.render over NATS for a 23-line env file referencing 20 secrets, at 1 and
// 200 requests in flight, with the secrets and render services as child processes (as deployed: one process each,
// sharing this machine's cores with NATS, Postgres and this load generator). Beside it, what the time is spent on:
// secrets.v1.resolve alone over NATS, and render's own CPU steps (execute, reply key, decrypt) in process.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  decryptWithReplyKey,
  encryptForReplyKey,
  generateReplyKeyPair,
  type ReplyPrivateKey,
  type ReplyPublicJwk,
} from '@platform/crypto';
import { parseTemplate } from '@platform/template';
import {
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { type NatsConnection, connect, headers as natsHeaders } from 'nats';
import { type BenchFigure, opsPerSecond, percentile, renderTable } from './report';

const ROOT = join(__dirname, '..');
const ORG = 'benchvendor';
const KEYS = Array.from({ length: 20 }, (_, i) => `SECRET_${String(i + 1).padStart(2, '0')}`);
const WARM_UP_MS = 1500;
const MEASURE_MS = 5000;
const TARGET_RENDERS_PER_SECOND = 2000;
const TARGET_P99_MS = 10;

/** 23 lines: a comment, 20 values (one through printf, one through if/else), a blank line and a literal. */
const TEMPLATE = [
  '# service configuration',
  ...KEYS.slice(0, 18).map((key) => `${key}={{ .Secrets.${key} }}`),
  `DATABASE_URL={{ printf "postgresql://app:%s@db:5432/app" .Secrets.${KEYS[18]} }}`,
  `API_URL={{ if .Secrets.${KEYS[19]} }}{{ .Secrets.${KEYS[19]} }}{{ else }}https://api.example.com{{ end }}`,
  '',
  'LOG_LEVEL=info',
].join('\n');

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Load {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

/** `inFlight` workers each sending one request after another for `ms`; latency per request, failures counted. */
async function load(send: () => Promise<boolean>, inFlight: number, ms: number): Promise<Load> {
  const latencies: number[] = [];
  let failures = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const start = performance.now();
        const ok = await send();
        latencies.push(performance.now() - start);
        if (!ok) failures++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: (latencies.length * 1000) / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
  };
}

function startService(name: 'secrets' | 'render', env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', `services/${name}/src/main.ts`],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, NODE_ENV: 'test', HTTP_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: 'inherit',
    },
  );
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) process.stderr.write(`${name} exited with ${code}\n`);
  });
  return child;
}

async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

class Caller {
  constructor(
    private readonly nats: NatsConnection,
    private readonly prefix: string,
    private readonly token: string,
  ) {}

  async request(subject: string, body: unknown, timeout = 5000): Promise<{ ok: boolean; body: unknown }> {
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${this.token}`);
    try {
      const reply = await this.nats.request(this.prefix + subject, encoder.encode(JSON.stringify(body)), {
        timeout,
        headers,
      });
      return { ok: !reply.headers?.get('Nats-Service-Error-Code'), body: JSON.parse(decoder.decode(reply.data)) };
    } catch {
      return { ok: false, body: undefined };
    }
  }

  /** Retries until the subject answers without error, for child processes that are still starting. */
  async waitFor(subject: string, body: unknown): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if ((await this.request(subject, body, 1000)).ok) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${subject} did not answer within 120 s`);
  }
}

/** Render's own CPU per request, measured in this process: execute, a fresh reply key pair, one reply decryption. */
async function cpuFigures(): Promise<BenchFigure[]> {
  const template = parseTemplate(TEMPLATE);
  const secrets = Object.fromEntries(KEYS.map((key) => [key, `value-of-${key}-0123456789abcdef`]));
  const executeUs = 1e6 / opsPerSecond(() => template.execute({ Secrets: secrets }), 500);
  const parseUs = 1e6 / opsPerSecond(() => parseTemplate(TEMPLATE), 500);
  const { publicJwk, privateKey } = await generateReplyKeyPair();
  const payload = {
    values: Object.fromEntries(KEYS.map((key) => [key, { value: secrets[key], version: 1, scope: 'vendor' }])),
    history: [],
  };
  const jwe = await encryptForReplyKey(publicJwk, payload);
  const keyPairUs = await microseconds(() => generateReplyKeyPair());
  const decryptUs = await microseconds(() => decryptWithReplyKey(privateKey, jwe));
  const encryptUs = await microseconds(() => encryptForReplyKey(publicJwk, payload));
  const us = (name: string, value: number): BenchFigure => ({ name, value, unit: 'µs', lowerIsBetter: true });
  return [
    us('render CPU: execute the 23-line template (parsed, cached)', executeUs),
    us('render CPU: parse it (once per template, then cached)', parseUs),
    us('render CPU: generate a reply key pair (P-256)', keyPairUs),
    us('render CPU: decrypt the resolve reply (ECDH-ES + A256GCM)', decryptUs),
    us('secrets CPU: encrypt the resolve reply (for comparison)', encryptUs),
  ];
}

async function microseconds(fn: () => Promise<unknown>, runs = 3000): Promise<number> {
  for (let i = 0; i < 300; i++) await fn();
  const start = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return ((performance.now() - start) * 1000) / runs;
}

interface Keys {
  readonly publicJwk: ReplyPublicJwk;
  readonly privateKey: ReplyPrivateKey;
}

async function measureOverNats(
  database: TestDatabase,
  replyKeyMaxAgeMs: number,
): Promise<{ render1: Load; render200: Load; resolve1: Load; resolve200: Load }> {
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, NATS_URL: testInfrastructure().natsUrl };
  const tokens = await TestTokens.create();
  const nats = await connect({ servers: testInfrastructure().natsUrl, name: 'render-bench' });
  const admin = new Caller(nats, prefix, await tokens.vendor(ORG, 'admin'));
  const deployer = new Caller(nats, prefix, await tokens.service('deployer', ['render:any']));
  const resolver = new Caller(nats, prefix, await tokens.service('bench', ['secrets:resolve']));
  const secrets = startService('secrets', env);
  const render = startService('render', { ...env, RENDER_REPLY_KEY_MAX_AGE_MS: String(replyKeyMaxAgeMs) });
  try {
    await admin.waitFor('secrets.v1.list', {});
    for (const key of KEYS) {
      const created = await admin.request('secrets.v1.create', { key, value: `value-of-${key}-${prefix}` });
      // A rerun against the same database finds the keys already there.
      if (!created.ok && (created.body as { error?: { code?: string } }).error?.code !== 'ALREADY_EXISTS') {
        throw new Error(`creating ${key} failed: ${JSON.stringify(created.body)}`);
      }
    }
    const renderBody = { template: TEMPLATE, format: 'env', organizationId: ORG };
    await deployer.waitFor('render.v1.render', renderBody);
    const renderOnce = async () => (await deployer.request('render.v1.render', renderBody)).ok;
    await load(renderOnce, 50, WARM_UP_MS);
    const render1 = await load(renderOnce, 1, MEASURE_MS);
    const render200 = await load(renderOnce, 200, MEASURE_MS);

    // The same 20 values straight from secrets.v1.resolve, decrypted here: the floor render builds on.
    const keys: Keys = await generateReplyKeyPair();
    const resolveOnce = async () => {
      const reply = await resolver.request('secrets.v1.resolve', {
        organizationId: ORG,
        keys: KEYS,
        replyKey: keys.publicJwk,
      });
      if (!reply.ok) return false;
      await decryptWithReplyKey(keys.privateKey, (reply.body as { ciphertext: string }).ciphertext);
      return true;
    };
    await load(resolveOnce, 50, WARM_UP_MS);
    const resolve1 = await load(resolveOnce, 1, MEASURE_MS);
    const resolve200 = await load(resolveOnce, 200, MEASURE_MS);
    return { render1, render200, resolve1, resolve200 };
  } finally {
    await Promise.all([stopService(render), stopService(secrets)]);
    await nats.close();
  }
}

function figure(name: string, value: number, unit: 'ops/s' | 'ms', baseline?: [string, number]): BenchFigure {
  return {
    name,
    value,
    unit,
    lowerIsBetter: unit === 'ms',
    ...(baseline ? { baseline: { label: baseline[0], value: baseline[1] } } : {}),
  };
}

function failuresOf(...loads: Load[]): string {
  const failures = loads.reduce((sum, l) => sum + l.failures, 0);
  return failures === 0 ? '' : ` (${failures} requests failed)`;
}

export async function run(): Promise<string> {
  const database = await createTestDatabase();
  try {
    const fresh = await measureOverNats(database, 0);
    const reused = await measureOverNats(database, 1000);
    const { render1, render200, resolve1, resolve200 } = fresh;
    const figures: BenchFigure[] = [
      figure(`render, 200 in flight: renders/s${failuresOf(render200)}`, render200.perSecond, 'ops/s', [
        'target',
        TARGET_RENDERS_PER_SECOND,
      ]),
      figure('render, 200 in flight: p99', render200.p99, 'ms', ['target', TARGET_P99_MS]),
      figure('render, 200 in flight: p50', render200.p50, 'ms', ['resolve alone, 200 in flight', resolve200.p50]),
      figure(`resolve alone, 200 in flight: resolves/s${failuresOf(resolve200)}`, resolve200.perSecond, 'ops/s'),
      figure('resolve alone, 200 in flight: p99', resolve200.p99, 'ms'),
      figure(`render, 1 in flight: renders/s${failuresOf(render1)}`, render1.perSecond, 'ops/s', [
        'resolve alone, 1 in flight',
        resolve1.perSecond,
      ]),
      figure('render, 1 in flight: p50', render1.p50, 'ms', ['resolve alone, 1 in flight', resolve1.p50]),
      figure('render, 1 in flight: p99', render1.p99, 'ms', ['resolve alone, 1 in flight', resolve1.p99]),
      figure(
        `render, 200 in flight, reply key reused for 1 s: renders/s${failuresOf(reused.render200)}`,
        reused.render200.perSecond,
        'ops/s',
        ['fresh key per render', render200.perSecond],
      ),
      figure('render, 200 in flight, reply key reused for 1 s: p99', reused.render200.p99, 'ms', [
        'fresh key per render',
        render200.p99,
      ]),
      ...(await cpuFigures()),
    ];
    return renderTable(
      'render.v1.render over NATS: 23-line env file, 20 secrets (secrets and render as child processes)',
      figures,
    );
  } finally {
    await database.drop();
  }
}
