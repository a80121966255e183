// Issue 15, class 5: redaction.v1.redact as a guessing oracle. A caller who may not read a value sends every candidate
// (all 10,000 four-digit PINs, ~50 KB, in one request) and looks for the one that comes back as `********`. Only
// callers who may read values anyway get an answer: vendor read_write/admin users and redaction:redact services.
import { randomBytes } from 'node:crypto';
import { type Reply, TestNatsClient, TestTokens } from '@platform/testing';
import { type SecretsAndRedaction, startSecretsAndRedaction } from './support/secrets-and-redaction';

const MASK = '********';
const run = randomBytes(3).toString('hex');
const VENDOR = `acme${run}`;
const CUSTOMER = `globex${run}`;
const VENDOR_PIN = '4711';
const CUSTOMER_PIN = '0815';
const CANDIDATES = Array.from({ length: 10_000 }, (_, pin) => String(pin).padStart(4, '0'));
const GUESSES = CANDIDATES.join(' ');

const CUSTOMER_REFUSAL = 'redaction.v1.redact is not open to customer users: it would confirm guessed values';
const READ_ONLY_REFUSAL = 'redaction.v1.redact needs the read_write or admin role: it would confirm guessed values';
const SCOPE_REFUSAL = 'this subject needs a service token with scope redaction:redact';

/** The candidates a redacted reply gives away: those whose place in the guess list came back masked. */
function confirmedGuesses(text: string): string[] {
  return text
    .split(' ')
    .map((word, index) => (word === MASK ? CANDIDATES[index] : undefined))
    .filter((pin): pin is string => pin !== undefined);
}

describe('redaction.v1.redact is no oracle for callers who may not read values', () => {
  let platform: SecretsAndRedaction;
  let client: TestNatsClient;
  let tokens: TestTokens;

  const redact = (body: Record<string, unknown>, token: string): Promise<Reply> =>
    client.request('redaction.v1.redact', body, { token });

  beforeAll(async () => {
    platform = await startSecretsAndRedaction();
    client = platform.client;
    tokens = platform.tokens;
    const admin = await tokens.vendor(VENDOR, 'admin');
    for (const body of [
      { key: 'DOOR_PIN', value: VENDOR_PIN },
      { key: 'DOOR_PIN', value: CUSTOMER_PIN, customerOrganizationId: CUSTOMER },
    ]) {
      expect((await client.request('secrets.v1.create', body, { token: admin })).status).toBeUndefined();
    }
  });

  afterAll(() => platform?.close());

  describe('refuses, without a hint, every caller who may not read the values', () => {
    const refusals: ReadonlyArray<readonly [string, () => Promise<string>, Record<string, unknown>, string]> = [
      ['a read_only vendor user', () => tokens.vendor(VENDOR, 'read_only'), {}, READ_ONLY_REFUSAL],
      [
        'a read_only vendor user naming a customer',
        () => tokens.vendor(VENDOR, 'read_only'),
        { customerOrganizationId: CUSTOMER },
        READ_ONLY_REFUSAL,
      ],
      ['a read_only customer user', () => tokens.customer(VENDOR, CUSTOMER, 'read_only'), {}, CUSTOMER_REFUSAL],
      ['a read_write customer user', () => tokens.customer(VENDOR, CUSTOMER, 'read_write'), {}, CUSTOMER_REFUSAL],
      ['a customer admin', () => tokens.customer(VENDOR, CUSTOMER, 'admin'), {}, CUSTOMER_REFUSAL],
      [
        'a customer admin naming itself',
        () => tokens.customer(VENDOR, CUSTOMER, 'admin'),
        { customerOrganizationId: CUSTOMER },
        CUSTOMER_REFUSAL,
      ],
      [
        'a service without redaction:redact, even with every other scope',
        () =>
          tokens.service('deployer', [
            'secrets:resolve',
            'secrets:resolve-current',
            'secrets:resolve-all',
            'render:any',
            'audit:read',
          ]),
        { organizationId: VENDOR },
        SCOPE_REFUSAL,
      ],
    ];

    it.each(refusals)('%s', async (_caller, token, body, message) => {
      const reply = await redact({ ...body, text: GUESSES }, await token());
      expect(reply.status).toBe(403);
      expect(reply.body).toEqual({ error: { code: 'PERMISSION_DENIED', message } });
      expect(reply.raw).not.toContain(MASK);
      expect(reply.raw).not.toContain(VENDOR_PIN);
    });
  });

  describe('answers callers who may read the values anyway', () => {
    it('a read_write vendor user, for its vendor-level values and for a customer it names', async () => {
      const token = await tokens.vendor(VENDOR, 'read_write');
      const vendorLevel = await redact({ text: GUESSES }, token);
      expect(vendorLevel.status).toBeUndefined();
      expect(vendorLevel.body.redactions).toBe(1);
      expect(confirmedGuesses(vendorLevel.body.text as string)).toEqual([VENDOR_PIN]);
      const customer = await redact({ text: GUESSES, customerOrganizationId: CUSTOMER }, token);
      expect(customer.body.redactions).toBe(2);
      expect(confirmedGuesses(customer.body.text as string)).toEqual([CUSTOMER_PIN, VENDOR_PIN]);
    });

    it('a vendor admin', async () => {
      const reply = await redact({ text: `pin ${VENDOR_PIN} ok` }, await tokens.vendor(VENDOR, 'admin'));
      expect(reply.body).toEqual({ text: `pin ${MASK} ok`, redactions: 1 });
    });

    it('a service with redaction:redact, in the organization it names', async () => {
      const reply = await redact(
        { organizationId: VENDOR, customerOrganizationId: CUSTOMER, text: `pins ${VENDOR_PIN} ${CUSTOMER_PIN}` },
        await tokens.service('deployer', ['redaction:redact']),
      );
      expect(reply.body).toEqual({ text: `pins ${MASK} ${MASK}`, redactions: 2 });
    });
  });
});
