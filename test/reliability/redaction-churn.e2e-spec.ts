// Redaction under churn (issue 9): a vendor-level and a customer secret are rotated every 100 ms while log lines
// flow through LOGS_RAW, and the redaction process stalls twice (SIGSTOP) mid-run. Each line carries the values current
// when it was written and one earlier value; every line reaches LOGS once, with all of them masked.
// "Current" is the newest value the redaction service has heard of (its applied-change counter): it learns of changes
// from SECRETS_EVENTS, which can lag an acknowledged write by seconds (see the reliability report), and a value it
// has not heard of yet is masked only by luck.
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
/** Longer than the service's settle time (250 ms by default), so lines written before a stall are due when it ends. */
const STALL_MS = 1_500;

describe('redaction under churn', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const run = randomBytes(4).toString('hex');
  let database: TestDatabase;
  let client: PlatformClient;
  let vendorAdmin: string;
  let redaction: ServiceProcess;

  beforeAll(async () => {
    const { natsUrl } = testInfrastructure();
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    client = await PlatformClient.connect(natsUrl, prefix);
    cleanup.add('close the NATS client', () => client.close());
    cleanup.add('delete the streams', () => deleteStreamsOf(client.connection, prefix));
    const env = { NATS_URL: natsUrl, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    let secrets: ServiceProcess;
    [secrets, redaction] = await Promise.all([
      ServiceProcess.start('secrets', env),
      ServiceProcess.start('redaction', env),
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

  /**
   * A secret whose every value is remembered, with the ordinal of its change event among this run's change events on
   * SECRETS_EVENTS (the order the redaction service applies them in).
   */
  class RotatingSecret {
    readonly values: string[] = [];
    /** Change-event ordinal of each version, once seen on SECRETS_EVENTS. */
    readonly ordinals: number[] = [];
    constructor(
      readonly key: string,
      readonly customerOrganizationId?: string,
    ) {}

    /** The values acknowledged and known to the redaction service (it applied their change events), oldest first. */
    knownUpTo(appliedChanges: number): string[] {
      let known = 0;
      while (known < this.values.length && (this.ordinals[known] ?? Infinity) <= appliedChanges) known++;
      return this.values.slice(0, known);
    }

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

  /** Change events the redaction service has applied to its matchers, from its metrics; undefined while it stalls. */
  async function appliedChanges(): Promise<number | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${redaction.httpPort}/metrics`, {
        signal: AbortSignal.timeout(500),
      });
      const line = (await response.text())
        .split('\n')
        .find((l) => l.startsWith('redaction_matcher_invalidations_total'));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    } catch {
      return undefined;
    }
  }

  it(`masks every value current at any time in ${LINES} lines while secrets rotate every ${ROTATION_INTERVAL_MS} ms`, async () => {
    const vendorSecret = new RotatingSecret('SIGNING_KEY');
    const customerSecret = new RotatingSecret('API_TOKEN', CUSTOMER);
    const byKey = new Map([vendorSecret, customerSecret].map((secret) => [secret.key, secret]));
    let changeEvents = 0;
    const announcements = client.connection.subscribe(`${prefix}secrets.events.${ORG}.>`);
    void (async () => {
      for await (const message of announcements) {
        const event = JSON.parse(message.string()) as { key?: string; version: number };
        const secret = byKey.get(event.key ?? '');
        if (secret) secret.ordinals[event.version - 1] = ++changeEvents;
      }
    })();
    // What a program logs now: the newest value the redaction service knows of. Its knowledge comes from
    // SECRETS_EVENTS, which can lag an acknowledged write; masking a value it has not heard of is not its promise.
    let applied = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        applied = (await appliedChanges()) ?? applied;
        await sleep(20);
      }
    })();
    const current = (secret: RotatingSecret) => secret.knownUpTo(applied).at(-1);
    await Promise.all([vendorSecret.rotate(), customerSecret.rotate()]);
    await until(() => current(vendorSecret) !== undefined && current(customerSecret) !== undefined, 'the first values');

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
    const carried = new Set<string>();
    let shipped = 0;
    // Twice during the run the redaction process stalls (a long GC pause, a starved CPU) for longer than the settle
    // time: when it wakes, change events and the lines written after them are read together.
    const stalls = (async () => {
      for (const share of [1 / 3, 2 / 3]) {
        await until(() => shipped >= LINES * share, `${Math.round(share * 100)}% of the lines shipped`);
        redaction.freeze();
        await sleep(STALL_MS);
        redaction.thaw();
      }
    })();
    const started = Date.now();
    while (shipped < LINES) {
      const batch: Array<Promise<unknown>> = [];
      for (const end = Math.min(LINES, shipped + perShipment); shipped < end; shipped++) {
        const known = customerSecret.knownUpTo(applied);
        const [api, signing] = [known.at(-1)!, current(vendorSecret)!];
        carried.add(api).add(signing);
        const text = lineText(shipped, api, signing, known[shipped % known.length]);
        batch.push(js.publish(prefix + SOURCE, Buffer.from(text)));
      }
      await Promise.all(batch);
      const due = started + (shipped / perShipment) * SHIP_EVERY_MS - Date.now();
      if (due > 0) await sleep(due);
    }
    shipping = false;
    await Promise.all([rotating, stalls]);
    watching = false;
    await watcher;
    announcements.unsubscribe();

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
    // The run was churn: many values written, and many of them carried by lines while current.
    const minimum = SHIPPING_MS / ROTATION_INTERVAL_MS / 4;
    expect(Math.min(vendorSecret.values.length, customerSecret.values.length)).toBeGreaterThanOrEqual(minimum);
    expect(carried.size).toBeGreaterThanOrEqual(minimum);
  }, 900_000);
});
