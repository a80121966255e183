// Issue 15 §7: services answer only into inboxes. A request whose reply subject is a platform stream's subject
// (`secrets.events.<org>.X`, `logs.redacted.…`, `logs.raw.…`), any other non-inbox subject, or none at all is
// dropped before its handler runs: no reply, no side effect, nothing stored in SECRETS_EVENTS or LOGS; it is counted.
import { PlaintextValues, ResolveCaller, eventually, testTenants } from '@platform/testing';
import { type JetStreamManager, type NatsConnection, headers as natsHeaders } from 'nats';
import { Client } from 'pg';
import { type PlatformUnderTest, SERVICE_NAMES, metricsOf, startPlatform } from '../reliability/fixtures/platform';

const { vendor } = testTenants();
const values = new PlaintextValues();
const DB_PASSWORD = values.next('db');
const encoder = new TextEncoder();

/** A counter's value for one label set in Prometheus text, 0 when absent. */
function counterValue(metrics: string, name: string, label: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('replies only to inboxes', () => {
  let platform: PlatformUnderTest;
  let nats: NatsConnection;
  let jsm: JetStreamManager;
  let db: Client;
  let admin: string;
  let renderService: string;
  const overheard: string[] = [];

  /** The requests, one or more per service, each with a valid token and body: had it run, it would have acted. */
  let requests: ReadonlyArray<{
    service: (typeof SERVICE_NAMES)[number];
    subject: string;
    token: string;
    body: object;
  }>;

  /** The reply subjects a hostile caller names instead of an inbox; `undefined` is a request with none. */
  const forgedReplies = () => [
    `${platform.prefix}secrets.events.${vendor}.X`,
    `${platform.prefix}logs.redacted.${vendor}._.forged`,
    `${platform.prefix}logs.raw.${vendor}._.forged`,
    `${platform.prefix}deploy.notifications`,
    undefined,
  ];

  const send = (subject: string, token: string, body: object, reply: string | undefined) => {
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${token}`);
    nats.publish(platform.prefix + subject, encoder.encode(JSON.stringify(body)), { headers, reply });
  };
  const dropped = async (service: (typeof SERVICE_NAMES)[number]) =>
    counterValue(
      await metricsOf(platform.services[service]),
      `${service}_requests_dropped_total`,
      'reason="reply_subject"',
    );
  const accessEvents = async () =>
    Number(
      (await db.query<{ n: string }>(`select count(*) as n from secrets.events where type = 'SecretValuesResolved'`))
        .rows[0].n,
    );
  const storedOn = (stream: string, subject: string) =>
    jsm.streams.getMessage(stream, { last_by_subj: subject }).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    platform = await startPlatform();
    nats = platform.client.connection;
    jsm = await nats.jetstreamManager();
    db = new Client({ connectionString: platform.database.url });
    await db.connect();
    const resolver = await ResolveCaller.create(platform.tokens, 'deployer', ['secrets:resolve']);
    admin = await platform.tokens.vendor(vendor, 'admin');
    renderService = resolver.token;
    const created = await platform.client.request(
      'secrets.v1.create',
      { key: 'DB_PASSWORD', value: DB_PASSWORD },
      {
        token: admin,
      },
    );
    expect(created.status).toBeUndefined();
    requests = [
      {
        service: 'secrets',
        subject: 'secrets.v1.create',
        token: admin,
        body: { key: 'FORGED', value: values.next('f') },
      },
      {
        service: 'secrets',
        subject: 'secrets.v1.resolve',
        token: renderService,
        body: resolver.request({ organizationId: vendor, keys: ['DB_PASSWORD'] }),
      },
      {
        service: 'render',
        subject: 'render.v1.render',
        token: admin,
        body: { template: 'DB_PASSWORD={{ .Secrets.DB_PASSWORD }}\n', format: 'env' },
      },
      { service: 'redaction', subject: 'redaction.v1.redact', token: admin, body: { text: `pw ${DB_PASSWORD}` } },
      { service: 'audit', subject: 'audit.v1.query', token: admin, body: {} },
    ];
    // Whatever the services publish on the forged subjects would show up here (and in the streams).
    for (const reply of forgedReplies()) {
      if (reply) nats.subscribe(reply, { callback: (error, m) => void (!error && overheard.push(m.subject)) });
    }
    // render and redaction resolve with an inbox reply; this test's own forged resolves have none.
    nats.subscribe(`${platform.prefix}secrets.v1.resolve`, {
      callback: (error, m) => void (!error && m.reply?.startsWith('_INBOX') && overheard.push(m.subject)),
    });
    await nats.flush();
  });

  afterAll(async () => {
    await db?.end();
    await platform?.close();
  });

  it('drops every such request unanswered, runs nothing, stores nothing, and counts it', async () => {
    for (const service of SERVICE_NAMES) expect([service, await dropped(service)]).toEqual([service, 0]);
    for (const { subject, token, body } of requests) {
      for (const reply of forgedReplies()) send(subject, token, body, reply);
    }
    await nats.flush();
    const perRequest = forgedReplies().length;
    const expected = { secrets: 2 * perRequest, render: perRequest, redaction: perRequest, audit: perRequest };
    for (const service of SERVICE_NAMES) {
      await eventually(
        `${service} counts its dropped requests`,
        async () => (await dropped(service)) >= expected[service],
      );
      expect([service, await dropped(service)]).toEqual([service, expected[service]]);
    }
    // Counted before any handler: nothing it could publish is still on its way.
    await nats.flush();
    expect(overheard).toEqual([]);
    const missing = await platform.client.request<{ error: { code: string } }>(
      'secrets.v1.get',
      { key: 'FORGED' },
      {
        token: admin,
      },
    );
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect(await accessEvents()).toBe(0);
    const prefixStream = (name: string) => `${platform.prefix.replace(/\./g, '_')}${name}`;
    expect(await storedOn(prefixStream('SECRETS_EVENTS'), `${platform.prefix}secrets.events.${vendor}.X`)).toBe(false);
    expect(await storedOn(prefixStream('LOGS'), `${platform.prefix}logs.redacted.${vendor}._.forged`)).toBe(false);
    const secretsMetrics = await metricsOf(platform.services.secrets);
    expect(secretsMetrics).not.toMatch(
      /secrets_requests_total\{[^}]*subject="secrets\.v1\.(resolve|get)"[^}]*code="OK"/,
    );
    const renderMetrics = await metricsOf(platform.services.render);
    expect(renderMetrics).not.toMatch(/render_requests_total\{/);
    // The log line names the subject and reply, never the body.
    const warned = platform.services.render.logs.filter((line) => line.includes('reply subject is not an inbox'));
    expect(warned).toHaveLength(perRequest);
    expect(warned.join('\n')).not.toContain(DB_PASSWORD);
    expect(warned.join('\n')).toContain(`"reply":"${platform.prefix}logs.redacted.${vendor}._.forged"`);
  });

  it('answers the same requests into an inbox (the checks above can see a request that ran)', async () => {
    const rendered = await platform.client.request<{ output: string }>(
      'render.v1.render',
      { template: 'DB_PASSWORD={{ .Secrets.DB_PASSWORD }}\n', format: 'env' },
      { token: admin },
    );
    expect(rendered.body.output).toBe(`DB_PASSWORD=${DB_PASSWORD}\n`);
    expect(overheard).toEqual([`${platform.prefix}secrets.v1.resolve`]);
    await eventually('the access event is stored', async () => (await accessEvents()) === 1);
    expect(await metricsOf(platform.services.render)).toMatch(/render_requests_total\{[^}]*code="OK"[^}]*\} 1/);
  });
});
