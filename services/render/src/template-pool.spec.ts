import { eventually } from '@platform/testing';
import { doublingCallsTemplate, largeTemplate } from '../test/hostile-templates';
import { RenderError } from './render.error';
import { type TemplatePoolSettings, TemplateWorkerPool, type WorkerLoss } from './template-pool';

const SETTINGS: TemplatePoolSettings = {
  workers: 2,
  deadlineMs: 1000,
  workerHeapMb: 128,
  cache: { maxEntries: 100, maxBytes: 16 * 1024 * 1024 },
  maxRunningPerTenant: 2,
  maxQueuedPerTenant: 1,
};

/** A pool whose workers have all started, and what it reported. */
async function startedPool(settings: TemplatePoolSettings = SETTINGS) {
  const reported = { refusals: 0, replaced: [] as WorkerLoss[] };
  const pool = new TemplateWorkerPool(settings, {
    refused: () => reported.refusals++,
    workerReplaced: (reason) => reported.replaced.push(reason),
  });
  await eventually('every template worker to start', () => pool.stats().length === settings.workers, {
    timeoutMs: 60_000,
  });
  return { pool, reported };
}

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof RenderError)) throw new Error('expected a RenderError');
  return { code: error.code, message: error.message };
}

const execute = (source: string, values: [string, string][] = []) =>
  ({ kind: 'execute', source, format: 'env', values }) as const;

describe('TemplateWorkerPool', () => {
  let started: Awaited<ReturnType<typeof startedPool>>;
  beforeAll(async () => {
    started = await startedPool();
  });
  afterAll(() => started.pool.close());

  it('parses on a worker, executes on the worker that has the template cached, then knows its references', async () => {
    const { pool } = started;
    const source = 'API_KEY={{ .Secrets.API_KEY }}';
    expect(await pool.parse('acme', { kind: 'parse', source })).toEqual({ references: ['API_KEY'], optional: [] });
    expect(await pool.execute('acme', execute(source, [['API_KEY', 'sk-1']]))).toEqual({
      output: 'API_KEY=sk-1',
      used: ['API_KEY'],
    });
    const totals = pool.stats().reduce((sum, stats) => [sum[0] + stats.cacheMisses, sum[1] + stats.cacheHits], [0, 0]);
    expect(totals).toEqual([1, 1]);
    // Its references are known now: a second parse is answered without a job.
    expect(await pool.parse('acme', { kind: 'parse', source })).toEqual({ references: ['API_KEY'], optional: [] });
    expect(pool.stats().reduce((sum, stats) => sum + stats.cacheMisses + stats.cacheHits, 0)).toBe(2);
  });

  it("keeps a worker for other tenants and refuses one tenant's jobs past its queue bound", async () => {
    const { pool, reported } = started;
    const settled: string[] = [];
    const track = (name: string, promise: Promise<unknown>) =>
      promise.then(
        () => settled.push(name),
        () => settled.push(name),
      );
    // With two workers a tenant holds one: two jobs go to it (the second waits there), one waits in line, one is refused.
    const attacks = ['a', 'b', 'c'].map((salt) => pool.execute('attacker', execute(doublingCallsTemplate(salt))));
    const refused = await failureOf(pool.execute('attacker', execute(doublingCallsTemplate('d'))));
    expect(refused).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message:
        'too many templates of this organization waiting: at most 1 may wait (RENDER_MAX_QUEUED_PER_ORG) beside 2 on workers; retry later',
    });
    expect(reported.refusals).toBe(1);
    const tracked = attacks.map((attack, i) => track(`attack ${i}`, attack));
    await track('other tenant', pool.execute('victim', execute('A={{ .Secrets.A }}', [['A', 'v']])));
    expect(settled).toEqual(['other tenant']);
    for (const attack of attacks) expect(await failureOf(attack)).toMatchObject({ code: 'TEMPLATE_EXECUTION_ERROR' });
    await Promise.all(tracked);
    expect(settled).toEqual(['other tenant', 'attack 0', 'attack 1', 'attack 2']);
    expect(reported.replaced).toEqual([]);
  });
});

describe('TemplateWorkerPool out of heap', () => {
  it('ends only the worker that ran out of heap, refuses its job as too large and retries the jobs behind it', async () => {
    // A 1 MB template parses to ~84 MB of heap, beyond these workers' limit; the deadline leaves the parse time to get there.
    const { pool, reported } = await startedPool({ ...SETTINGS, workerHeapMb: 64, deadlineMs: 120_000 });
    try {
      const large = pool.parse('acme', { kind: 'parse', source: largeTemplate(1_000_000, 'oom') });
      // Sent to the same worker behind the large one: it never started there, so it runs on the replacement.
      const behind = pool.parse('acme', { kind: 'parse', source: 'B={{ .Secrets.B }}' });
      expect(await failureOf(large)).toEqual({
        code: 'TEMPLATE_TOO_LARGE',
        message: 'template parsing error: the parsed template needs more than the memory limit of 64 MiB',
      });
      expect(reported.replaced).toEqual(['memory']);
      expect(await behind).toEqual({ references: ['B'], optional: [] });
      expect(await pool.parse('acme', { kind: 'parse', source: 'A={{ .Secrets.A }}' })).toEqual({
        references: ['A'],
        optional: [],
      });
      await eventually('the replacement worker to start', () => pool.stats().length === SETTINGS.workers);
    } finally {
      await pool.close();
    }
  }, 180_000);
});
