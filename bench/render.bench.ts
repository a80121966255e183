// `npm run bench -- render`: render.v1.render over NATS for a 23-line env file referencing 20 secrets, at 1, 8 and
// 200 requests in flight, with the secrets and render services as child processes (as deployed: one process each,
// sharing this machine's cores with NATS, Postgres and this load generator). Beside it, what the time is spent on:
// CPU per render of each process (from /proc, so independent of how busy the shared machine is), secrets.v1.resolve
// alone over NATS, the same load with a fresh reply key per render (ECDH on every request), and render's own CPU
// steps in process.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  ReplySigner,
  ReplyVerifier,
  decryptWithReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from '@platform/crypto';
// The encrypter class is not part of the crypto library's public surface; the bench compares its two modes.
import { ReplyEncrypter } from '../libs/crypto/src/reply-cipher';
import { parseTemplate } from '@platform/template';
import {
  ResolveCaller,
  type TestDatabase,
  TestTokens,
  devReplyJwks,
  devReplySigningKey,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { type NatsConnection, connect, headers as natsHeaders } from 'nats';
import { Client } from 'pg';
import { type BenchFigure, opsPerSecond, percentile, recordedFigure, renderTable } from './report';
import { KEYS, ORG, TEMPLATE } from './render-workload';

const ROOT = join(__dirname, '..');
const WARM_UP_MS = 1500;
const MEASURE_MS = 5000;
const TARGET_RENDERS_PER_SECOND = 2000;
const TARGET_P99_MS = 10;
/** Renders name one of this many deployments in turn, so each updates a row of secrets' deployment index. */
const DEPLOYMENTS = 50;
/** bench/results.md's figure for renders at 200 in flight, recorded before renders carried a deploymentId. */
const RECORDED_RENDER_200 = 'render, 200 in flight: renders/s';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Load {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
  /** 1-minute load average when the measurement started. */
  readonly load: number;
  /** CPU milliseconds per request, by process, when measured with `CpuMeter`. */
  readonly cpuPerRequest?: Readonly<Record<string, number>>;
}

/** CPU time (user + system, ms) a process has used so far; undefined where /proc is not available. */
function cpuMsOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS_PER_SECOND = 100;

function natsServerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server') return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * CPU used by each process that serves a render: the two services, this load generator, the Postgres backends of the
 * bench database and the NATS server (which also serves whatever else runs on this machine, so an upper bound).
 */
class CpuMeter {
  private constructor(
    private readonly pids: Readonly<Record<string, number | undefined>>,
    private readonly database: Client,
  ) {}

  static async open(database: TestDatabase, services: Record<string, ChildProcess>): Promise<CpuMeter> {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const pids = Object.fromEntries(Object.entries(services).map(([name, child]) => [name, child.pid]));
    return new CpuMeter({ ...pids, nats: natsServerPid() }, client);
  }

  async sample(): Promise<Record<string, number>> {
    const { rows } = await this.database.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    const sample: Record<string, number> = {
      client: process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000,
    };
    sample.postgres = rows.reduce((sum, row) => sum + (cpuMsOf(row.pid) ?? 0), 0);
    for (const [name, pid] of Object.entries(this.pids)) {
      const ms = pid === undefined ? undefined : cpuMsOf(pid);
      if (ms !== undefined) sample[name] = ms;
    }
    return sample;
  }

  async close(): Promise<void> {
    await this.database.end();
  }
}

/** `inFlight` workers each sending one request after another for `ms`; latency per request, failures counted. */
export async function load(send: () => Promise<boolean>, inFlight: number, ms: number, cpu?: CpuMeter): Promise<Load> {
  const latencies: number[] = [];
  let failures = 0;
  const loadAtStart = loadavg()[0];
  const cpuBefore = await cpu?.sample();
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
  const cpuAfter = await cpu?.sample();
  latencies.sort((a, b) => a - b);
  const cpuPerRequest =
    cpuBefore && cpuAfter
      ? Object.fromEntries(
          Object.keys(cpuAfter)
            .filter((name) => cpuBefore[name] !== undefined)
            .map((name) => [name, (cpuAfter[name] - cpuBefore[name]) / Math.max(latencies.length, 1)]),
        )
      : undefined;
  return {
    perSecond: (latencies.length * 1000) / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
    load: loadAtStart,
    cpuPerRequest,
  };
}

export function startService(name: 'secrets' | 'render', env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      // BENCH_CPU_PROFILE_DIR=<dir> writes a V8 CPU profile of each service there when it stops.
      ...(process.env.BENCH_CPU_PROFILE_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE_DIR}`]
        : []),
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      `services/${name}/src/main.ts`,
    ],
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

export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export class Caller {
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

/** Render's own CPU per request, measured in this process: execute, reply keys, and the reply's encryption. */
async function cpuFigures(): Promise<BenchFigure[]> {
  const template = parseTemplate(TEMPLATE);
  const secrets = Object.fromEntries(KEYS.map((key) => [key, `value-of-${key}-0123456789abcdef`]));
  const executeUs = 1e6 / opsPerSecond(() => template.execute({ Secrets: secrets }), 500);
  const parseUs = 1e6 / opsPerSecond(() => parseTemplate(TEMPLATE), 500);
  const payload = {
    values: Object.fromEntries(KEYS.map((key) => [key, { value: secrets[key], version: 1, scope: 'vendor' }])),
    history: [],
  };
  const fresh = new ReplyEncrypter({ ttlMs: 0 });
  const reused = new ReplyEncrypter();
  const { publicJwk } = await generateReplyKeyPair();
  const keyPairUs = await microseconds(() => generateReplyKeyPair({ ttlMs: 0 }));
  const freshEncryptUs = await microseconds(async () => fresh.encrypt(publicJwk, payload));
  const reusedEncryptUs = await microseconds(async () => reused.encrypt(publicJwk, payload));
  // A new private key each time: every decryption pays the key agreement, as with a fresh reply key per render.
  const freshReplies = await Promise.all(
    Array.from({ length: 64 }, async () => {
      const pair = await generateReplyKeyPair({ ttlMs: 0 });
      return { privateKey: pair.privateKey, jwe: fresh.encrypt(pair.publicJwk, payload) };
    }),
  );
  let n = 0;
  const freshDecryptUs = await microseconds(() => {
    const reply = freshReplies[n++ % freshReplies.length];
    return decryptWithReplyKey(reply.privateKey, reply.jwe);
  });
  const held = await generateReplyKeyPair();
  const heldReply = reused.encrypt(held.publicJwk, payload);
  const reusedDecryptUs = await microseconds(() => decryptWithReplyKey(held.privateKey, heldReply));
  // Issue 16: the reply's signature (secrets) and its check (render), and the per-resolve binding render adds.
  const signer = ReplySigner.fromJwk(devReplySigningKey());
  const verifier = ReplyVerifier.fromJwks(devReplyJwks());
  const binding = {
    organizationId: ORG,
    customerOrganizationId: null,
    nonce: newReplyNonce(),
    replyKeyThumbprint: replyKeyThumbprint(held.publicJwk),
  };
  const signUs = await microseconds(async () => signer.sign(binding, heldReply));
  const signature = signer.sign(binding, heldReply);
  const verifyUs = await microseconds(async () => verifier.verify(signature, heldReply, binding));
  const bindUs = await microseconds(async () => ({ nonce: newReplyNonce(), jkt: replyKeyThumbprint(held.publicJwk) }));
  const us = (name: string, value: number, baseline?: [string, number]): BenchFigure => ({
    name,
    value,
    unit: 'µs',
    lowerIsBetter: true,
    ...(baseline ? { baseline: { label: baseline[0], value: baseline[1] } } : {}),
  });
  return [
    us('render CPU: execute the 23-line template (parsed, cached)', executeUs),
    us('render CPU: parse it (once per template, then cached)', parseUs),
    us('render CPU: generate a reply key pair (P-256; once per 60 s by default)', keyPairUs),
    us('render CPU: decrypt the resolve reply, agreement remembered', reusedDecryptUs, [
      'key agreement per reply',
      freshDecryptUs,
    ]),
    us('secrets CPU: encrypt the resolve reply, ephemeral key reused', reusedEncryptUs, [
      'fresh ephemeral key per reply',
      freshEncryptUs,
    ]),
    us('secrets CPU: sign the resolve reply (ES256 over its binding)', signUs, ['encrypting it', reusedEncryptUs]),
    us('render CPU: check the reply signature and binding', verifyUs, ['decrypting it', reusedDecryptUs]),
    us('render CPU: a nonce and the reply key thumbprint per resolve', bindUs),
  ];
}

async function microseconds(fn: () => Promise<unknown>, runs = 3000): Promise<number> {
  for (let i = 0; i < 300; i++) await fn();
  const start = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return ((performance.now() - start) * 1000) / runs;
}

interface Measured {
  readonly render1: Load;
  readonly render8: Load;
  readonly render200: Load;
  readonly resolve1: Load;
  readonly resolve200: Load;
}

/** With `only200`, just renders at 200 in flight (the comparison run); otherwise every figure. */
async function measureOverNats(
  database: TestDatabase,
  replyKeyMaxAgeMs: number,
  only200: boolean,
): Promise<Partial<Measured> & { render200: Load }> {
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, NATS_URL: testInfrastructure().natsUrl };
  const tokens = await TestTokens.create();
  // No stack capture per request in the load generator: it shares the cores with what it measures.
  const nats = await connect({ servers: testInfrastructure().natsUrl, name: 'render-bench', noAsyncTraces: true });
  const admin = new Caller(nats, prefix, await tokens.vendor(ORG, 'admin'));
  const deployer = new Caller(nats, prefix, await tokens.service('deployer', ['render:any']));
  // The floor resolves as render does: its reply key confirmed by the token, a nonce, the reply checked.
  const bench = await ResolveCaller.create(tokens, 'bench', ['secrets:resolve'], replyKeyMaxAgeMs);
  const resolver = new Caller(nats, prefix, bench.token);
  const secrets = startService('secrets', env);
  const render = startService('render', { ...env, RENDER_REPLY_KEY_MAX_AGE_MS: String(replyKeyMaxAgeMs) });
  const cpu = await CpuMeter.open(database, { secrets, render });
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
    // Each render for a deployment, as a deployer renders: its resolve upserts that deployment's index row.
    let rendered = 0;
    const renderOnce = async () =>
      (
        await deployer.request('render.v1.render', {
          ...renderBody,
          deploymentId: `deployment-${rendered++ % DEPLOYMENTS}`,
        })
      ).ok;
    await load(renderOnce, 50, WARM_UP_MS);
    const render200 = await load(renderOnce, 200, MEASURE_MS, cpu);
    if (only200) return { render200 };
    const render8 = await load(renderOnce, 8, MEASURE_MS, cpu);
    const render1 = await load(renderOnce, 1, MEASURE_MS);

    // The same 20 values straight from secrets.v1.resolve, decrypted here: the floor render builds on.
    const resolveOnce = async () => {
      const body = bench.request({ organizationId: ORG, keys: KEYS });
      const reply = await resolver.request('secrets.v1.resolve', body);
      if (!reply.ok) return false;
      await bench.open(body, reply.body as object);
      return true;
    };
    await load(resolveOnce, 50, WARM_UP_MS);
    const resolve1 = await load(resolveOnce, 1, MEASURE_MS);
    const resolve200 = await load(resolveOnce, 200, MEASURE_MS);
    return { render1, render8, render200, resolve1, resolve200 };
  } finally {
    await cpu.close();
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

/** `name (load L): figure` — the load average beside every figure, because the machine is shared. */
const at = (measured: Load, name: string): string => `${name} (load ${measured.load.toFixed(1)})`;

/** CPU per render of each process, and their sum: what bounds throughput however idle the machine is. */
function cpuFiguresOf(label: string, measured: Load, baseline?: Load): BenchFigure[] {
  const cpu = measured.cpuPerRequest;
  if (!cpu) return [];
  const total = (of: Readonly<Record<string, number>>) => Object.values(of).reduce((sum, ms) => sum + ms, 0);
  const µs = (ms: number) => ms * 1000;
  const rows = Object.entries(cpu).map(([process, ms]): BenchFigure => ({
    name: `${label}: CPU per render, ${process}${process === 'nats' ? ' (shared server: upper bound)' : ''}`,
    value: µs(ms),
    unit: 'µs',
    lowerIsBetter: true,
    ...(baseline?.cpuPerRequest?.[process] !== undefined
      ? { baseline: { label: 'fresh reply key per render', value: µs(baseline.cpuPerRequest[process]) } }
      : {}),
  }));
  const sum = total(cpu);
  return [
    ...rows,
    {
      name: `${label}: CPU per render, all processes (2 cores ÷ this = the most renders/s this machine could do)`,
      value: µs(sum),
      unit: 'µs',
      lowerIsBetter: true,
      ...(baseline?.cpuPerRequest
        ? { baseline: { label: 'fresh reply key per render', value: µs(total(baseline.cpuPerRequest)) } }
        : {}),
    },
  ];
}

export async function run(): Promise<string> {
  const database = await createTestDatabase();
  try {
    const reused = (await measureOverNats(database, 60_000, false)) as Measured;
    const fresh = await measureOverNats(database, 0, true);
    const { render1, render8, render200, resolve1, resolve200 } = reused;
    const recorded = recordedFigure(RECORDED_RENDER_200);
    const figures: BenchFigure[] = [
      figure(
        at(
          render200,
          `render with deploymentId (index row upserted), 200 in flight: renders/s${failuresOf(render200)}`,
        ),
        render200.perSecond,
        'ops/s',
        recorded === undefined ? undefined : ['bench/results.md, before the deployment index', recorded],
      ),
      figure(at(render200, `render, 200 in flight: renders/s${failuresOf(render200)}`), render200.perSecond, 'ops/s', [
        'target',
        TARGET_RENDERS_PER_SECOND,
      ]),
      figure(at(render200, 'render, 200 in flight: p99'), render200.p99, 'ms', ['target', TARGET_P99_MS]),
      figure(at(render200, 'render, 200 in flight: p50'), render200.p50, 'ms', [
        'resolve alone, 200 in flight',
        resolve200.p50,
      ]),
      figure(at(render8, `render, 8 in flight: renders/s${failuresOf(render8)}`), render8.perSecond, 'ops/s'),
      figure(at(render8, 'render, 8 in flight: p50'), render8.p50, 'ms'),
      figure(at(render8, 'render, 8 in flight: p99'), render8.p99, 'ms', ['target', TARGET_P99_MS]),
      figure(at(render1, `render, 1 in flight: renders/s${failuresOf(render1)}`), render1.perSecond, 'ops/s', [
        'resolve alone, 1 in flight',
        resolve1.perSecond,
      ]),
      figure(at(render1, 'render, 1 in flight: p50'), render1.p50, 'ms', ['resolve alone, 1 in flight', resolve1.p50]),
      figure(at(render1, 'render, 1 in flight: p99'), render1.p99, 'ms', ['resolve alone, 1 in flight', resolve1.p99]),
      figure(
        at(resolve200, `resolve alone, 200 in flight: resolves/s${failuresOf(resolve200)}`),
        resolve200.perSecond,
        'ops/s',
      ),
      figure(at(resolve200, 'resolve alone, 200 in flight: p99'), resolve200.p99, 'ms'),
      figure(
        at(
          fresh.render200,
          `render, 200 in flight, fresh reply key per render: renders/s${failuresOf(fresh.render200)}`,
        ),
        fresh.render200.perSecond,
        'ops/s',
        ['reply key reused for 60 s (default)', render200.perSecond],
      ),
      ...cpuFiguresOf('render, 200 in flight', render200, fresh.render200),
      ...cpuFiguresOf('render, 8 in flight', render8),
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
