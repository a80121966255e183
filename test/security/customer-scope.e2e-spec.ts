// Issue 15 decision: a customer user sees only its own secrets ("As a customer, you can only create and view secrets
// for your own organization"). Its render, `secrets run` (a render) and validate never reach a vendor-level value or
// key; vendor values reach a customer's deployments only through service renders (`render:any`), customer winning.
import { PlaintextValues, type Reply, testTenants } from '@platform/testing';
import { type PlatformUnderTest, startPlatform } from '../reliability/fixtures/platform';

interface Rendered {
  output: string;
  references: Array<{ key: string; version: number; scope: string }>;
}
interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const { vendor, customer } = testTenants();
const values = new PlaintextValues();
const VENDOR_DB = values.next('vendor-db');
const VENDOR_SHARED = values.next('vendor-shared');
const CUSTOMER_SHARED = values.next('customer-shared');
const CUSTOMER_ONLY = values.next('customer-only');

describe("a customer user's renders see only the customer's own secrets", () => {
  let platform: PlatformUnderTest;
  let vendorAdmin: string;
  let customerUser: string;
  let deployer: string;

  const render = (token: string, body: object) =>
    platform.client.request<Rendered & ErrorJson>('render.v1.render', { format: 'env', ...body }, { token });
  const refusal = (reply: Reply<ErrorJson>) => ({ status: reply.status, ...reply.body.error });

  beforeAll(async () => {
    platform = await startPlatform();
    [vendorAdmin, customerUser, deployer] = await Promise.all([
      platform.tokens.vendor(vendor, 'admin'),
      platform.tokens.customer(vendor, customer, 'read_write'),
      platform.tokens.service('deployer', ['render:any']),
    ]);
    const create = async (key: string, value: string, customerOrganizationId?: string) =>
      expect(
        (
          await platform.client.request(
            'secrets.v1.create',
            { key, value, customerOrganizationId },
            { token: vendorAdmin },
          )
        ).status,
      ).toBeUndefined();
    await create('DB_PASSWORD', VENDOR_DB);
    await create('SHARED', VENDOR_SHARED);
    await create('SHARED', CUSTOMER_SHARED, customer);
    await create('CUSTOMER_ONLY', CUSTOMER_ONLY, customer);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('refuses a vendor-level key to a customer user as a missing key', async () => {
    const reply = await render(customerUser, { template: 'DB={{ .Secrets.DB_PASSWORD }}' });
    expect(refusal(reply)).toEqual({
      status: 422,
      code: 'TEMPLATE_EXECUTION_ERROR',
      message: 'template execution error: map has no entry for key "DB_PASSWORD"',
      details: { line: 1, column: 14 },
    });
    expect(reply.raw).not.toContain(VENDOR_DB);
  });

  it("gives a customer user its own values, and .Secrets as a whole holds only the customer's keys", async () => {
    const own = await render(customerUser, { template: 'S={{ .Secrets.SHARED }}\nC={{ .Secrets.CUSTOMER_ONLY }}' });
    expect(own.body).toEqual({
      output: `S=${CUSTOMER_SHARED}\nC=${CUSTOMER_ONLY}`,
      references: [
        { key: 'CUSTOMER_ONLY', version: 1, scope: 'customer' },
        { key: 'SHARED', version: 1, scope: 'customer' },
      ],
    });
    const every = await render(customerUser, {
      template: '{{ range $key, $value := .Secrets }}{{ $key }}={{ $value }}\n{{ end }}',
    });
    expect(every.body.output).toBe(`CUSTOMER_ONLY=${CUSTOMER_ONLY}\nSHARED=${CUSTOMER_SHARED}\n`);
  });

  it('names vendor-level keys as missing when a customer user validates', async () => {
    const reply = await platform.client.request<Record<string, unknown>>(
      'render.v1.validate',
      {
        template: 'DB={{ .Secrets.DB_PASSWORD }}\nC={{ .Secrets.CUSTOMER_ONLY }}',
        format: 'env',
        required: ['SHARED'],
      },
      { token: customerUser },
    );
    expect(reply.body).toEqual({
      valid: false,
      references: [{ key: 'CUSTOMER_ONLY', version: 1, scope: 'customer' }],
      missing: ['DB_PASSWORD'],
      optional: [],
      errors: [],
    });
  });

  it("still merges vendor and customer secrets for a service render, the customer's value winning", async () => {
    const template = 'DB={{ .Secrets.DB_PASSWORD }}\nS={{ .Secrets.SHARED }}';
    const expected = {
      output: `DB=${VENDOR_DB}\nS=${CUSTOMER_SHARED}`,
      references: [
        { key: 'DB_PASSWORD', version: 1, scope: 'vendor' },
        { key: 'SHARED', version: 1, scope: 'customer' },
      ],
    };
    const asService = await render(deployer, { template, organizationId: vendor, customerOrganizationId: customer });
    expect(asService.body).toEqual(expected);
    const asVendor = await render(vendorAdmin, { template, customerOrganizationId: customer });
    expect(asVendor.body).toEqual(expected);
  });
});
