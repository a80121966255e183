// `npm run bench -- isolation`: tenant B's small render (the render bench's 23-line env file, 20 secrets) at 4 in
// flight, first alone, then while tenant A floods render with worst-case templates (issue 15: the doubling
// define/template ones, 4 in flight, each running until the engine's deadline or work budget stops it). Secrets and
// render run as child processes with render's defaults (RENDER_WORKERS = the CPU count). Target: B's p99 under the
// flood at most 3× its p99 without.
import { TestTokens, createTestDatabase, testInfrastructure, uniqueSubjectPrefix } from '@platform/testing';
import { connect } from 'nats';
import { doublingCallsTemplate, doublingPrintfTemplate } from '../services/render/test/hostile-templates';
import { TemplateCache } from '../services/render/src/template-cache';
import { runTemplateJob } from '../services/render/src/template-jobs';
import { TemplateWorkerPool } from '../services/render/src/template-pool';
import { type BenchFigure, renderTable } from './report';
import { Caller, type Load, load, startService, stopService } from './render.bench';
import { KEYS, TEMPLATE } from './render-workload';

const WARM_UP_MS = 1500;
const MEASURE_MS = 8000;
const VICTIM_IN_FLIGHT = 4;
const ATTACKER_IN_FLIGHT = 4;
const TARGET_P99_RATIO = 3;
const ATTACKER_ORG = 'benchattacker';
const VICTIM_ORG = 'benchvictim';

interface Flood {
  stop(): Promise<{ sent: number; codes: Map<string, number> }>;
}

/** `inFlight` loops sending worst-case templates until stopped; counts the reply codes. */
function flood(attacker: Caller, inFlight: number): Flood {
  let running = true;
  let sent = 0;
  const codes = new Map<string, number>();
  const loops = Array.from({ length: inFlight }, async (_, loop) => {
    while (running) {
      const template = sent % 4 === 0 ? doublingPrintfTemplate(`${loop}-${sent}`) : doublingCallsTemplate(`${sent}`);
      sent++;
      const reply = await attacker.request('render.v1.render', { template, format: 'env' }, 30_000);
      const code = reply.ok ? 'OK' : ((reply.body as { error?: { code?: string } })?.error?.code ?? 'NO_REPLY');
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { sent, codes };
    },
  };
}

/** CPU per execution of the bench template (cached) through a worker pool, beside the same job on this thread. */
async function hopCost(): Promise<BenchFigure> {
  const values = KEYS.map((key) => [key, `value-of-${key}-0123456789abcdef`] as const);
  const job = { kind: 'execute', source: TEMPLATE, format: 'env', values } as const;
  const cache = new TemplateCache({ maxEntries: 10, maxBytes: 16 * 1024 * 1024 });
  const runs = 4000;
  const cpuMicroseconds = async (once: () => unknown) => {
    for (let i = 0; i < runs / 10; i++) await once();
    const before = process.cpuUsage();
    for (let i = 0; i < runs; i++) await once();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / runs;
  };
  const inline = await cpuMicroseconds(() => runTemplateJob(cache, { ...job, deadline: Date.now() + 2000 }));
  const pool = new TemplateWorkerPool(
    {
      workers: 2,
      deadlineMs: 2000,
      workerHeapMb: 256,
      cache: { maxEntries: 10, maxBytes: 16 * 1024 * 1024 },
      maxRunningPerTenant: 4,
      maxQueuedPerTenant: 256,
    },
    { refused: () => undefined, workerReplaced: () => undefined },
  );
  try {
    const pooled = await cpuMicroseconds(() => pool.execute('bench', job));
    return {
      name: 'CPU per execute job of the 23-line template, main thread + worker (in process, 1 in flight)',
      value: pooled,
      unit: 'µs',
      lowerIsBetter: true,
      baseline: { label: 'the same job on the calling thread', value: inline },
    };
  } finally {
    await pool.close();
  }
}

export async function run(): Promise<string> {
  const database = await createTestDatabase();
  const prefix = uniqueSubjectPrefix();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url, NATS_URL: testInfrastructure().natsUrl };
  const tokens = await TestTokens.create();
  const nats = await connect({ servers: testInfrastructure().natsUrl, name: 'isolation-bench', noAsyncTraces: true });
  const admin = new Caller(nats, prefix, await tokens.vendor(VICTIM_ORG, 'admin'));
  const victim = new Caller(nats, prefix, await tokens.vendor(VICTIM_ORG, 'read_write'));
  const attacker = new Caller(nats, prefix, await tokens.vendor(ATTACKER_ORG, 'read_write'));
  const secrets = startService('secrets', env);
  const render = startService('render', env);
  try {
    await admin.waitFor('secrets.v1.list', {});
    for (const key of KEYS) {
      const created = await admin.request('secrets.v1.create', { key, value: `value-of-${key}-${prefix}` });
      if (!created.ok) throw new Error(`creating ${key} failed: ${JSON.stringify(created.body)}`);
    }
    const body = { template: TEMPLATE, format: 'env' };
    await victim.waitFor('render.v1.render', body);
    const renderOnce = async () => (await victim.request('render.v1.render', body)).ok;

    await load(renderOnce, VICTIM_IN_FLIGHT, WARM_UP_MS);
    const alone = await load(renderOnce, VICTIM_IN_FLIGHT, MEASURE_MS);
    const attack = flood(attacker, ATTACKER_IN_FLIGHT);
    await load(renderOnce, VICTIM_IN_FLIGHT, WARM_UP_MS);
    const flooded = await load(renderOnce, VICTIM_IN_FLIGHT, MEASURE_MS);
    const { sent, codes } = await attack.stop();

    const failures = (measured: Load) => (measured.failures === 0 ? '' : ` (${measured.failures} failed)`);
    const ms = (name: string, value: number, baseline: number, label = 'without the flood'): BenchFigure => ({
      name,
      value,
      unit: 'ms',
      lowerIsBetter: true,
      baseline: { label, value: baseline },
    });
    const attackerCodes = [...codes].map(([code, count]) => `${code} ${count}`).join(', ');
    const figures: BenchFigure[] = [
      ms(`B's render p50, A flooding (load ${flooded.load.toFixed(1)})${failures(flooded)}`, flooded.p50, alone.p50),
      ms(`B's render p99, A flooding${failures(flooded)}`, flooded.p99, alone.p99),
      ms(`B's render p99, A flooding, against the target`, flooded.p99, alone.p99 * TARGET_P99_RATIO, '3× alone'),
      {
        name: `B's renders/s, A flooding (A sent ${sent}: ${attackerCodes})`,
        value: flooded.perSecond,
        unit: 'ops/s',
        lowerIsBetter: false,
        baseline: { label: 'without the flood', value: alone.perSecond },
      },
    ];
    figures.push(await hopCost());
    return renderTable(
      `render isolation: tenant B at ${VICTIM_IN_FLIGHT} in flight while tenant A sends worst-case templates at ${ATTACKER_IN_FLIGHT} in flight`,
      figures,
    );
  } finally {
    await Promise.all([stopService(render), stopService(secrets)]);
    await nats.close();
    await database.drop();
  }
}
