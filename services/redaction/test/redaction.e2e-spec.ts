// The redaction service end to end with the real secrets service: log lines published to logs.raw.… come out of
// LOGS redacted, once, with their headers; with the secrets service down they wait, unpublished, until it returns.
import { randomBytes } from 'node:crypto';
import { type ConsumerMessages, type JetStreamClient, type MsgHdrs, headers as natsHeaders } from 'nats';
import { prefixedStreamName } from '@platform/messaging';
import {
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  type TestTokens,
  eventually,
  startTestPlatform,
} from '@platform/testing';
import { secretsService } from '../../secrets/src/secrets.definition';
import { redactionService } from '../src/redaction.definition';

const MASK = '********';
const WAIT_MS = 30_000;
/** Above the secrets outbox's worst lag on a loaded test machine (the default, 250 ms, is sized for production). */
const SETTLE_MS = '1000';

interface StoredLine {
  readonly subject: string;
  readonly text: string;
  readonly headers?: MsgHdrs;
}

/** Everything stored in LOGS, read by an ordered consumer as the platform's log viewer would. */
class LogsReader {
  readonly lines: StoredLine[] = [];
  private constructor(private readonly messages: ConsumerMessages) {}

  static async open(client: TestNatsClient): Promise<LogsReader> {
    const stream = prefixedStreamName(client.subjectPrefix, 'LOGS');
    const consumer = await client.connection.jetstream().consumers.get(stream);
    const reader = new LogsReader(await consumer.consume());
    void (async () => {
      for await (const message of reader.messages) {
        reader.lines.push({
          subject: message.subject.slice(client.subjectPrefix.length),
          text: message.string(),
          headers: message.headers,
        });
      }
    })();
    return reader;
  }

  /** The lines carrying `marker`, once at least `count` of them arrived. */
  async waitFor(marker: string, count = 1): Promise<StoredLine[]> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = this.lines.filter((line) => line.text.includes(marker));
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`${found.length} of ${count} lines marked ${marker} arrived in LOGS`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  stop(): void {
    this.messages.stop();
  }
}

const POLL = { timeoutMs: WAIT_MS, intervalMs: 100 };

const unique = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`;

describe('redaction service', () => {
  let platform: TestPlatform;
  let prefix: string;
  let secrets: TestService;
  let redaction: TestService;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let vendorAdmin: string;
  let logs: LogsReader;
  let js: JetStreamClient;

  async function write(
    operation: 'create' | 'update',
    key: string,
    value: string,
    customerOrganizationId?: string,
  ): Promise<void> {
    const reply = await client.request(
      `secrets.v1.${operation}`,
      { key, value, ...(customerOrganizationId ? { customerOrganizationId } : {}) },
      { token: vendorAdmin },
    );
    expect(reply.status).toBeUndefined();
  }

  async function ship(subject: string, text: string, headers: Record<string, string> = {}): Promise<void> {
    const h = natsHeaders();
    for (const [name, value] of Object.entries(headers)) h.set(name, value);
    await js.publish(prefix + subject, Buffer.from(text), { headers: h });
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${redaction.httpPort}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(name))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  }

  /** The stream path's counters, summed over their labels where they have any. */
  async function streamMetrics() {
    return {
      messagesIn: await metric('redaction_messages_in_total'),
      bytesIn: await metric('redaction_bytes_in_total'),
      messagesOut: await metric('redaction_messages_out_total'),
      bytesOut: await metric('redaction_bytes_out_total'),
      masks: await metric('redaction_masks_applied_total{path="stream"'),
    };
  }

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService]);
    ({ prefix, client, tokens } = platform);
    [secrets] = platform.services;
    redaction = await platform.start(redactionService, { REDACTION_SETTLE_MS: SETTLE_MS });
    js = client.connection.jetstream();
    vendorAdmin = await tokens.vendor('acme', 'admin');
    logs = await LogsReader.open(client);
  });

  afterAll(async () => {
    logs?.stop();
    await platform?.close();
  });

  describe('log streams', () => {
    const vendorValue = unique('vendor');
    const customerValue = unique('globex');
    const otherCustomerValue = unique('initech');
    const embeddedValue = unique('embedded');
    const urlValue = `p@ss word/${unique('url')}&x=1`;
    const jsonValue = `quote"back\\slash\n${unique('json')}`;
    const rotatedOut = unique('rotated-v1');
    const rotatedIn = unique('rotated-v2');

    beforeAll(async () => {
      await write('create', 'DB_PASSWORD', vendorValue);
      await write('create', 'API_TOKEN', customerValue, 'globex');
      await write('create', 'API_TOKEN', otherCustomerValue, 'initech');
      await write('create', 'SIGNING_KEY', embeddedValue);
      await write('create', 'SMTP_PASSWORD', urlValue, 'globex');
      await write('create', 'JSON_SECRET', jsonValue);
      await write('create', 'ROTATING', rotatedOut, 'globex');
      await write('update', 'ROTATING', rotatedIn, 'globex');
    });

    it('masks every form of every value of the scope, keeps clean lines and headers, and stores each line once', async () => {
      const before = await streamMetrics();
      const blobPrefix = '{"cert":"-----BEGIN-----","key":"';
      const blob = Buffer.from(`${blobPrefix}${embeddedValue}","x":1}`).toString('base64');
      // Every base64 character holding at least one bit of the value is masked, the rest of the blob kept.
      const blobMasked = `${blob.slice(0, Math.floor((8 * blobPrefix.length) / 6))}${MASK}${blob.slice(
        Math.ceil((8 * (blobPrefix.length + Buffer.byteLength(embeddedValue))) / 6),
      )}`;
      const lines = {
        form: `line-0 POST /login ${new URLSearchParams({ pw: urlValue }).toString()}&next=/`,
        vendor: `line-1 connecting with password=${vendorValue}`,
        customer: `line-2 token ${customerValue} accepted`,
        base64: `line-3 config blob ${blob}`,
        url: `line-4 GET /login?pw=${encodeURIComponent(urlValue)} 200`,
        json: `line-5 ${JSON.stringify({ msg: 'loaded', secret: jsonValue })}`,
        rotated: `line-6 old ${rotatedOut} new ${rotatedIn}`,
        clean: 'line-7 request completed in 12 ms',
        otherCustomer: `line-8 someone else's value ${otherCustomerValue}`,
        adjacent: `line-9 ${vendorValue}${customerValue}`,
      };
      for (const [name, text] of Object.entries(lines)) {
        await ship('logs.raw.acme.globex.web-1.stdout', text, { 'X-Shipper': 'fluent-bit', 'X-Line': name });
      }

      const stored = new Map<string, StoredLine>();
      for (const text of Object.values(lines)) {
        const marker = text.slice(0, 7);
        const [line] = await logs.waitFor(marker);
        stored.set(marker, line);
      }
      const byName = (name: keyof typeof lines) => stored.get(lines[name].slice(0, 7))!;

      expect(byName('vendor').text).toBe(`line-1 connecting with password=${MASK}`);
      expect(byName('customer').text).toBe(`line-2 token ${MASK} accepted`);
      expect(byName('base64').text).toBe(`line-3 config blob ${blobMasked}`);
      expect(byName('form').text).toBe(`line-0 POST /login pw=${MASK}&next=/`);
      expect(byName('url').text).toBe(`line-4 GET /login?pw=${MASK} 200`);
      expect(byName('json').text).toBe(`line-5 {"msg":"loaded","secret":"${MASK}"}`);
      expect(byName('rotated').text).toBe(`line-6 old ${MASK} new ${MASK}`);
      expect(byName('clean').text).toBe(lines.clean);
      // Scopes are separate: another customer's value is not this customer's secret.
      expect(byName('otherCustomer').text).toBe(lines.otherCustomer);
      expect(byName('adjacent').text).toBe(`line-9 ${MASK}`);

      const counts = Object.fromEntries(
        Object.keys(lines).map((name) => [name, byName(name as keyof typeof lines).headers?.get('Redacted-Count')]),
      );
      expect(counts).toEqual({
        form: '1',
        vendor: '1',
        customer: '1',
        base64: '1',
        url: '1',
        json: '1',
        rotated: '2',
        clean: '0',
        otherCustomer: '0',
        adjacent: '1',
      });
      for (const [name, line] of Object.entries(
        Object.fromEntries(Object.keys(lines).map((n) => [n, byName(n as keyof typeof lines)])),
      )) {
        expect(line.subject).toBe('logs.redacted.acme.globex.web-1.stdout');
        expect(line.headers?.get('X-Shipper')).toBe('fluent-bit');
        expect(line.headers?.get('X-Line')).toBe(name);
      }
      for (const value of [vendorValue, customerValue, embeddedValue, urlValue, jsonValue, rotatedOut, rotatedIn]) {
        expect(logs.lines.some((line) => line.text.includes(value))).toBe(false);
      }
      const lineNumbers = logs.lines.map((line) => line.text.slice(0, 7)).filter((marker) => stored.has(marker));
      expect(lineNumbers).toHaveLength(new Set(lineNumbers).size);

      // A line is counted out once LOGS confirmed it, which the service learns just after the line is readable.
      const shipped = Object.values(lines);
      await eventually(
        'counts',
        async () => (await streamMetrics()).messagesOut >= before.messagesOut + shipped.length,
        POLL,
      );
      const after = await streamMetrics();
      expect(after.messagesOut - before.messagesOut).toBe(shipped.length);
      expect(after.bytesOut - before.bytesOut).toBe(
        [...stored.values()].reduce((sum, line) => sum + Buffer.byteLength(line.text), 0),
      );
      // Redeliveries are counted in again, so at least every shipped line and byte.
      expect(after.messagesIn - before.messagesIn).toBeGreaterThanOrEqual(shipped.length);
      expect(after.bytesIn - before.bytesIn).toBeGreaterThanOrEqual(
        shipped.reduce((sum, text) => sum + Buffer.byteLength(text), 0),
      );
      expect(after.masks - before.masks).toBe(Object.values(counts).reduce((sum, count) => sum + Number(count), 0));
    });

    it('masks only vendor-level values in vendor-level lines', async () => {
      await ship('logs.raw.acme._.api', `line-10 ${vendorValue} ${customerValue}`);
      const [line] = await logs.waitFor('line-10');
      expect(line.text).toBe(`line-10 ${MASK} ${customerValue}`);
      expect(line.subject).toBe('logs.redacted.acme._.api');
    });

    it('masks a value written just before the line, once its scope is already cached', async () => {
      await ship('logs.raw.acme.globex.web-1', 'line-11 warm-up');
      await logs.waitFor('line-11');
      const rebuilds = await metric('redaction_matcher_rebuilds_total{outcome="built"');
      const fresh = unique('fresh');
      await write('create', 'FRESH_SECRET', fresh, 'globex');
      await ship('logs.raw.acme.globex.web-1', `line-12 ${fresh}`);
      const [line] = await logs.waitFor('line-12');
      expect(line.text).toBe(`line-12 ${MASK}`);
      expect(await metric('redaction_matcher_rebuilds_total{outcome="built"')).toBeGreaterThan(rebuilds);
    });

    it('leaves values below the minimum length unmasked on their own, and counts them', async () => {
      const pin = 'q7x';
      const longer = unique('wayne');
      await write('create', 'PIN', pin, 'wayne');
      await write('create', 'WAYNE_TOKEN', longer, 'wayne');
      const belowMinLength = await metric('redaction_values_below_min_length');
      await ship('logs.raw.acme.wayne.web', `line-16 pin ${pin} token ${longer}`);
      const [line] = await logs.waitFor('line-16');
      expect(line.text).toBe(`line-16 pin ${pin} token ${MASK}`);
      expect((await metric('redaction_values_below_min_length')) - belowMinLength).toBe(1);
    });

    it('terminates lines on subjects that are not a valid log source and never publishes them', async () => {
      const rejected = await metric('redaction_messages_rejected_total{reason="invalid_subject"');
      await ship('logs.raw.acme.globex', `line-13 ${vendorValue}`);
      await ship('logs.raw.ac$me._.web', `line-14 ${vendorValue}`);
      await eventually(
        'two rejected messages',
        async () => (await metric('redaction_messages_rejected_total{reason="invalid_subject"')) >= rejected + 2,
        POLL,
      );
      await ship('logs.raw.acme._.web', 'line-15 after the bad ones');
      await logs.waitFor('line-15');
      expect(logs.lines.filter((line) => /line-1[34]/.test(line.text))).toEqual([]);
    });
  });

  describe('fail closed', () => {
    it('holds lines while the secrets service is down and publishes them redacted once it is back', async () => {
      const hooliValue = unique('hooli');
      await write('create', 'HOOLI_TOKEN', hooliValue, 'hooli');
      await platform.stop(secrets);
      const deferred = await metric('redaction_messages_deferred_total{reason="matcher_unavailable"');

      await ship('logs.raw.acme.hooli.web', `line-20 ${hooliValue}`);
      await ship('logs.raw.acme.hooli.web', 'line-21 clean');
      await eventually(
        'the lines to be deferred',
        async () => (await metric('redaction_messages_deferred_total{reason="matcher_unavailable"')) >= deferred + 2,
        POLL,
      );
      const ready = await fetch(`http://127.0.0.1:${redaction.httpPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, checks: { matchers: false } });
      expect(logs.lines.filter((line) => line.subject.startsWith('logs.redacted.acme.hooli.'))).toEqual([]);

      secrets = await platform.start(secretsService);
      const [masked] = await logs.waitFor('line-20');
      const [clean] = await logs.waitFor('line-21');
      expect(masked.text).toBe(`line-20 ${MASK}`);
      expect(clean.text).toBe('line-21 clean');
      expect(logs.lines.filter((line) => line.subject.startsWith('logs.redacted.acme.hooli.'))).toHaveLength(2);
      await eventually(
        'ready',
        async () => (await fetch(`http://127.0.0.1:${redaction.httpPort}/readyz`)).status === 200,
        POLL,
      );
    });
  });

  describe('redaction.v1.redact', () => {
    const vendorValue = unique('rv-vendor');
    const globexValue = unique('rv-globex');

    beforeAll(async () => {
      await write('create', 'REDACT_VENDOR', vendorValue);
      await write('create', 'REDACT_GLOBEX', globexValue, 'globex');
    });

    const text = () => `a ${vendorValue} b ${globexValue} c`;

    it('redacts with a read_write vendor user’s own scope, or a customer it names', async () => {
      const token = await tokens.vendor('acme', 'read_write');
      const own = await client.request('redaction.v1.redact', { text: text() }, { token });
      expect(own.body).toEqual({ text: `a ${MASK} b ${globexValue} c`, redactions: 1 });
      const customer = await client.request(
        'redaction.v1.redact',
        { text: text(), customerOrganizationId: 'globex' },
        { token },
      );
      expect(customer.body).toEqual({ text: `a ${MASK} b ${MASK} c`, redactions: 2 });
      const otherOrg = await client.request(
        'redaction.v1.redact',
        { text: text(), organizationId: 'umbrella' },
        { token },
      );
      expect(otherOrg.status).toBe(403);
      expect(otherOrg.body).toEqual({
        error: { code: 'PERMISSION_DENIED', message: 'organizationId may only be named with a service token' },
      });
    });

    it('redacts for a service with redaction:redact in the organization it names', async () => {
      const token = await tokens.service('deploy', ['redaction:redact']);
      const reply = await client.request(
        'redaction.v1.redact',
        { organizationId: 'acme', customerOrganizationId: 'globex', text: text() },
        { token },
      );
      expect(reply.body).toEqual({ text: `a ${MASK} b ${MASK} c`, redactions: 2 });
    });

    it('refuses services without redaction:redact or without an organization, and callers without a token', async () => {
      const narrow = await client.request(
        'redaction.v1.redact',
        { organizationId: 'acme', text: text() },
        { token: await tokens.service('deployer', ['secrets:resolve', 'secrets:resolve-all', 'render:any']) },
      );
      expect(narrow.status).toBe(403);
      expect(narrow.body).toEqual({
        error: {
          code: 'PERMISSION_DENIED',
          message: 'this subject needs a service token with scope redaction:redact',
        },
      });
      const noOrg = await client.request(
        'redaction.v1.redact',
        { text: text() },
        { token: await tokens.service('deploy', ['redaction:redact']) },
      );
      expect(noOrg.status).toBe(400);
      expect(noOrg.body).toMatchObject({
        error: { code: 'INVALID_ARGUMENT', message: 'organizationId is required with a service token' },
      });
      const anonymous = await client.request('redaction.v1.redact', { text: text() });
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    });

    it('refuses unknown fields', async () => {
      const reply = await client.request(
        'redaction.v1.redact',
        { text: 'x', extra: true },
        { token: await tokens.vendor('acme') },
      );
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    });

    it('counts its requests by subject and reply code, a body that failed to decode included', async () => {
      expect(await metric('redaction_requests_total{subject="redaction.v1.redact",code="OK"')).toBeGreaterThan(0);
      expect(
        await metric('redaction_requests_total{subject="redaction.v1.redact",code="INVALID_ARGUMENT"'),
      ).toBeGreaterThan(0);
      expect(
        await metric('redaction_request_duration_seconds_count{service="redaction",subject="redaction.v1.redact"'),
      ).toBeGreaterThan(0);
    });
  });

  it('never writes a secret value into its logs', () => {
    const written = redaction.logs.join('\n');
    expect(written).not.toMatch(/vendor-|globex-|hooli-|rv-vendor-|wayne-|q7x/);
  });
});
