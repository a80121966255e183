// Issue 15, hostile tenants: a read_only user sends 50 distinct ~1 MB templates to render.v1.validate. Before, each
// parsed template stayed in the cache at ~200-350× its source and render died of heap exhaustion after ~15. Now the
// workers' caches are bounded by estimated memory and each worker's heap by RENDER_WORKER_HEAP_MB: render's heap
// stays under the bound its README documents, and the process lives.
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
import { largeTemplate } from '../../services/render/test/hostile-templates';
import { Cleanup } from '../reliability/support/cleanup';
import { ServiceProcess } from '../reliability/support/service-process';

const TEMPLATES = 50;
/** Under NATS's 1 MiB payload with the request's envelope. */
const TEMPLATE_BYTES = 1_000_000;
const WORKERS = 2;
const WORKER_HEAP_MB = 256;
const CACHE_BYTES = 64 * 1024 * 1024;
/** The README's bound: the main thread's allowance plus each worker's heap limit. */
const MAIN_THREAD_ALLOWANCE_BYTES = 256 * 1024 * 1024;
const HEAP_BOUND_BYTES = MAIN_THREAD_ALLOWANCE_BYTES + WORKERS * WORKER_HEAP_MB * 1024 * 1024;
const SENT_AT_ONCE = 5;

interface Validation {
  valid: boolean;
  errors: string[];
}
interface ErrorJson {
  error: { code: string; message: string };
}

/** The value of a Prometheus sample (summed over label sets), 0 when absent. */
function metric(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('render memory under distinct large templates', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const { vendor } = testTenants();
  let database: TestDatabase;
  let render: ServiceProcess;
  let client: TestNatsClient;
  let reader: string;

  beforeAll(async () => {
    const { natsUrl } = testInfrastructure();
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    const env = { NATS_URL: natsUrl, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    const secrets = await ServiceProcess.start('secrets', env);
    cleanup.add('stop secrets', () => secrets.stop());
    render = await ServiceProcess.start('render', {
      ...env,
      RENDER_WORKERS: String(WORKERS),
      RENDER_WORKER_HEAP_MB: String(WORKER_HEAP_MB),
      RENDER_TEMPLATE_CACHE_BYTES: String(CACHE_BYTES),
      // Every template parses to the end however slow the machine, so the cache and heap bounds are what is tested.
      RENDER_DEADLINE_MS: '60000',
    });
    cleanup.add('stop render', () => render.stop());
    client = await TestNatsClient.connect(prefix);
    cleanup.add('close the NATS client', () => client.close());
    reader = await (await TestTokens.create()).vendor(vendor, 'read_only');
  }, 120_000);

  afterAll(() => cleanup.run(), 60_000);

  it(`validates ${TEMPLATES} distinct ~1 MB templates with the heap under its documented bound`, async () => {
    const pid = render.pid;
    let heapPeak = 0;
    let cachePeak = 0;
    const sample = async () => {
      const text = await render.metrics();
      const heap = metric(text, 'nodejs_heap_size_used_bytes') + metric(text, 'render_template_worker_heap_used_bytes');
      heapPeak = Math.max(heapPeak, heap);
      cachePeak = Math.max(cachePeak, metric(text, 'render_template_cache_estimated_bytes'));
    };
    const outcomes: string[] = [];
    for (let sent = 0; sent < TEMPLATES; sent += SENT_AT_ONCE) {
      const replies = await Promise.all(
        Array.from({ length: SENT_AT_ONCE }, (_, i) =>
          client.request<Validation | ErrorJson>(
            'render.v1.validate',
            { format: 'env', template: largeTemplate(TEMPLATE_BYTES, `t${sent + i}`), required: [] },
            { token: reader, timeoutMs: 120_000 },
          ),
        ),
      );
      outcomes.push(...replies.map(outcomeOf));
      await sample();
    }
    // Each template is validated or refused as too large for the limits: never INTERNAL, never a lost reply.
    expect(outcomes.filter((outcome) => outcome !== 'validated' && outcome !== 'PAYLOAD_TOO_LARGE')).toEqual([]);
    expect(heapPeak).toBeGreaterThan(0);
    expect(heapPeak).toBeLessThan(HEAP_BOUND_BYTES);
    expect(cachePeak).toBeLessThanOrEqual(CACHE_BYTES);
    // The bound held by eviction, not by workers dying of heap exhaustion.
    expect(metric(await render.metrics(), 'render_template_worker_restarts_total')).toBe(0);
    expect(render.pid).toBe(pid);
    expect(render.isRunning).toBe(true);
  }, 600_000);
});

function outcomeOf(reply: Reply<Validation | ErrorJson>): string {
  if (reply.status !== undefined) return (reply.body as ErrorJson).error.code;
  const validation = reply.body as Validation;
  return validation.errors.length === 0 ? 'validated' : `invalid: ${validation.errors.join('; ')}`;
}
