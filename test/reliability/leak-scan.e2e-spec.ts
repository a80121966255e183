// Leak scan (issue 9): a full run across the four services with distinctive values — writes, renders, resolves,
// redactions, log traffic, audit queries and errors provoked with values present, the services logging at debug —
// then every place a value could escape to is searched: service logs, every NATS message captured on `>` (any
// subject: the prefix, `$JS.API.*`, `$JS.ACK.*`, inboxes, unprefixed), the database rows (events, read model, data
// keys, idempotency, audit) and each service's /metrics. The only places a value may legitimately appear: what the
// client itself sends to be stored or redacted (create/update/redact requests, raw log lines, and those stored raw
// lines handed to the redaction consumer, checked byte-equal to what was sent) and the `output` of a render reply,
// which is the product. Resolve replies must be JWE.
import { type MsgHdrs, type NatsConnection, connect, headers as natsHeaders } from 'nats';
import { Client } from 'pg';
import { prefixedStreamName } from '@platform/messaging';
import { type Reply, ResolveCaller, testInfrastructure } from '@platform/testing';
import { type Needle, findLeaks, needlesOf, randomPart } from './fixtures/plaintext-scan';
import { until } from './support/wait';
import {
  type PlatformUnderTest,
  SERVICE_NAMES,
  metricsOf,
  outcomeOf,
  readinessOf,
  startPlatform,
} from './fixtures/platform';

const run = randomPart().slice(0, 6);
const VENDOR = `acme${run}`;
const CUSTOMER = `globex${run}`;
const DEPLOYMENT = 'web1';

/** A value the platform must never repeat: distinctive label plus a random part whose fragments are searched too. */
interface Plaintext {
  readonly label: string;
  readonly value: string;
  readonly random: string;
}
const plaintexts: Plaintext[] = [];
function plaintext(label: string, shape: (random: string) => string = (random) => `${label}-${random}`): string {
  const random = randomPart();
  const value = shape(random);
  plaintexts.push({ label, value, random });
  return value;
}

const API_KEY_V1 = plaintext('API_KEY v1', (r) => `sk_live_${r}`);
const API_KEY_V2 = plaintext('API_KEY v2', (r) => `sk_live_${r}`);
const DB_PASSWORD = plaintext('DB_PASSWORD', (r) => `pw"quoted\\back/${r}`);
const UNICODE = plaintext('UNICODE', (r) => `pässwörd-${r}-密码`);
const TLS_CERT = plaintext('TLS_CERT', (r) =>
  [
    '-----BEGIN CERTIFICATE-----',
    `MIIBszCCAVmgAwIBAgIU${r}`,
    `${r.split('').reverse().join('')}Q`,
    '-----END CERTIFICATE-----',
  ].join('\n'),
);
const YAML_BREAKER = plaintext('YAML_BREAKER', (r) => `${r}: [unclosed`);
const DELETED = plaintext('DELETED', (r) => `gone-${r}`);
const CUSTOMER_TOKEN = plaintext('CUSTOMER_TOKEN', (r) => `cust_${r}`);
const CUSTOMER_SHARED = plaintext('CUSTOMER override of SHARED', (r) => `shared-customer-${r}`);
const VENDOR_SHARED = plaintext('vendor SHARED', (r) => `shared-vendor-${r}`);
/** Sent only in requests that are refused: never stored, still never to be echoed. */
const REFUSED_VALUE = plaintext('refused value', (r) => `refused-${r}`);
const PASTED_AS_KEY = plaintext('value pasted as a key', (r) => `sk-live-${r}`);
const CONFLICTING = plaintext('conflicting update', (r) => `conflict-${r}`);
/** Every raw log line the client shipped, as sent. */
const shippedLines: string[] = [];

interface Captured {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
  /** For a reply: the subject of the request it answers (prefix removed). */
  readonly inReplyTo?: string;
}

/**
 * The outside client of this run (a CLI, a deploy service, a log shipper). Its replies come to an inbox of its own, so
 * the recorder can tell the requests it sent — which carry values on purpose — from the services' own traffic.
 */
class OutsideClient {
  private constructor(
    readonly connection: NatsConnection,
    readonly inbox: string,
    private readonly prefix: string,
  ) {}

  static async connect(prefix: string): Promise<OutsideClient> {
    const inbox = `_INBOX.outside${run}`;
    const connection = await connect({
      servers: testInfrastructure().natsUrl,
      name: 'leak-scan-client',
      inboxPrefix: inbox,
    });
    return new OutsideClient(connection, inbox, prefix);
  }

  async request(
    subject: string,
    body: unknown,
    token: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<Reply> {
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${token}`);
    for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
    const reply = await this.connection.request(this.prefix + subject, encoder.encode(JSON.stringify(body)), {
      timeout: 10_000,
      headers,
    });
    const raw = decoder.decode(reply.data);
    const status = reply.headers?.get('Nats-Service-Error-Code');
    return {
      body: JSON.parse(raw) as Record<string, unknown>,
      raw,
      status: status ? Number(status) : undefined,
      headers: reply.headers,
    };
  }

  /** A log shipper's publish to LOGS_RAW. */
  async shipLog(subjectTail: string, text: string, extraHeaders: Record<string, string> = {}): Promise<void> {
    const headers = natsHeaders();
    for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
    shippedLines.push(text);
    await this.connection
      .jetstream()
      .publish(`${this.prefix}logs.raw.${subjectTail}`, encoder.encode(text), { headers });
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}

/**
 * A raw subscriber on `>`: every message the server routes in this account, whatever its subject — the run's prefix,
 * `$JS.API.*` requests and replies, `$JS.ACK.*` acks, consumer deliveries to inboxes, and anything a service might
 * publish without the prefix. Everything is kept; it is sorted only so a test can say which messages legitimately
 * carry a value (what the client itself sent, and the stored raw lines handed back to the redaction consumer).
 */
/** Marks a reply subject awaited by another test file's request. */
const FOREIGN = '(another test file)';

/** A subject under another test file's prefix (the harness issues `t<id>.`; see uniqueSubjectPrefix). */
function isOtherTestsSubject(subject: string, prefix: string): boolean {
  return /^t[a-z0-9]+\./.test(subject) && !subject.startsWith(prefix);
}

class TrafficRecorder {
  /** Everything not sent by the client, not a reply, not a raw line delivered for redaction: what the platform said. */
  readonly published: Captured[] = [];
  /** Requests and log lines the outside client sent (their reply subject is the client's inbox). */
  readonly sentByClient: Captured[] = [];
  /** Replies to any request seen before them, the client's and the services' own (`$JS.API.*` included). */
  readonly replies: Captured[] = [];
  /** LOGS_RAW messages delivered to the redaction consumer: the client's own raw lines, checked equal to them. */
  readonly rawDeliveries: Captured[] = [];
  private readonly awaitingReply = new Map<string, string>();

  private constructor(private readonly connection: NatsConnection) {}

  static async start(prefix: string, clientInbox: string): Promise<TrafficRecorder> {
    const connection = await connect({ servers: testInfrastructure().natsUrl, name: 'leak-scan-recorder' });
    const recorder = new TrafficRecorder(connection);
    const rawDelivery = `$JS.ACK.${prefixedStreamName(prefix, 'LOGS_RAW')}.`;
    const ownSubject = (subject: string) => (subject.startsWith(prefix) ? subject.slice(prefix.length) : subject);
    // Callbacks, not iterators: messages are handled in arrival order, so a request is seen before its reply.
    connection.subscribe('>', {
      callback: (_error, message) => {
        const subject = ownSubject(message.subject);
        const captured = { subject, data: message.data, headers: message.headers };
        if (message.reply?.startsWith(rawDelivery)) {
          recorder.rawDeliveries.push(captured);
          return;
        }
        const inReplyTo = recorder.awaitingReply.get(message.subject);
        // Other test files share the server: their requests, and the replies to them, are not this platform's words.
        const foreign = inReplyTo === FOREIGN || isOtherTestsSubject(message.subject, prefix);
        if (message.reply) recorder.awaitingReply.set(message.reply, foreign ? FOREIGN : subject);
        if (foreign) return;
        if (inReplyTo !== undefined) recorder.replies.push({ ...captured, inReplyTo });
        else if (message.reply?.startsWith(`${clientInbox}.`)) recorder.sentByClient.push(captured);
        else recorder.published.push(captured);
      },
    });
    await connection.flush();
    return recorder;
  }

  count(subjectPrefix: string): number {
    return [...this.published, ...this.sentByClient].filter((message) => message.subject.startsWith(subjectPrefix))
      .length;
  }

  /** Every message captured, whatever its kind. */
  get all(): Captured[] {
    return [...this.published, ...this.sentByClient, ...this.replies, ...this.rawDeliveries];
  }

  /** Returns once the server has delivered everything sent before this call. */
  async flush(): Promise<void> {
    await this.connection.flush();
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const textOf = (message: Captured) => decoder.decode(message.data);
const headersOf = (message: Captured) =>
  message.headers ? [...message.headers].map(([name, values]) => `${name}: ${values.join(', ')}`).join('\n') : '';

const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

describe('leak scan across the four services', () => {
  let platform: PlatformUnderTest;
  let recorder: TrafficRecorder;
  let client: OutsideClient;
  let admin: string;
  let customerUser: string;
  let deployer: string;
  let resolver: ResolveCaller;
  const refusals: Array<{ what: string; reply: Reply }> = [];

  const call = (subject: string, body: unknown, token: string, headers?: Record<string, string>) =>
    client.request(subject, body, token, headers);

  async function succeed(subject: string, body: unknown, token = admin): Promise<Reply> {
    const reply = await call(subject, body, token);
    expect({ subject, outcome: outcomeOf(reply) }).toEqual({ subject, outcome: 'OK' });
    return reply;
  }

  /** A request that must be refused with `code`; its reply is kept for the scan. */
  async function refuse(what: string, subject: string, body: unknown, code: string, token = admin): Promise<void> {
    const reply = await call(subject, body, token);
    expect({ what, outcome: outcomeOf(reply) }).toEqual({ what, outcome: code });
    refusals.push({ what, reply });
  }

  beforeAll(async () => {
    // Debug level: whatever a service logs only when asked to is scanned too.
    const debug = { LOG_LEVEL: 'debug' };
    platform = await startPlatform({
      secrets: debug,
      render: debug,
      redaction: { ...debug, REDACTION_SETTLE_MS: '500' },
      audit: debug,
    });
    client = await OutsideClient.connect(platform.prefix);
    recorder = await TrafficRecorder.start(platform.prefix, client.inbox);
    admin = await platform.tokens.vendor(VENDOR, 'admin');
    customerUser = await platform.tokens.customer(VENDOR, CUSTOMER, 'read_write');
    deployer = await platform.tokens.service(`deployer${run}`, ['render:any']);
    resolver = await ResolveCaller.create(platform.tokens, `resolver${run}`, ['secrets:resolve']);

    // Writes: vendor-level and customer secrets, an update (so two versions exist), a delete.
    await succeed('secrets.v1.create', { key: 'API_KEY', value: API_KEY_V1 });
    await succeed('secrets.v1.update', { key: 'API_KEY', value: API_KEY_V2, expectedVersion: 1 });
    await succeed('secrets.v1.create', { key: 'DB_PASSWORD', value: DB_PASSWORD });
    await succeed('secrets.v1.create', { key: 'UNICODE', value: UNICODE });
    await succeed('secrets.v1.create', { key: 'TLS_CERT', value: TLS_CERT });
    await succeed('secrets.v1.create', { key: 'YAML_BREAKER', value: YAML_BREAKER });
    await succeed('secrets.v1.create', { key: 'SHARED', value: VENDOR_SHARED });
    await succeed('secrets.v1.create', { key: 'DELETED', value: DELETED });
    await succeed('secrets.v1.delete', { key: 'DELETED' });
    await succeed(
      'secrets.v1.create',
      { key: 'CUSTOMER_TOKEN', value: CUSTOMER_TOKEN, customerOrganizationId: CUSTOMER },
      customerUser,
    );
    await succeed('secrets.v1.create', { key: 'SHARED', value: CUSTOMER_SHARED, customerOrganizationId: CUSTOMER });
    const retried = { key: 'RETRIED', value: plaintext('RETRIED') };
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await call('secrets.v1.create', retried, admin, { 'Idempotency-Key': `retry-${run}` });
      expect(outcomeOf(reply)).toBe('OK');
    }

    // Reads of metadata, and the render/validate/resolve/redact paths that handle values.
    await succeed('secrets.v1.get', { key: 'API_KEY' });
    await succeed('secrets.v1.list', {});
    await succeed('secrets.v1.history', { key: 'API_KEY' });
    const env = [
      'API_KEY={{ .Secrets.API_KEY }}',
      'DATABASE_URL=postgresql://app:{{ .Secrets.DB_PASSWORD }}@db:5432/app',
      'CERT={{ .Secrets.TLS_CERT }}',
      'UNICODE={{ .Secrets.UNICODE }}',
    ].join('\n');
    await succeed('render.v1.render', { template: env, format: 'env' });
    await succeed('render.v1.render', { template: env, format: 'env', pins: { API_KEY: 1 } });
    await succeed('render.v1.render', {
      template: 'db:\n  password: {{ .Secrets.DB_PASSWORD | quote }}\ncert: {{ .Secrets.TLS_CERT | toJson }}\n',
      format: 'yaml',
    });
    await succeed('render.v1.render', {
      template: '{{ toJson .Secrets }} {{ .Secrets.API_KEY | b64enc }}',
      format: 'text',
    });
    await succeed(
      'render.v1.render',
      {
        template: 'TOKEN={{ .Secrets.CUSTOMER_TOKEN }}\nSHARED={{ .Secrets.SHARED }}',
        format: 'env',
        organizationId: VENDOR,
        customerOrganizationId: CUSTOMER,
      },
      deployer,
    );
    await succeed('render.v1.render', { template: 'SHARED={{ .Secrets.SHARED }}', format: 'env' }, customerUser);
    await succeed('render.v1.validate', {
      template: '{{ .Secrets.API_KEY }} {{ .Secrets.NOT_THERE }}',
      format: 'text',
      required: ['DB_PASSWORD'],
    });
    await succeed(
      'render.v1.validate',
      { template: '{{ range $k, $v := .Secrets }}{{ $k }}{{ end }}', format: 'text' },
      customerUser,
    );
    await succeed(
      'secrets.v1.resolve',
      resolver.request({ organizationId: VENDOR, customerOrganizationId: CUSTOMER, keys: ['API_KEY', 'SHARED'] }),
      resolver.token,
    );
    const redacted = await succeed('redaction.v1.redact', {
      text: `config: ${API_KEY_V2} ${API_KEY_V1} ${Buffer.from(DB_PASSWORD).toString('base64')} ${JSON.stringify(UNICODE)}`,
    });
    expect(redacted.body.redactions).toBeGreaterThanOrEqual(4);
    await succeed('redaction.v1.redact', {
      text: `customer ${CUSTOMER_TOKEN} ${CUSTOMER_SHARED}`,
      customerOrganizationId: CUSTOMER,
    });

    // Errors provoked with values present: each message is built around a value and must not quote it.
    const errorRenders: Array<[string, string, string, string]> = [
      ['invalid YAML output', 'broken: {{ .Secrets.YAML_BREAKER }}\n', 'yaml', 'TEMPLATE_OUTPUT_ERROR'],
      ['a value alone on an env line', '{{ .Secrets.API_KEY }}', 'env', 'TEMPLATE_OUTPUT_ERROR'],
      [
        'a multi-line value breaking env lines',
        'A=1\n{{ .Secrets.TLS_CERT | nindent 0 }}',
        'env',
        'TEMPLATE_OUTPUT_ERROR',
      ],
      ['a range over a value', '{{ range .Secrets.API_KEY }}x{{ end }}', 'text', 'TEMPLATE_EXECUTION_ERROR'],
      ['a field of a value', '{{ .Secrets.DB_PASSWORD.Field }}', 'text', 'TEMPLATE_EXECUTION_ERROR'],
      ['an index into a value', '{{ index .Secrets.UNICODE 999 }}', 'text', 'TEMPLATE_EXECUTION_ERROR'],
      [
        'a value as the message of required',
        '{{ required .Secrets.API_KEY .Secrets.NOPE }}',
        'text',
        'TEMPLATE_EXECUTION_ERROR',
      ],
      ['a comparison of a value with a number', '{{ lt .Secrets.API_KEY 3 }}', 'text', 'TEMPLATE_EXECUTION_ERROR'],
      ['a call of a value', '{{ call .Secrets.UNICODE }}', 'text', 'TEMPLATE_EXECUTION_ERROR'],
      ['a missing key beside values', '{{ .Secrets.API_KEY }}{{ .Secrets.NOPE }}', 'text', 'TEMPLATE_EXECUTION_ERROR'],
    ];
    for (const [what, template, format, code] of errorRenders) {
      await refuse(what, 'render.v1.render', { template, format }, code);
    }
    await refuse(
      'a create of an existing key',
      'secrets.v1.create',
      { key: 'API_KEY', value: REFUSED_VALUE },
      'ALREADY_EXISTS',
    );
    await refuse(
      'a value pasted as the key',
      'secrets.v1.create',
      { key: PASTED_AS_KEY, value: REFUSED_VALUE },
      'INVALID_ARGUMENT',
    );
    await refuse('a value pasted as the key of get', 'secrets.v1.get', { key: PASTED_AS_KEY }, 'INVALID_ARGUMENT');
    await refuse(
      'a stale expectedVersion',
      'secrets.v1.update',
      { key: 'API_KEY', value: CONFLICTING, expectedVersion: 1 },
      'VERSION_CONFLICT',
    );
    await refuse(
      'an update of a deleted key',
      'secrets.v1.update',
      { key: 'DELETED', value: REFUSED_VALUE },
      'NOT_FOUND',
    );
    await refuse(
      'a value over 64 KiB',
      'secrets.v1.create',
      { key: 'HUGE', value: REFUSED_VALUE.repeat(Math.ceil((65 * 1024) / REFUSED_VALUE.length)) },
      'PAYLOAD_TOO_LARGE',
    );
    await refuse(
      'a value in an unknown field',
      'secrets.v1.create',
      { key: 'X', value: 'v', note: REFUSED_VALUE },
      'INVALID_ARGUMENT',
    );
    await refuse(
      'a value where a number belongs',
      'secrets.v1.update',
      { key: 'X', value: 'v', expectedVersion: REFUSED_VALUE },
      'INVALID_ARGUMENT',
    );
    await refuse(
      'a value as a customer id',
      'secrets.v1.list',
      { customerOrganizationId: PASTED_AS_KEY + '.x' },
      'INVALID_ARGUMENT',
    );
    await refuse('a value as a page token', 'secrets.v1.list', { pageToken: REFUSED_VALUE }, 'INVALID_ARGUMENT');
    await refuse('a value as an audit key filter', 'audit.v1.query', { key: PASTED_AS_KEY }, 'INVALID_ARGUMENT');
    await refuse('a value as an audit page token', 'audit.v1.query', { pageToken: REFUSED_VALUE }, 'INVALID_ARGUMENT');
    await refuse(
      'a value as a required key',
      'render.v1.validate',
      { template: '', format: 'env', required: [PASTED_AS_KEY] },
      'INVALID_ARGUMENT',
    );
    await refuse(
      'a value as a pinned key',
      'render.v1.render',
      { template: 'x', format: 'text', pins: { [PASTED_AS_KEY]: 1 } },
      'INVALID_ARGUMENT',
    );
    await refuse(
      'a value as the format',
      'render.v1.render',
      { template: 'x', format: REFUSED_VALUE },
      'INVALID_ARGUMENT',
    );
    const reused = await call('secrets.v1.create', { ...retried, value: REFUSED_VALUE }, admin, {
      'Idempotency-Key': `retry-${run}`,
    });
    expect(outcomeOf(reused)).toBe('INVALID_ARGUMENT');
    refusals.push({ what: 'an Idempotency-Key reused with another value', reply: reused });

    // Log traffic: values raw, base64, JSON-escaped and in headers, in vendor and customer scopes.
    const vendorLines = [
      `GET /login api_key=${API_KEY_V2} old=${API_KEY_V1}`,
      `{"msg":"connect","password":${JSON.stringify(DB_PASSWORD)}}`,
      `auth ${Buffer.from(API_KEY_V2).toString('base64')} and ${Buffer.from(UNICODE).toString('base64url')}`,
      `certificate:\n${TLS_CERT}\nend`,
      `deleted secret still masked: ${DELETED}`,
      `shared ${VENDOR_SHARED}`,
    ];
    for (const line of vendorLines)
      await client.shipLog(`${VENDOR}._.${DEPLOYMENT}`, line, { 'X-Trace': `t ${API_KEY_V2}` });
    const customerLines = [`customer ${CUSTOMER_TOKEN} shared ${CUSTOMER_SHARED} vendor ${VENDOR_SHARED}`];
    for (const line of customerLines) await client.shipLog(`${VENDOR}.${CUSTOMER}.${DEPLOYMENT}`, line);
    const shipped = vendorLines.length + customerLines.length;
    await until(() => recorder.count('logs.redacted.') >= shipped, 'every raw line to reach LOGS', 45_000);

    // Audit queries, once the trail holds every event the secrets service stored.
    await until(async () => {
      const { rows } = await queryDatabase(
        platform,
        'select (select count(*) from secrets.events) = (select count(*) from audit.records) as even',
      );
      return rows[0].even === true;
    }, 'the audit trail to catch up with the event store');
    await succeed('audit.v1.query', {});
    await succeed('audit.v1.query', { key: 'API_KEY', types: ['SecretValueUpdated'] });
    await succeed('audit.v1.query', {}, customerUser);
    await succeed('audit.v1.verify', {});
    await recorder.flush();
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await recorder?.close();
    await platform?.close();
  });

  const needles = (options: { base64: boolean }): Needle[] =>
    plaintexts.flatMap(({ label, value, random }) => needlesOf(label, value, { random, base64: options.base64 }));

  it('exercised every path it scans', () => {
    expect(recorder.count('secrets.events.')).toBeGreaterThan(10);
    expect(recorder.count('logs.redacted.')).toBeGreaterThanOrEqual(7);
    expect(recorder.count('secrets.v1.resolve')).toBeGreaterThan(5);
    expect(recorder.replies.filter((reply) => reply.inReplyTo === 'render.v1.render').length).toBeGreaterThan(15);
    expect(refusals.length).toBeGreaterThan(25);
    // The capture is not limited to the prefix: JetStream's API, acks and consumer deliveries are in it.
    const subjects = recorder.all.map((message) => message.subject);
    expect(subjects.some((subject) => subject.startsWith('$JS.API.'))).toBe(true);
    expect(subjects.some((subject) => subject.startsWith('$JS.ACK.'))).toBe(true);
    expect(recorder.rawDeliveries.length).toBeGreaterThanOrEqual(shippedLines.length);
    for (const name of SERVICE_NAMES)
      expect({ name, level: platform.services[name].context.logger.level }).toEqual({ name, level: 'debug' });
  });

  it('hands the redaction consumer nothing but the raw lines the client shipped', () => {
    const shipped = new Set(shippedLines);
    const other = recorder.rawDeliveries.filter((message) => !shipped.has(textOf(message)));
    expect(other.map((message) => message.subject)).toEqual([]);
  });

  it('never quotes a value in an error reply', () => {
    const haystacks = refusals.map(({ what, reply }) => ({
      where: `reply to ${what}`,
      text: reply.raw + headersOf({ subject: '', data: new Uint8Array(), headers: reply.headers }),
    }));
    expect(findLeaks(haystacks, needles({ base64: true }))).toEqual([]);
  });

  it('never writes a value to a service log', () => {
    const haystacks = SERVICE_NAMES.flatMap((name) =>
      platform.services[name].logs.map((line, index) => ({ where: `${name} log line ${index}`, text: line })),
    );
    expect(haystacks.length).toBeGreaterThan(4);
    expect(findLeaks(haystacks, needles({ base64: true }))).toEqual([]);
  });

  it('never puts a value on NATS in anything else: events, LOGS, JetStream API and acks, requests between services', () => {
    expect(recorder.sentByClient.length).toBeGreaterThan(50);
    const haystacks = recorder.published.map((message, index) => ({
      where: `message ${index} on ${message.subject}`,
      text: `${textOf(message)}\n${headersOf(message)}`,
    }));
    expect(findLeaks(haystacks, needles({ base64: true }))).toEqual([]);
  });

  it('masks every value in LOGS, body and headers', () => {
    const stored = recorder.published.filter((message) => message.subject.startsWith('logs.redacted.'));
    for (const message of stored) expect(Number(message.headers?.get('Redacted-Count'))).toBeGreaterThan(0);
    expect(stored.map(textOf).join('\n')).toContain('********');
  });

  it('answers resolve only with JWE, and nothing else with a value except a render output', () => {
    const resolveReplies = recorder.replies.filter((reply) => reply.inReplyTo === 'secrets.v1.resolve');
    expect(resolveReplies.length).toBeGreaterThan(5);
    for (const reply of resolveReplies) {
      const body = JSON.parse(textOf(reply)) as { ciphertext?: string; error?: unknown };
      expect(body.error).toBeUndefined();
      expect(body.ciphertext).toMatch(JWE_COMPACT);
    }
    const haystacks = recorder.replies.map((reply, index) => {
      let text = textOf(reply);
      if (reply.inReplyTo === 'render.v1.render') {
        // The rendered output is the product; everything else in a render reply (references, errors) is scanned.
        const body = JSON.parse(text) as Record<string, unknown>;
        delete body.output;
        text = JSON.stringify(body);
      }
      return { where: `reply ${index} to ${reply.inReplyTo}`, text: `${text}\n${headersOf(reply)}` };
    });
    expect(recorder.replies.some((reply) => reply.inReplyTo?.startsWith('$JS.API.'))).toBe(true);
    expect(findLeaks(haystacks, needles({ base64: true }))).toEqual([]);
  });

  it('stores no value in any table: events, read model, data keys, idempotency, audit', async () => {
    const { rows: tables } = await queryDatabase(
      platform,
      `select table_schema, table_name from information_schema.tables
       where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    const schemas = new Set(tables.map((table) => table.table_schema as string));
    expect(schemas).toEqual(new Set(['secrets', 'audit']));
    const haystacks: Array<{ where: string; text: string }> = [];
    for (const { table_schema: schema, table_name: table } of tables as Array<Record<string, string>>) {
      const { rows } = await queryDatabase(platform, `select t::text as row from "${schema}"."${table}" t`);
      rows.forEach((row, index) =>
        haystacks.push({ where: `${schema}.${table} row ${index}`, text: row.row as string }),
      );
    }
    expect(haystacks.filter((h) => h.where.startsWith('secrets.events')).length).toBeGreaterThan(10);
    expect(haystacks.filter((h) => h.where.startsWith('audit.records')).length).toBeGreaterThan(10);
    expect(findLeaks(haystacks, needles({ base64: true }))).toEqual([]);
  });

  it('exposes no value in any /metrics output', async () => {
    const haystacks = await Promise.all(
      SERVICE_NAMES.map(async (name) => ({
        where: `${name} /metrics`,
        text: await metricsOf(platform.services[name]),
      })),
    );
    expect(findLeaks(haystacks, needles({ base64: true }))).toEqual([]);
  });

  it('leaves every service ready', async () => {
    for (const name of SERVICE_NAMES)
      expect({ name, status: await readinessOf(platform.services[name]) }).toEqual({ name, status: 200 });
  });
});

async function queryDatabase(
  platform: PlatformUnderTest,
  sql: string,
): Promise<{ rows: Array<Record<string, unknown>> }> {
  const client = new Client({ connectionString: platform.database.url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}
