import { randomBytes } from 'node:crypto';
import {
  ResolveCaller,
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  type TestTokens,
  eventually,
  startTestPlatform,
} from '@platform/testing';
import { Client } from 'pg';
import { secretsService } from '../../secrets/src/secrets.definition';
import { auditService } from '../src/audit.definition';
import { type AuditRecordJson } from '../src/records/audit-record';

jest.setTimeout(60_000);

interface QueryReply {
  records: AuditRecordJson[];
  nextPageToken?: string;
}

describe('audit trail of the real secrets service (plain JSON over NATS)', () => {
  const run = randomBytes(3).toString('hex');
  const vendor = `acme${run}`;
  const customer = `globex${run}`;
  const values = [`first-${randomBytes(8).toString('hex')}`, `second-${randomBytes(8).toString('hex')}`];
  let platform: TestPlatform;
  let database: TestDatabase;
  let audit: TestService;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let admin: string;
  let writer: string;

  const query = async (body: Record<string, unknown>, token = admin) =>
    (await client.request<QueryReply>('audit.v1.query', body, { token })).body;

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService, auditService]);
    ({ database, client, tokens } = platform);
    [, audit] = platform.services;
    admin = await tokens.vendor(vendor, 'admin');
    writer = await tokens.vendor(vendor, 'read_write');

    const call = async (subject: string, body: Record<string, unknown>, token: string) => {
      const reply = await client.request(subject, body, { token });
      expect(reply.status).toBeUndefined();
    };
    await call('secrets.v1.create', { key: 'DB_PASSWORD', value: values[0] }, admin);
    await call('secrets.v1.update', { key: 'DB_PASSWORD', value: values[1], expectedVersion: 1 }, writer);
    await call('secrets.v1.create', { key: 'API_TOKEN', value: values[0], customerOrganizationId: customer }, admin);
    await call('secrets.v1.delete', { key: 'DB_PASSWORD', expectedVersion: 2 }, admin);
    const resolver = await ResolveCaller.create(tokens, 'deployer', ['secrets:resolve']);
    await call(
      'secrets.v1.resolve',
      resolver.request({ organizationId: vendor, customerOrganizationId: customer, keys: ['API_TOKEN'] }),
      resolver.token,
    );
    await eventually('the audit trail has all five events', async () => (await query({})).records.length === 5);
  });

  afterAll(() => platform?.close());

  it('records create/update/create/delete with actors and versions, and never a value', async () => {
    const changes = await query({ types: ['SecretCreated', 'SecretValueUpdated', 'SecretDeleted'] });
    expect(
      changes.records.map(({ type, key, version, customerOrganizationId, actor }) => ({
        type,
        key,
        version,
        customerOrganizationId,
        sub: actor.sub,
      })),
    ).toEqual([
      { type: 'SecretDeleted', key: 'DB_PASSWORD', version: 3, customerOrganizationId: null, sub: `admin@${vendor}` },
      { type: 'SecretCreated', key: 'API_TOKEN', version: 1, customerOrganizationId: customer, sub: `admin@${vendor}` },
      {
        type: 'SecretValueUpdated',
        key: 'DB_PASSWORD',
        version: 2,
        customerOrganizationId: null,
        sub: `read_write@${vendor}`,
      },
      { type: 'SecretCreated', key: 'DB_PASSWORD', version: 1, customerOrganizationId: null, sub: `admin@${vendor}` },
    ]);
    const access = await query({ types: ['SecretValuesResolved'] });
    expect(access.records).toHaveLength(1);
    expect(access.records[0]).toMatchObject({
      customerOrganizationId: customer,
      key: null,
      actor: { sub: 'service:deployer' },
      resolved: [{ key: 'API_TOKEN', version: 1, scope: 'customer' }],
    });

    const everything = JSON.stringify(await query({}));
    for (const value of values) expect(everything).not.toContain(value);
    const sql = new Client({ connectionString: database.url });
    await sql.connect();
    try {
      const { rows } = await sql.query(`select count(*) from audit.records r where r::text like any($1::text[])`, [
        values.map((v) => `%${v}%`),
      ]);
      expect(Number(rows[0].count)).toBe(0);
    } finally {
      await sql.end();
    }
  });

  it('filters, pages and keeps tenants apart', async () => {
    const dbPassword = await query({ key: 'DB_PASSWORD' });
    expect(dbPassword.records.map((r) => r.version)).toEqual([3, 2, 1]);
    const firstPage = await query({ pageSize: 3 });
    const secondPage = await query({ pageSize: 3, pageToken: firstPage.nextPageToken });
    expect(secondPage.nextPageToken).toBeUndefined();
    expect([...firstPage.records, ...secondPage.records].map((r) => r.sequence)).toEqual(
      (await query({})).records.map((r) => r.sequence),
    );
    const asCustomer = await query({}, await tokens.customer(vendor, customer, 'read_only'));
    expect(asCustomer.records.map((r) => r.key ?? r.type)).toEqual(['SecretValuesResolved', 'API_TOKEN']);
    expect((await query({}, await tokens.vendor(`other${run}`, 'admin'))).records).toEqual([]);
  });

  it('verifies the chain, and names the record changed directly in the database', async () => {
    expect((await client.request('audit.v1.verify', {}, { token: admin })).body).toEqual({ ok: true, checked: 5 });
    const updated = (await query({ types: ['SecretValueUpdated'] })).records[0];
    const sql = new Client({ connectionString: database.url });
    await sql.connect();
    try {
      await sql.query(`update audit.records set version = 7 where sequence = $1`, [updated.sequence]);
    } finally {
      await sql.end();
    }
    expect((await client.request('audit.v1.verify', {}, { token: admin })).body).toEqual({
      ok: false,
      checked: 5,
      firstBrokenSequence: updated.sequence,
      reason: 'record_altered',
      detail: `record ${updated.sequence} does not link to the record before it`,
    });
  });

  it('counts its requests by subject and reply code, a body that failed to decode included', async () => {
    const refused = await client.request('audit.v1.query', { unknownField: true }, { token: admin });
    expect(refused.status).toBe(400);
    const metrics = await (await fetch(`http://127.0.0.1:${audit.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^audit_requests_total\{[^}]*subject="audit\.v1\.query",code="OK"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^audit_requests_total\{[^}]*subject="audit\.v1\.verify",code="OK"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^audit_requests_total\{[^}]*subject="audit\.v1\.query",code="INVALID_ARGUMENT"[^}]*\} 1/m);
    expect(metrics).toMatch(/^audit_request_duration_seconds_count\{[^}]*subject="audit\.v1\.query"[^}]*\} [1-9]/m);
  });
});
