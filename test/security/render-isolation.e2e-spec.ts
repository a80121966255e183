// Issue 15, hostile tenants: one organization's worst-case templates must not stall render for another, a flood
// queues only the flooder's own requests, and pins outside a version's range are refused as invalid arguments.
// render and secrets run as processes from dist/ (npm run build), so a stalled event loop or a crash is the real one.
import {
  type Reply,
  type TestDatabase,
  TestNatsClient,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  testTenants,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { doublingCallsTemplate, doublingPrintfTemplate } from '../../services/render/test/hostile-templates';
import { Cleanup } from '../reliability/support/cleanup';
import { ServiceProcess } from '../reliability/support/service-process';
import { until } from '../reliability/support/wait';

interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
interface Rendered {
  output: string;
}

/** Queued attacker requests wait for one worker at up to the deadline each; the client waits longer than that. */
const REQUEST_TIMEOUT_MS = 60_000;
const QUEUE_BOUND = 4;
/** A functional bound, generous on purpose: without isolation the victim waited 5-7 s. */
const ANSWER_WITHIN_MS = 1000;

/** The value of a Prometheus sample (summed over label sets), 0 when absent. */
function metric(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('render isolation between tenants', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const { vendor: attackerOrg, otherVendor: victimOrg } = testTenants();
  let database: TestDatabase;
  let render: ServiceProcess;
  let client: TestNatsClient;
  let attacker: string;
  let victim: string;

  const renderAs = <T>(token: string, template: string, pins: Record<string, number> = {}): Promise<Reply<T>> =>
    client.request<T>('render.v1.render', { format: 'env', template, pins }, { token, timeoutMs: REQUEST_TIMEOUT_MS });
  const refusal = (reply: Reply<unknown>) => ({ status: reply.status, ...(reply.body as ErrorJson).error });
  const victimRender = () => renderAs<Rendered>(victim, 'API_KEY={{ .Secrets.API_KEY }}');

  async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
    const started = performance.now();
    const result = await call();
    return { result, ms: performance.now() - started };
  }

  beforeAll(async () => {
    const { natsUrl } = testInfrastructure();
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    const env = { NATS_URL: natsUrl, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    const secrets = await ServiceProcess.start('secrets', env);
    cleanup.add('stop secrets', () => secrets.stop());
    render = await ServiceProcess.start('render', {
      ...env,
      RENDER_WORKERS: '2',
      RENDER_DEADLINE_MS: '2000',
      RENDER_MAX_QUEUED_PER_ORG: String(QUEUE_BOUND),
    });
    cleanup.add('stop render', () => render.stop());
    client = await TestNatsClient.connect(prefix);
    cleanup.add('close the NATS client', () => client.close());
    const tokens = await TestTokens.create();
    attacker = await tokens.vendor(attackerOrg, 'read_write');
    victim = await tokens.vendor(victimOrg, 'read_write');
    const created = await client.request(
      'secrets.v1.create',
      { key: 'API_KEY', value: 'victim-api-key-value' },
      { token: await tokens.vendor(victimOrg, 'admin') },
    );
    expect(created.status).toBeUndefined();
    // Workers are up once a render went through them.
    expect((await victimRender()).status).toBeUndefined();
  }, 120_000);

  afterAll(() => cleanup.run());

  it("answers another tenant and /healthz within 1 s while an attacker's worst-case templates run", async () => {
    const pid = render.pid;
    // The printf doubling (stopped by the work budget) and five that run until the deadline: four go to the
    // attacker's worker, the rest wait in its line.
    const templates = [doublingPrintfTemplate(), ...[1, 2, 3, 4, 5].map((i) => doublingCallsTemplate(`#${i}`))];
    const attacks = templates.map((template) => renderAs(attacker, template));
    await until(async () => metric(await render.metrics(), 'render_template_queue_depth') >= 1, 'attacks to queue');

    const rendered = await timed(victimRender);
    expect(rendered.result.body).toEqual({ output: 'API_KEY=victim-api-key-value', references: expect.any(Array) });
    expect(rendered.ms).toBeLessThan(ANSWER_WITHIN_MS);
    const health = await timed(() => fetch(`http://127.0.0.1:${render.httpPort}/healthz`));
    expect(health.result.status).toBe(200);
    expect(health.ms).toBeLessThan(ANSWER_WITHIN_MS);

    for (const reply of await Promise.all(attacks)) {
      expect(refusal(reply)).toMatchObject({ status: 422, code: 'TEMPLATE_EXECUTION_ERROR' });
      expect(refusal(reply).message).toMatch(/^template execution error: /);
    }
    expect(render.pid).toBe(pid);
    expect(render.isRunning).toBe(true);
    expect(metric(await render.metrics(), 'render_template_worker_restarts_total')).toBe(0);
  }, 120_000);

  it('refuses a flood with RESOURCE_EXHAUSTED for the flooding organization only', async () => {
    let settled = 0;
    const flood = Array.from({ length: QUEUE_BOUND + 12 }, (_, i) =>
      renderAs(attacker, doublingCallsTemplate(`flood${i}`)).finally(() => settled++),
    );
    const first = await Promise.race(flood);
    expect(refusal(first)).toEqual({
      status: 429,
      code: 'RESOURCE_EXHAUSTED',
      message: `too many templates of this organization waiting: at most ${QUEUE_BOUND} may wait (RENDER_MAX_QUEUED_PER_ORG) beside 4 on workers; retry later`,
    });
    expect((await victimRender()).status).toBeUndefined();
    expect(settled).toBeLessThan(flood.length);

    // Which of the flood got a turn depends on when each arrived; every one is either refused or ran and was stopped.
    const codes = (await Promise.all(flood)).map((reply) => refusal(reply).code);
    const exhausted = codes.filter((code) => code === 'RESOURCE_EXHAUSTED').length;
    expect(codes.filter((code) => code !== 'RESOURCE_EXHAUSTED')).toEqual(
      Array(flood.length - exhausted).fill('TEMPLATE_EXECUTION_ERROR'),
    );
    expect(exhausted).toBeGreaterThan(0);
    expect(metric(await render.metrics(), 'render_template_queue_refusals_total')).toBe(exhausted);
  }, 180_000);

  it.each([
    [4294967295, 'pins.API_KEY must be a version from 1 to 2147483647'],
    [2147483648, 'pins.API_KEY must be a version from 1 to 2147483647'],
    [0, 'pins.API_KEY must be a version from 1 to 2147483647'],
  ])('refuses the pin %d as an invalid argument naming the field', async (version, message) => {
    const reply = await renderAs(victim, 'API_KEY={{ .Secrets.API_KEY }}', { API_KEY: version });
    expect(refusal(reply)).toEqual({
      status: 400,
      code: 'INVALID_ARGUMENT',
      message,
      details: { field: 'pins.API_KEY' },
    });
  });
});
