// Redaction under churn (issue 9): a vendor-level and a customer secret are rotated every 100 ms while log lines
// flow through LOGS_RAW; each line carries the values current when it was written and one earlier value. Every line
// reaches LOGS once, with every one of those values masked — none ever stored in the clear.
import { randomBytes } from 'node:crypto';
import { prefixedStreamName } from '@platform/messaging';
import {
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { Cleanup } from './support/cleanup';
import { deleteStreamsOf, readStream, streamMessageCount } from './support/jetstream-messages';
import { PlatformClient } from './support/platform-client';
import { sized } from './support/reliability-size';
import { ServiceProcess } from './support/service-process';
import { sleep, until } from './support/wait';

const LINES = sized(5_000, 100_000);
/** How long the lines take to ship; the rotations go on for as long as they do. */
const SHIPPING_MS = sized(2_000, 20_000);
const ROTATION_INTERVAL_MS = 100;
const SHIP_EVERY_MS = 50;
const ORG = 'churnco';
const CUSTOMER = 'globex';
const SOURCE = `logs.raw.${ORG}.${CUSTOMER}.web-1`;
const MASK = '********';
/**
 * How long a raw line rests before redaction so the change event of a value written just before it has arrived. The
 * service's default (250 ms) is sized for production; this is above the outbox's worst lag on a loaded 2-core CI
 * machine, as in the redaction e2e. With 0 this suite finds leaks within a second.
 */
const SETTLE_MS = '1000';

describe('redaction under churn', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const run = randomBytes(4).toString('hex');
  let database: TestDatabase;
  let client: PlatformClient;
  let vendorAdmin: string;

  beforeAll(async () => {
    const { natsUrl } = testInfrastructure();
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    client = await PlatformClient.connect(natsUrl, prefix);
    cleanup.add('close the NATS client', () => client.close());
    cleanup.add('delete the streams', () => deleteStreamsOf(client.connection, prefix));
    const env = { NATS_URL: natsUrl, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    const [secrets, redaction] = await Promise.all([
      ServiceProcess.start('secrets', env),
      ServiceProcess.start('redaction', { ...env, REDACTION_SETTLE_MS: SETTLE_MS }),
    ]);
    cleanup.add('stop secrets', () => secrets.stop());
    cleanup.add('stop redaction', () => redaction.stop());
    const tokens = await TestTokens.create();
    vendorAdmin = await tokens.mint(
      { sub: 'admin@churnco', org: ORG, org_type: 'vendor', role: 'admin' },
      { expiresInSeconds: 3_600 },
    );
  }, 120_000);

  afterAll(() => cleanup.run(), 60_000);

  /** A secret whose every value is remembered, the newest being the one a program would log now. */
  class RotatingSecret {
    readonly values: string[] = [];
    constructor(
      readonly key: string,
      readonly customerOrganizationId?: string,
    ) {}

    get current(): string {
      return this.values[this.values.length - 1];
    }

    /** Sets a fresh value and waits for the acknowledgement: only then may a line carry it. */
    async rotate(): Promise<void> {
      const value = `${this.key.toLowerCase()}-${run}-${this.values.length}-${randomBytes(8).toString('hex')}`;
      const { body } = await client.writeUntilAcknowledged(
        this.values.length === 0 ? 'secrets.v1.create' : 'secrets.v1.update',
        { key: this.key, value, customerOrganizationId: this.customerOrganizationId },
        { token: vendorAdmin, idempotencyKey: `${run}-${this.key}-${this.values.length}`, timeoutMs: 10_000 },
      );
      expect(body.version).toBe(this.values.length + 1);
      this.values.push(value);
    }
  }

  it(`masks every value current at any time in ${LINES} lines while secrets rotate every ${ROTATION_INTERVAL_MS} ms`, async () => {
    const vendorSecret = new RotatingSecret('SIGNING_KEY');
    const customerSecret = new RotatingSecret('API_TOKEN', CUSTOMER);
    await Promise.all([vendorSecret.rotate(), customerSecret.rotate()]);

    let shipping = true;
    const rotating = (async () => {
      while (shipping) {
        await Promise.all([vendorSecret.rotate(), customerSecret.rotate()]);
        await sleep(ROTATION_INTERVAL_MS);
      }
    })();

    // Line i, as a program would write it: the values it holds now and one it held before.
    const lineText = (i: number, api: string, signing: string, earlier: string) =>
      `line-${i} api=${api} signing=${signing} earlier=${earlier} done`;
    const js = client.connection.jetstream();
    const perShipment = Math.ceil(LINES / (SHIPPING_MS / SHIP_EVERY_MS));
    const started = Date.now();
    for (let shipped = 0; shipped < LINES;) {
      const batch: Array<Promise<unknown>> = [];
      for (const end = Math.min(LINES, shipped + perShipment); shipped < end; shipped++) {
        const earlier = customerSecret.values[shipped % customerSecret.values.length];
        const text = lineText(shipped, customerSecret.current, vendorSecret.current, earlier);
        batch.push(js.publish(prefix + SOURCE, Buffer.from(text)));
      }
      await Promise.all(batch);
      const due = started + (shipped / perShipment) * SHIP_EVERY_MS - Date.now();
      if (due > 0) await sleep(due);
    }
    shipping = false;
    await rotating;

    const logs = prefixedStreamName(prefix, 'LOGS');
    await until(
      async () => (await streamMessageCount(client.connection, logs)) >= LINES,
      `${LINES} redacted lines in LOGS`,
      sized(120_000, 600_000),
    );
    const stored = (await readStream(client.connection, logs)).map((message) => Buffer.from(message.data).toString());

    // Each line once, and exactly as written with its three values masked.
    expect(stored).toHaveLength(LINES);
    const expected = new Set(Array.from({ length: LINES }, (_, i) => lineText(i, MASK, MASK, MASK)));
    const unexpected = stored.filter((text) => !expected.has(text));
    // Reported by key and version, never by value: a failing run must not print the values it caught leaking.
    const names = new Map(
      [vendorSecret, customerSecret].flatMap((secret) =>
        secret.values.map((value, i) => [value, `<${secret.key} v${i + 1}>`] as const),
      ),
    );
    const leaks = unexpected.map((text) =>
      text.replace(/\b[a-z_]+-[0-9a-f]{8}-\d+-[0-9a-f]{16}\b/g, (v) => names.get(v) ?? v),
    );
    expect({ unexpectedLines: leaks.length, examples: leaks.slice(0, 3) }).toEqual({
      unexpectedLines: 0,
      examples: [],
    });
    expect(new Set(stored).size).toBe(LINES);
    // The run was churn, not a handful of changes.
    expect(Math.min(vendorSecret.values.length, customerSecret.values.length)).toBeGreaterThanOrEqual(
      SHIPPING_MS / ROTATION_INTERVAL_MS / 4,
    );
  }, 900_000);
});
