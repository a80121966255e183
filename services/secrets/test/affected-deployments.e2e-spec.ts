import {
  PlaintextValues,
  resolveAs,
  type TestNatsClient,
  type TestPlatform,
  type TestTokens,
  startTestPlatform,
  testTenants,
} from '@platform/testing';
import { auditService } from '../../audit/src/audit.definition';
import { secretsService } from '../src/secrets.definition';

interface AffectedJson {
  count: number;
  deployments: Array<{ deploymentId: string; customerOrganizationId: string | null; lastRenderedAt: string }>;
}
interface WriteJson {
  key: string;
  version: number;
  affectedDeployments: AffectedJson;
}
interface ErrorJson {
  error: { code: string; message: string; details?: { key?: string; count?: number; deployments?: unknown[] } };
}

const { vendor, customer, otherCustomer } = testTenants();
const plaintexts = new PlaintextValues();
const RENDERED_AT = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/) as unknown as string;

/** An affected deployment as the wire has it; `null` customer for a vendor-level deployment. */
const deployed = (deploymentId: string, customerOrganizationId: string | null) => ({
  deploymentId,
  customerOrganizationId,
  lastRenderedAt: RENDERED_AT,
});

describe('update and delete answer with the deployments they affect (plain JSON over NATS)', () => {
  let platform: TestPlatform;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let admin: string;
  let customerAdmin: string;
  let otherCustomerAdmin: string;
  let renderToken: string;

  const call = <T>(subject: string, body: unknown, token = admin) => client.request<T>(subject, body, { token });
  const succeed = async (subject: string, body: Record<string, unknown>, token = admin) => {
    const reply = await call<WriteJson>(subject, body, token);
    expect(reply.body).not.toHaveProperty('error');
    expect(reply.status).toBeUndefined();
    return reply.body;
  };
  /** A delete refused because deployments use the key: 409 FAILED_PRECONDITION with them in `details`. */
  const refusedDelete = async (body: Record<string, unknown>, token = admin) => {
    const reply = await call<ErrorJson>('secrets.v1.delete', body, token);
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('FAILED_PRECONDITION');
    return reply.body.error;
  };

  /** As render resolves for a deployment: a bound service token, a fresh reply key and nonce, the reply checked. */
  async function resolveFor(deploymentId: string, request: Record<string, unknown>) {
    const { reply, opened } = await resolveAs(client, tokens, renderToken, {
      organizationId: vendor,
      deploymentId,
      ...request,
    });
    expect(reply.status).toBeUndefined();
    return opened;
  }

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService, auditService]);
    ({ client, tokens } = platform);
    [admin, customerAdmin, otherCustomerAdmin, renderToken] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      tokens.customer(vendor, customer, 'read_write'),
      tokens.customer(vendor, otherCustomer, 'admin'),
      tokens.service('deployer', ['secrets:resolve']),
    ]);
    await succeed('secrets.v1.create', { key: 'DB_PASSWORD', value: plaintexts.next('db') });
    await succeed('secrets.v1.create', { key: 'API_KEY', value: plaintexts.next('api-vendor') });
    await succeed('secrets.v1.create', {
      key: 'API_KEY',
      value: plaintexts.next('api-customer'),
      customerOrganizationId: customer,
    });
    await succeed('secrets.v1.create', { key: 'UNUSED', value: plaintexts.next('unused') });

    // web: vendor-level; shop of customer: the vendor DB_PASSWORD and its own API_KEY; shop of otherCustomer: the
    // vendor API_KEY.
    await resolveFor('web', { keys: ['DB_PASSWORD'] });
    await resolveFor('shop', { customerOrganizationId: customer, keys: ['DB_PASSWORD', 'API_KEY'] });
    await resolveFor('shop', { customerOrganizationId: otherCustomer, keys: ['API_KEY'] });
  });

  afterAll(() => platform?.close());

  it('lists on update every deployment that received the key in the scope written, and only those', async () => {
    // A vendor-level key: the vendor's deployment and each customer's that received the vendor value.
    const db = await succeed('secrets.v1.update', { key: 'DB_PASSWORD', value: plaintexts.next('db2') });
    expect(db).toMatchObject({ key: 'DB_PASSWORD', version: 2 });
    expect(db.affectedDeployments).toEqual({
      count: 2,
      deployments: [deployed('web', null), deployed('shop', customer)],
    });

    // customer's shop received its own API_KEY, so only otherCustomer's shop runs the vendor value.
    const vendorApi = await succeed('secrets.v1.update', { key: 'API_KEY', value: plaintexts.next('api-vendor2') });
    expect(vendorApi.affectedDeployments).toEqual({ count: 1, deployments: [deployed('shop', otherCustomer)] });

    // A customer key: that customer's deployments only, for the customer's own user as for the vendor.
    const ownApi = await succeed(
      'secrets.v1.update',
      { key: 'API_KEY', value: plaintexts.next('api-customer2') },
      customerAdmin,
    );
    expect(ownApi.affectedDeployments).toEqual({ count: 1, deployments: [deployed('shop', customer)] });

    const unused = await succeed('secrets.v1.update', { key: 'UNUSED', value: plaintexts.next('unused2') });
    expect(unused.affectedDeployments).toEqual({ count: 0, deployments: [] });
  });

  it('refuses to delete a key live deployments use, listing them, until they are forgotten or it is forced', async () => {
    const refused = await refusedDelete({ key: 'DB_PASSWORD' });
    expect(refused.message).toContain('DB_PASSWORD');
    expect(refused.details).toEqual({
      key: 'DB_PASSWORD',
      count: 2,
      deployments: [deployed('web', null), deployed('shop', customer)],
    });
    // Refused means not deleted.
    expect(await succeed('secrets.v1.get', { key: 'DB_PASSWORD' })).toMatchObject({ version: 2 });

    // A forgotten deployment is not live: only the customer's shop holds the delete back now.
    await succeed('secrets.v1.forgetdeployment', { deploymentId: 'web' });
    expect((await refusedDelete({ key: 'DB_PASSWORD', force: false })).details).toEqual({
      key: 'DB_PASSWORD',
      count: 1,
      deployments: [deployed('shop', customer)],
    });

    const retried = { token: admin, headers: { 'Idempotency-Key': `forced-delete-${vendor}` } };
    const forcedReply = await client.request<WriteJson>(
      'secrets.v1.delete',
      { key: 'DB_PASSWORD', force: true },
      retried,
    );
    expect(forcedReply.status).toBeUndefined();
    const forced = forcedReply.body;
    expect(forced).toMatchObject({ key: 'DB_PASSWORD', version: 3 });
    expect(forced.affectedDeployments).toEqual({ count: 1, deployments: [deployed('shop', customer)] });
    // A retry with the same Idempotency-Key appends nothing and answers as the first reply did.
    const replayed = await client.request('secrets.v1.delete', { key: 'DB_PASSWORD', force: true }, retried);
    expect(replayed.body).toEqual(forced);
    expect((await call<ErrorJson>('secrets.v1.get', { key: 'DB_PASSWORD' })).status).toBe(404);

    // Deleting it again is refused for what it is (gone), not for the deployments still naming it.
    const again = await call<ErrorJson>('secrets.v1.delete', { key: 'DB_PASSWORD' });
    expect(again.body.error.code).toBe('NOT_FOUND');
  });

  it("scopes a customer key's refusal to that customer's deployments", async () => {
    const own = await refusedDelete({ key: 'API_KEY' }, customerAdmin);
    expect(own.details).toEqual({ key: 'API_KEY', count: 1, deployments: [deployed('shop', customer)] });
    // The vendor naming the customer gets the same answer; the other customer's shop is not part of it.
    expect((await refusedDelete({ key: 'API_KEY', customerOrganizationId: customer })).details).toEqual(own.details);

    // The other customer has no API_KEY of its own: not found, whatever its deployments received.
    const otherDelete = await call<ErrorJson>('secrets.v1.delete', { key: 'API_KEY' }, otherCustomerAdmin);
    expect(otherDelete.body.error.code).toBe('NOT_FOUND');

    await succeed('secrets.v1.forgetdeployment', { deploymentId: 'shop' }, customerAdmin);
    const deleted = await succeed('secrets.v1.delete', { key: 'API_KEY' }, customerAdmin);
    expect(deleted.affectedDeployments).toEqual({ count: 0, deployments: [] });

    // The vendor-level API_KEY is still used by the other customer's shop.
    expect((await refusedDelete({ key: 'API_KEY' })).details).toEqual({
      key: 'API_KEY',
      count: 1,
      deployments: [deployed('shop', otherCustomer)],
    });
  });

  it('deletes a key nobody deployed as before', async () => {
    const deleted = await succeed('secrets.v1.delete', { key: 'UNUSED' });
    expect(deleted).toEqual({
      key: 'UNUSED',
      version: 3,
      deletedAt: RENDERED_AT,
      affectedDeployments: { count: 0, deployments: [] },
    });
  });
});
