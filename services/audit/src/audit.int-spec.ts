import { fromJson } from '@bufbuild/protobuf';
import { QueryAuditResponseSchema } from '@platform/contracts';
import {
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  type TestTokens,
  eventually,
  eventuallyValue,
  startTestPlatform,
} from '@platform/testing';
import { Client } from 'pg';
import { auditService } from './audit.definition';
import { type AuditRecordJson } from './records/audit-record';
import { AuditStore } from './records/audit-store.repository';
import { GENESIS_HASH, chainHash } from './records/hash-chain';
import {
  type SecretEventJson,
  createSecretsEventsStream,
  publishSecretEvents,
  secretEvent,
  valuesResolvedEvent,
} from './testing/secret-events';

jest.setTimeout(60_000);

interface QueryReply {
  records: AuditRecordJson[];
  nextPageToken?: string;
}

const minute = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, n)).toISOString();

describe('audit service over NATS', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let prefix: string;
  let service: TestService | undefined;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let sql: Client;
  const adminToken = () => tokens.vendor('acme', 'admin');

  const created = secretEvent({ key: 'DB_PASSWORD', occurredAt: minute(0) });
  const updated = secretEvent({
    type: 'SecretValueUpdated',
    key: 'DB_PASSWORD',
    version: 2,
    actor: { sub: 'read_write@acme', org: 'acme', role: 'read_write' },
    occurredAt: minute(1),
    value: 'hunter2-never-stored',
  });
  const customerCreated = secretEvent({ key: 'API_TOKEN', customerOrganizationId: 'globex', occurredAt: minute(2) });
  const deleted = secretEvent({ type: 'SecretDeleted', key: 'DB_PASSWORD', version: 3, occurredAt: minute(3) });
  const resolved = valuesResolvedEvent(
    [
      { key: 'API_TOKEN', version: 1, scope: 'customer' },
      { key: 'SMTP_URL', version: 4, scope: 'vendor' },
    ],
    { customerOrganizationId: 'globex', occurredAt: minute(4) },
  );
  const otherCustomer = secretEvent({ key: 'API_TOKEN', customerOrganizationId: 'initech', occurredAt: minute(5) });
  const otherVendor = secretEvent({ organizationId: 'umbrella', key: 'DB_PASSWORD', occurredAt: minute(6) });
  const acmeEvents = [created, updated, customerCreated, deleted, resolved, otherCustomer];
  let sequenceOf: Map<string, number>;

  async function start(intervalSeconds = 1): Promise<TestService> {
    service = await platform.start(auditService, { AUDIT_CHECKPOINT_INTERVAL_SECONDS: String(intervalSeconds) });
    return service;
  }

  async function stop(): Promise<void> {
    if (service) await platform.stop(service);
    service = undefined;
  }

  async function query(body: Record<string, unknown>, token: string) {
    return client.request<QueryReply>('audit.v1.query', body, { token });
  }

  async function recordCount(): Promise<number> {
    return Number((await sql.query('select count(*) from audit.records')).rows[0].count);
  }

  const eventIds = (reply: { body: QueryReply }) => reply.body.records.map((r) => r.eventId);
  const newestFirst = (events: SecretEventJson[]) => [...events].reverse().map((e) => e.eventId);

  beforeAll(async () => {
    platform = await startTestPlatform();
    ({ database, prefix, client, tokens } = platform);
    sql = platform.adopt(new Client({ connectionString: database.url }));
    await sql.connect();
    await createSecretsEventsStream(client.connection, prefix);
    await start();
    const sequences = await publishSecretEvents(client.connection, prefix, [...acmeEvents, otherVendor]);
    sequenceOf = new Map([...acmeEvents, otherVendor].map((e, i) => [e.eventId, sequences[i]]));
    await eventually('all seven events are recorded', async () => (await recordCount()) === 7);
  });

  afterAll(() => platform?.close());

  it('returns a vendor its records, newest first, with actors and versions and without values', async () => {
    const reply = await query({}, await adminToken());

    expect(reply.status).toBeUndefined();
    expect(eventIds(reply)).toEqual(newestFirst(acmeEvents));
    expect(reply.body.nextPageToken).toBeUndefined();
    expect(reply.body.records.find((r) => r.eventId === updated.eventId)).toEqual({
      sequence: sequenceOf.get(updated.eventId),
      eventId: updated.eventId,
      type: 'SecretValueUpdated',
      organizationId: 'acme',
      customerOrganizationId: null,
      key: 'DB_PASSWORD',
      version: 2,
      actor: { sub: 'read_write@acme', org: 'acme', role: 'read_write' },
      occurredAt: minute(1),
      recordedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      resolved: [],
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(reply.raw).not.toContain('hunter2');
    expect(() => fromJson(QueryAuditResponseSchema, JSON.parse(reply.raw))).not.toThrow();
  });

  it('lets anyone recompute the chain from the query replies alone', async () => {
    const oldestFirst = [...(await query({}, await adminToken())).body.records].reverse();
    let prevHash = GENESIS_HASH;
    for (const record of oldestFirst) {
      expect(record.prevHash).toBe(prevHash);
      const content = { ...record, occurredAt: new Date(record.occurredAt), recordedAt: new Date(record.recordedAt) };
      expect(chainHash(record.prevHash, content)).toBe(record.hash);
      prevHash = record.hash;
    }
  });

  it('filters by key (including access events that resolved it), actor, types, customer and time', async () => {
    const token = await adminToken();
    expect(eventIds(await query({ key: 'DB_PASSWORD' }, token))).toEqual(newestFirst([created, updated, deleted]));
    expect(eventIds(await query({ key: 'SMTP_URL' }, token))).toEqual([resolved.eventId]);
    expect(eventIds(await query({ actor: 'read_write@acme' }, token))).toEqual([updated.eventId]);
    expect(eventIds(await query({ types: ['SecretValuesResolved', 'SecretDeleted'] }, token))).toEqual(
      newestFirst([deleted, resolved]),
    );
    expect(eventIds(await query({ customerOrganizationId: 'globex' }, token))).toEqual(
      newestFirst([customerCreated, resolved]),
    );
    expect(eventIds(await query({ from: minute(1), to: minute(3) }, token))).toEqual(
      newestFirst([updated, customerCreated]),
    );
    expect(eventIds(await query({ key: 'API_TOKEN', customerOrganizationId: 'initech' }, token))).toEqual([
      otherCustomer.eventId,
    ]);
  });

  it('pages newest first with an opaque token until the last page', async () => {
    const token = await adminToken();
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const reply = await query(pageToken ? { pageSize: 4, pageToken } : { pageSize: 4 }, token);
      expect(reply.body.records.length).toBeLessThanOrEqual(4);
      seen.push(...eventIds(reply));
      pageToken = reply.body.nextPageToken;
      pages += 1;
    } while (pageToken);
    expect(pages).toBe(2);
    expect(seen).toEqual(newestFirst(acmeEvents));
  });

  it('shows a customer only its own records and another vendor nothing of acme', async () => {
    const customer = await tokens.customer('acme', 'globex', 'read_only');
    expect(eventIds(await query({}, customer))).toEqual(newestFirst([customerCreated, resolved]));
    expect(eventIds(await query({ customerOrganizationId: 'globex', key: 'API_TOKEN' }, customer))).toEqual(
      newestFirst([customerCreated, resolved]),
    );
    expect(eventIds(await query({}, await tokens.vendor('umbrella', 'read_only')))).toEqual([otherVendor.eventId]);
    expect(eventIds(await query({ customerOrganizationId: 'globex' }, await tokens.vendor('umbrella')))).toEqual([]);
  });

  it('refuses callers and requests outside the rules, with their codes', async () => {
    const refusals: Array<[Record<string, unknown>, string | undefined, number, string, RegExp]> = [
      [
        { customerOrganizationId: 'initech' },
        await tokens.customer('acme', 'globex'),
        403,
        'PERMISSION_DENIED',
        /only read its own audit records/,
      ],
      [
        {},
        await tokens.service('deployer', ['audit:read']),
        403,
        'PERMISSION_DENIED',
        /service tokens cannot name one/,
      ],
      [{}, undefined, 401, 'UNAUTHENTICATED', /missing bearer token/],
      [{}, await tokens.expired('acme'), 401, 'UNAUTHENTICATED', /invalid token/],
      [{ pageToken: 'bm90LWEtdG9rZW4' }, await adminToken(), 400, 'INVALID_ARGUMENT', /pageToken is not a token/],
      [{ types: ['secret created'] }, await adminToken(), 400, 'INVALID_ARGUMENT', /every type must match/],
      [{ from: minute(3), to: minute(1) }, await adminToken(), 400, 'INVALID_ARGUMENT', /from must be before to/],
      [{ value: 'x' }, await adminToken(), 400, 'INVALID_ARGUMENT', /value/],
      [{ customerOrganizationId: 'no spaces' }, await adminToken(), 400, 'INVALID_ARGUMENT', /customerOrganizationId/],
      [{ actor: 'nul\u0000byte' }, await adminToken(), 400, 'INVALID_ARGUMENT', /without control characters/],
      [{ actor: 'x'.repeat(257) }, await adminToken(), 400, 'INVALID_ARGUMENT', /1 to 256 characters/],
    ];
    for (const [body, token, status, code, message] of refusals) {
      const reply = await client.request<{ error: { code: string; message: string } }>('audit.v1.query', body, {
        token,
      });
      expect({ status: reply.status, code: reply.body.error?.code }).toEqual({ status, code });
      expect(reply.body.error.message).toMatch(message);
    }
  });

  it('serves readiness with Postgres and the applied-records and lag metrics', async () => {
    const running = service as TestService;
    const ready = (await (await fetch(`http://127.0.0.1:${running.httpPort}/readyz`)).json()) as {
      checks: Record<string, boolean>;
    };
    expect(ready.checks).toMatchObject({ nats: true, postgres: true });
    const metrics = await (await fetch(`http://127.0.0.1:${running.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^audit_records_applied_total\{service="audit"\} 7$/m);
    // Every event in the stream is in the trail: nothing waits, however long ago the last one occurred.
    expect(metrics).toMatch(/^audit_lag_seconds\{service="audit"\} 0$/m);
    expect(metrics).not.toContain('hunter2');
  });

  it('catches up after a restart: 1,000 events written while stopped become exactly 1,000 records', async () => {
    const before = await recordCount();
    await stop();
    const events = Array.from({ length: 1_000 }, (_, i) => secretEvent({ key: `WHILE_STOPPED_${i}` }));
    const sequences = await publishSecretEvents(client.connection, prefix, events);
    await start();
    const last = Math.max(...sequences);
    await eventually('the restarted service applied the backlog', async () => {
      const { rows } = await sql.query('select stream_sequence from audit.applied_position');
      return Number(rows[0].stream_sequence) === last;
    });
    expect(await recordCount()).toBe(before + 1_000);
    const keys = await sql.query(`select count(distinct event_id) from audit.records where key like 'WHILE_STOPPED_%'`);
    expect(Number(keys.rows[0].count)).toBe(1_000);
  });

  it('reports the lag of a waiting event from the stream and the database, also while another process applies', async () => {
    await stop();
    // Another process holds the applier lease and applies nothing: the trail is stuck.
    const other = AuditStore.open(database.url);
    const lease = await other.tryAcquireApplierLease();
    try {
      expect(lease).toBeDefined();
      const running = await start();
      await publishSecretEvents(client.connection, prefix, [
        secretEvent({ key: 'WAITING', occurredAt: new Date(Date.now() - 120_000).toISOString() }),
      ]);
      const lagSeconds = async () => {
        const metrics = await (await fetch(`http://127.0.0.1:${running.httpPort}/metrics`)).text();
        return Number(/^audit_lag_seconds\{service="audit"\} (\S+)$/m.exec(metrics)?.[1]);
      };
      expect(await lagSeconds()).toBeGreaterThanOrEqual(120);
      expect(await lagSeconds()).toBeLessThan(180);
      await lease?.release();
      await eventually('the service took over and applied the waiting event', async () => (await lagSeconds()) === 0);
      expect(Number((await sql.query(`select count(*) from audit.records where key = 'WAITING'`)).rows[0].count)).toBe(
        1,
      );
    } finally {
      await lease?.release();
      await other.close();
    }
  });

  it('verifies the chain for vendor admins only, and finds the record tampered with in the database', async () => {
    for (const token of [await tokens.vendor('acme', 'read_write'), await tokens.customer('acme', 'globex')]) {
      const refused = await client.request<{ error: { code: string; message: string } }>(
        'audit.v1.verify',
        {},
        { token },
      );
      expect(refused.status).toBe(403);
      expect(refused.body.error).toEqual({
        code: 'PERMISSION_DENIED',
        message: 'verifying the audit chain needs the admin role in a vendor organization',
      });
    }
    const total = Number(
      (await sql.query(`select count(*) from audit.records where organization_id = 'acme'`)).rows[0].count,
    );
    const verify = async () =>
      (await client.request<Record<string, unknown>>('audit.v1.verify', {}, { token: await adminToken() })).body;
    const verified = await eventuallyValue(
      'acme has a checkpoint of its whole chain',
      verify,
      (reply) => (reply.checkpoint as { count?: number } | undefined)?.count === total,
    );
    expect(verified).toEqual({
      ok: true,
      checked: total,
      checkpoint: {
        sequence: expect.any(Number),
        count: expect.any(Number),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        signedAt: expect.any(String),
        keyId: 'dev-audit-checkpoint',
      },
    });

    const tampered = sequenceOf.get(updated.eventId);
    await sql.query(`update audit.records set actor_sub = 'someone-else' where sequence = $1`, [tampered]);
    expect((await client.request('audit.v1.verify', {}, { token: await adminToken() })).body).toEqual({
      ok: false,
      checked: total,
      firstBrokenSequence: tampered,
      reason: 'record_altered',
      detail: `record ${tampered} does not link to the record before it`,
      checkpoint: verified.checkpoint,
    });
    const umbrella = await client.request('audit.v1.verify', {}, { token: await tokens.vendor('umbrella', 'admin') });
    expect(umbrella.body).toMatchObject({ ok: true, checked: 1 });
  });

  it('signs what it applied when it shuts down, without waiting for the interval', async () => {
    await stop();
    await start(3_600);
    const [sequence] = await publishSecretEvents(client.connection, prefix, [secretEvent({ organizationId: 'late' })]);
    await eventually(
      'the event is recorded',
      async () =>
        Number((await sql.query(`select count(*) from audit.records where organization_id = 'late'`)).rows[0].count) ===
        1,
    );
    const checkpoints = `${prefix.replace(/\./g, '_')}AUDIT_CHECKPOINTS`;
    const manager = await client.connection.jetstreamManager();
    const before = (await manager.streams.info(checkpoints)).state.messages;
    await stop();
    const message = await manager.streams.getMessage(checkpoints, { last_by_subj: `${prefix}audit.checkpoints.late` });
    const payload = JSON.parse(Buffer.from(message.string().split('.')[1], 'base64url').toString('utf8'));
    expect(payload).toMatchObject({ organizationId: 'late', sequence, count: 1 });
    expect((await manager.streams.info(checkpoints)).state.messages).toBeGreaterThan(before);
  });

  it('answers verify UNAVAILABLE, never ok, while the checkpoints cannot be read', async () => {
    await start(3_600);
    const manager = await client.connection.jetstreamManager();
    await manager.streams.delete(`${prefix.replace(/\./g, '_')}AUDIT_CHECKPOINTS`);
    const reply = await client.request<{ error: { code: string; message: string } }>(
      'audit.v1.verify',
      {},
      { token: await adminToken() },
    );
    expect({ status: reply.status, error: reply.body.error }).toEqual({
      status: 503,
      error: { code: 'UNAVAILABLE', message: 'the audit checkpoints cannot be read; retry later' },
    });
  });
});
