// Issue 18 §1: a read through render is recorded as the person or deployer who asked, the service it came through and
// the deployment, with keys and versions; audit finds it by that person and by the deployment. A render that releases
// no value records nothing. Secrets verifies the forwarded token itself: a forged one is refused, and a forwarded
// identity never widens what render may resolve (a customer user gets its own customer's values only).
import { replyKeyThumbprint } from '@platform/crypto';
import { bearerTokenOf, forwardedTokenDigest } from '@platform/messaging';
import { PlaintextValues, type Reply, ResolveCaller, eventuallyValue, testTenants } from '@platform/testing';
import { Client } from 'pg';
import { type PlatformUnderTest, startPlatform } from '../reliability/fixtures/platform';

jest.setTimeout(120_000);

const { vendor, customer, otherVendor, run } = testTenants();
const values = new PlaintextValues();
const DB_PASSWORD = values.next('db');
const CUSTOMER_TOKEN = values.next('customer-token');
const DEPLOYMENT = `web-${run}`;
const RENDER_SCOPES = ['secrets:resolve', 'secrets:resolve-current'];

interface Rendered {
  output: string;
  references: Array<{ key: string; version: number; scope: string }>;
}
interface ErrorJson {
  error: { code: string; message: string };
}
interface AuditRecordJson {
  type: string;
  actor: { sub: string; org: string; role: string };
  requestedBy?: { sub: string; org: string; role: string };
  deploymentId?: string;
  customerOrganizationId: string | null;
  resolved: Array<{ key: string; version: number; scope: string }>;
}

describe('attribution of reads through render', () => {
  let platform: PlatformUnderTest;
  let vendorAdmin: string;
  let alice: string;
  let customerUser: string;
  let deployer: string;

  const render = (token: string, body: object) =>
    platform.client.request<Rendered & ErrorJson>('render.v1.render', { format: 'env', ...body }, { token });
  const refusal = (reply: Reply<unknown>) => ({ status: reply.status, ...(reply.body as ErrorJson).error });
  const audit = async (token: string, query: object): Promise<AuditRecordJson[]> => {
    const reply = await platform.client.request<{ records?: AuditRecordJson[] } & ErrorJson>('audit.v1.query', query, {
      token,
    });
    expect(reply.status).toBeUndefined();
    return reply.body.records ?? [];
  };
  /** The audit records a query returns once it returns at least `count`. */
  const auditOnce = (token: string, query: object, count = 1) =>
    eventuallyValue(
      `audit records for ${JSON.stringify(query)}`,
      () => audit(token, query),
      (records) => records.length >= count,
    );

  /**
   * `secrets.v1.resolve` as render calls it: its own single-use token binding (`obo`) the token in `onBehalfOf`, the
   * forwarded header; `bind` overrides which token render's own names (null: none).
   */
  async function resolveAsRender(request: Record<string, unknown>, onBehalfOf?: string, bind?: string | null) {
    const caller = await ResolveCaller.create(platform.tokens, 'deployer', RENDER_SCOPES);
    const forwarded = bind === undefined ? onBehalfOf && bearerTokenOf(onBehalfOf) : bind;
    const token = await platform.tokens.platformService('render', 'secrets', RENDER_SCOPES, {
      cnf: { jkt: replyKeyThumbprint(caller.publicJwk) },
      ...(forwarded ? { obo: forwardedTokenDigest(forwarded) } : {}),
    });
    const body = caller.request({ organizationId: vendor, keys: ['DB_PASSWORD'], ...request });
    return platform.client.request<ErrorJson>('secrets.v1.resolve', body, {
      token,
      ...(onBehalfOf === undefined ? {} : { headers: { 'On-Behalf-Of': onBehalfOf } }),
    });
  }

  beforeAll(async () => {
    platform = await startPlatform();
    [vendorAdmin, alice, customerUser, deployer] = await Promise.all([
      platform.tokens.vendor(vendor, 'admin'),
      platform.tokens.vendor(vendor, 'read_write', `alice-${run}@acme`),
      platform.tokens.customer(vendor, customer, 'read_write', `carol-${run}@globex`),
      platform.tokens.service(`deployer-${run}`, ['render:any']),
    ]);
    for (const [key, value, customerOrganizationId] of [
      ['DB_PASSWORD', DB_PASSWORD, undefined],
      ['TOKEN', CUSTOMER_TOKEN, customer],
    ] as const) {
      const reply = await platform.client.request(
        'secrets.v1.create',
        { key, value, customerOrganizationId },
        { token: vendorAdmin },
      );
      expect(reply.status).toBeUndefined();
    }
    const updated = await platform.client.request(
      'secrets.v1.update',
      { key: 'DB_PASSWORD', value: values.next('db-2') },
      { token: vendorAdmin },
    );
    expect(updated.status).toBeUndefined();
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('records the user who rendered, through render, for the deployment, and audit finds it by either', async () => {
    const rendered = await render(alice, { template: 'DB={{ .Secrets.DB_PASSWORD }}', deploymentId: DEPLOYMENT });
    expect(rendered.body.references).toEqual([{ key: 'DB_PASSWORD', version: 2, scope: 'vendor' }]);

    const [byUser] = await auditOnce(vendorAdmin, { actor: `alice-${run}@acme`, types: ['SecretValuesResolved'] });
    expect(byUser).toMatchObject({
      type: 'SecretValuesResolved',
      actor: { sub: 'service:render', org: 'render', role: '' },
      requestedBy: { sub: `alice-${run}@acme`, org: vendor, role: 'read_write' },
      deploymentId: DEPLOYMENT,
      resolved: [{ key: 'DB_PASSWORD', version: 2, scope: 'vendor' }],
    });
    expect(await audit(vendorAdmin, { deploymentId: DEPLOYMENT })).toEqual([byUser]);
    // The direct actor still finds it too.
    const byRender = await audit(vendorAdmin, { actor: 'service:render', types: ['SecretValuesResolved'] });
    expect(byRender).toContainEqual(byUser);
  });

  it('refuses a malformed deploymentId in an audit query', async () => {
    const reply = await platform.client.request('audit.v1.query', { deploymentId: 'a.b' }, { token: vendorAdmin });
    expect(refusal(reply)).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
  });

  it('records a deployer service as the requester of its render', async () => {
    const deployment = `api-${run}`;
    const rendered = await render(deployer, {
      template: 'T={{ .Secrets.TOKEN }}',
      organizationId: vendor,
      customerOrganizationId: customer,
      deploymentId: deployment,
    });
    expect(rendered.body.output).toBe(`T=${CUSTOMER_TOKEN}`);
    const [record] = await auditOnce(vendorAdmin, { deploymentId: deployment });
    expect(record).toMatchObject({
      actor: { sub: 'service:render' },
      requestedBy: { sub: `service:deployer-${run}`, org: `deployer-${run}`, role: '' },
      customerOrganizationId: customer,
      resolved: [{ key: 'TOKEN', version: 1, scope: 'customer' }],
    });
  });

  it('writes no record for a render that released no value', async () => {
    const empty = `empty-${run}`;
    const rendered = await render(alice, { template: 'A={{ if .Secrets.NOPE }}x{{ end }}ok', deploymentId: empty });
    expect(rendered.body).toEqual({ output: 'A=ok', references: [] });
    const sql = new Client({ connectionString: platform.database.url });
    await sql.connect();
    try {
      const { rows } = await sql.query(
        `select count(*)::int as n from secrets.events where type = 'SecretValuesResolved' and data->>'deploymentId' = $1`,
        [empty],
      );
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await sql.end();
    }
    // A later read reaches audit after anything the empty one could have written; the empty one is not there.
    const later = `later-${run}`;
    await render(alice, { template: 'DB={{ .Secrets.DB_PASSWORD }}', deploymentId: later });
    await auditOnce(vendorAdmin, { deploymentId: later });
    expect(await audit(vendorAdmin, { deploymentId: empty })).toEqual([]);
  });

  it("records a customer user's render as that user, with the customer's values only", async () => {
    const deployment = `shop-${run}`;
    const rendered = await render(customerUser, { template: 'T={{ .Secrets.TOKEN }}', deploymentId: deployment });
    expect(rendered.body.output).toBe(`T=${CUSTOMER_TOKEN}`);
    const [record] = await auditOnce(customerUser, { actor: `carol-${run}@globex` });
    expect(record).toMatchObject({
      requestedBy: { sub: `carol-${run}@globex`, org: customer, role: 'read_write' },
      deploymentId: deployment,
      customerOrganizationId: customer,
      resolved: [{ key: 'TOKEN', version: 1, scope: 'customer' }],
    });
  });

  it('refuses a forged, mis-addressed or expired forwarded token, naming the forwarded one', async () => {
    const [header, payload] = alice.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const secretsOnly = await platform.tokens.mint({
      sub: 'mallory',
      org: vendor,
      org_type: 'vendor',
      role: 'admin',
      aud: 'secrets',
    });
    const expired = await platform.tokens.expired(vendor);
    const cases: Array<[string, string]> = [
      [`Bearer ${forged}`, 'token signature does not verify'],
      [`Bearer ${secretsOnly}`, 'token audience does not include render'],
      [`Bearer ${expired}`, 'token has expired'],
      [alice, 'the header must be "Bearer <token>"'],
    ];
    for (const [onBehalfOf, reason] of cases) {
      expect(refusal(await resolveAsRender({ deploymentId: DEPLOYMENT }, onBehalfOf))).toEqual({
        status: 401,
        code: 'UNAUTHENTICATED',
        message: `invalid forwarded token (On-Behalf-Of): ${reason}`,
      });
    }
    const renderOwn = await platform.tokens.platformService('render', 'render', RENDER_SCOPES);
    expect(refusal(await resolveAsRender({}, `Bearer ${renderOwn}`))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
      message: "invalid forwarded token (On-Behalf-Of): a platform service's own single-use token is never forwarded",
    });
    // Render's own token binds the forwarded one: stripped, swapped or unbound on the way, it is refused.
    const bob = await platform.tokens.vendor(vendor, 'read_write', `bob-${run}@acme`);
    expect(refusal(await resolveAsRender({}, undefined, alice))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
      message: 'invalid token: it binds a forwarded token (obo) but the request has no On-Behalf-Of header',
    });
    expect(refusal(await resolveAsRender({}, `Bearer ${bob}`, alice))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
      message: "invalid forwarded token (On-Behalf-Of): it is not the token the caller's own token binds (obo)",
    });
    expect(refusal(await resolveAsRender({}, `Bearer ${bob}`, null))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
      message: "invalid forwarded token (On-Behalf-Of): the caller's own token does not bind it (obo)",
    });
    // The genuine token is accepted, so the refusals above are the forwarded token's alone.
    expect((await resolveAsRender({}, `Bearer ${alice}`)).status).toBeUndefined();
  });

  it('accepts On-Behalf-Of only from render', async () => {
    const outsider = await ResolveCaller.create(platform.tokens, `ci-${run}`, RENDER_SCOPES);
    const reply = await platform.client.request(
      'secrets.v1.resolve',
      outsider.request({ organizationId: vendor, keys: ['DB_PASSWORD'] }),
      { token: outsider.token, headers: { 'On-Behalf-Of': `Bearer ${alice}` } },
    );
    expect(refusal(reply)).toEqual({
      status: 403,
      code: 'PERMISSION_DENIED',
      message: 'On-Behalf-Of is accepted only from service:render',
    });
  });

  it("never lets a forwarded identity widen render's resolve", async () => {
    const denied = (message: string) => ({ status: 403, code: 'PERMISSION_DENIED', message });
    const customerOnly =
      "the forwarded requester is a customer user: only its own customer's values (customerOnly) may be resolved";
    // A customer user's identity with vendor values merged in, or without naming its customer at all.
    expect(refusal(await resolveAsRender({ customerOrganizationId: customer }, `Bearer ${customerUser}`))).toEqual(
      denied(customerOnly),
    );
    expect(refusal(await resolveAsRender({}, `Bearer ${customerUser}`))).toEqual(denied(customerOnly));
    expect(
      (
        await resolveAsRender(
          { customerOrganizationId: customer, customerOnly: true, keys: ['TOKEN'] },
          `Bearer ${customerUser}`,
        )
      ).status,
    ).toBeUndefined();
    // A user of another vendor, a read_only user, a service without render:any.
    const stranger = await platform.tokens.vendor(otherVendor, 'admin');
    expect(refusal(await resolveAsRender({}, `Bearer ${stranger}`))).toEqual(
      denied('the forwarded requester belongs to another organization'),
    );
    const reader = await platform.tokens.vendor(vendor, 'read_only');
    expect(refusal(await resolveAsRender({}, `Bearer ${reader}`))).toEqual(
      denied('the forwarded requester has the read_only role, which renders no value'),
    );
    const lister = await platform.tokens.service(`lister-${run}`, ['secrets:resolve']);
    expect(refusal(await resolveAsRender({}, `Bearer ${lister}`))).toEqual(
      denied('the forwarded requester is a service without scope render:any'),
    );
    // Through render, a customer user still gets no vendor value.
    const viaRender = await render(customerUser, { template: 'DB={{ .Secrets.DB_PASSWORD }}' });
    expect(refusal(viaRender)).toMatchObject({ status: 422, code: 'TEMPLATE_EXECUTION_ERROR' });
    expect(viaRender.raw).not.toContain(DB_PASSWORD);
  });
});
