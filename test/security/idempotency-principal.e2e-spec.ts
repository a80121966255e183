// Issue 15 §6: Idempotency-Key records belong to the whole principal. Two customers with the same id and the same
// `sub` under two vendors never see each other's reply, nor learn from a refusal that the other used the key.
import {
  PlaintextValues,
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  startTestService,
  testTenants,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { Client } from 'pg';
import { secretsService } from '../../services/secrets/src/secrets.definition';

interface SecretJson {
  id: string;
  key: string;
  organizationId: string;
  customerOrganizationId: string | null;
  version: number;
}
interface ErrorJson {
  error: { code: string; message: string };
}

const { run } = testTenants();
const acme = `acme${run}`;
const globex = `globex${run}`;
const shared = `shared${run}`;
const sub = `ops@${shared}`;
const values = new PlaintextValues();

describe('Idempotency-Key per principal', () => {
  let database: TestDatabase;
  let service: TestService;
  let client: TestNatsClient;
  let acmeCustomer: string;
  let globexCustomer: string;

  const create = (token: string, idempotencyKey: string, key: string, value: string) =>
    client.request<SecretJson & ErrorJson>(
      'secrets.v1.create',
      { key, value },
      { token, headers: { 'Idempotency-Key': idempotencyKey } },
    );

  beforeAll(async () => {
    database = await createTestDatabase();
    const prefix = uniqueSubjectPrefix();
    service = await startTestService(secretsService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    client = await TestNatsClient.connect(prefix);
    const tokens = await TestTokens.create();
    [acmeCustomer, globexCustomer] = await Promise.all([
      tokens.customer(acme, shared, 'admin', sub),
      tokens.customer(globex, shared, 'admin', sub),
    ]);
  });

  afterAll(async () => {
    await client?.close();
    await service?.close();
    await database?.drop();
  });

  it("answers the same sub of the same customer id under another vendor with its own write, not the other's", async () => {
    const first = await create(acmeCustomer, 'deploy-1', 'DB_PASSWORD', values.next('acme'));
    const second = await create(globexCustomer, 'deploy-1', 'DB_PASSWORD', values.next('globex'));
    expect(first.status).toBeUndefined();
    expect(second.status).toBeUndefined();
    expect(first.body).toMatchObject({ organizationId: acme, customerOrganizationId: shared, version: 1 });
    expect(second.body).toMatchObject({ organizationId: globex, customerOrganizationId: shared, version: 1 });
    expect(second.body.id).not.toBe(first.body.id);
  });

  it('says nothing about the other principal: a different request under its key is simply a new write', async () => {
    await create(acmeCustomer, 'deploy-2', 'API_KEY', values.next('acme-api'));
    // Were records shared, this differing request would be refused and confirm that acme's value differs.
    const other = await create(globexCustomer, 'deploy-2', 'API_KEY', values.next('globex-api'));
    expect(other.status).toBeUndefined();
    expect(other.body).toMatchObject({ key: 'API_KEY', organizationId: globex, version: 1 });
  });

  it('still replays a retry and refuses a different request within one principal', async () => {
    const value = values.next('retry');
    const first = await create(acmeCustomer, 'deploy-3', 'TOKEN', value);
    const retry = await create(acmeCustomer, 'deploy-3', 'TOKEN', value);
    expect(retry.body).toEqual(first.body);
    const reused = await create(acmeCustomer, 'deploy-3', 'TOKEN', values.next('changed'));
    expect(reused.status).toBe(400);
    expect(reused.body.error).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'this Idempotency-Key was already used with a different request',
    });
  });

  it('never matches a record of the old `<org>/<sub>` format', async () => {
    const db = new Client({ connectionString: database.url });
    await db.connect();
    try {
      await db.query(
        `insert into secrets.idempotency_key (principal, subject, idempotency_key, request_hash, event_id, expires_at)
         values ($1, 'secrets.v1.create', 'deploy-4', 'old-format-hash', gen_random_uuid(), now() + interval '1 hour')`,
        [`${shared}/${sub}`],
      );
      const created = await create(acmeCustomer, 'deploy-4', 'LEGACY', values.next('legacy'));
      expect(created.status).toBeUndefined();
      expect(created.body).toMatchObject({ key: 'LEGACY', organizationId: acme, version: 1 });
      const rows = await db.query<{ principal: string }>(
        `select principal from secrets.idempotency_key where idempotency_key = 'deploy-4' order by principal`,
      );
      expect(rows.rows.map((row) => row.principal)).toEqual([
        JSON.stringify(['principal/v2', 'customer', acme, shared, sub]),
        `${shared}/${sub}`,
      ]);
    } finally {
      await db.end();
    }
  });
});
