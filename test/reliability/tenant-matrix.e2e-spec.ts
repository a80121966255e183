// Tenant matrix (issue 9): every subject × every kind of caller, with the allow/deny each must get (ARCHITECTURE.md §4).
// One request body per subject, the same for every caller — as one client sending it with different tokens — so a cell
// differs from its neighbours only by who asks. Every allowed cell also checks the reply stays in the caller's
// partition; every refused write checks nothing changed.
import { randomBytes } from 'node:crypto';
import { type ErrorCode } from '@platform/contracts';
import { TokenSigner, newReplyNonce, replyKeyThumbprint } from '@platform/crypto';
import { type Reply, ResolveCaller } from '@platform/testing';
import { type PlatformUnderTest, outcomeOf, readinessOf, startPlatform } from './fixtures/platform';

const SUBJECTS = [
  'secrets.v1.create',
  'secrets.v1.update',
  'secrets.v1.delete',
  'secrets.v1.get',
  'secrets.v1.list',
  'secrets.v1.history',
  'secrets.v1.resolve',
  'render.v1.render',
  'render.v1.validate',
  'redaction.v1.redact',
  'audit.v1.query',
  'audit.v1.verify',
] as const;
type Subject = (typeof SUBJECTS)[number];

const CALLERS = [
  'vendor admin',
  'vendor read_write',
  'vendor read_only',
  'customer read_write',
  'customer read_only',
  'other vendor',
  'service with scope',
  'service without scope',
  'no token',
  'expired token',
] as const;
type Caller = (typeof CALLERS)[number];

type Expected = 'OK' | ErrorCode;
const OK = 'OK';
const DENIED = 'PERMISSION_DENIED';
const UNAUTH = 'UNAUTHENTICATED';
const ABSENT = 'NOT_FOUND';

/**
 * The matrix. Columns in CALLERS order. The shared body addresses the customer scope (vendor V, customer C); "other
 * vendor" is an admin of another vendor O sending the same body, so for secrets.v1.* it lands in its own partition
 * (O, C): reads and writes of the existing key find nothing there (NOT_FOUND), a create makes O's own secret, a list
 * and an audit query are empty of V's data. render/validate/redact/audit name `organizationId: V`, which only a service
 * may name for another organization (PERMISSION_DENIED for O). Decisions where §4 is silent, from the services' code:
 * - users may render their own scope in any role (render-scope.ts); §4 lists render only for `render:any` services;
 * - user subjects refuse every service token, whatever its scopes (userScope: "this subject is for users");
 * - redact is for vendor read_write/admin users and `redaction:redact` services (redact-scope.ts: a guess redacted
 *   reveals whether it is a value, so read_only and customer users are refused);
 * - audit.query refuses services even with `audit:read` (audit-access.ts: the request cannot name an organization);
 * - audit.verify is for vendor admins only, over their own organization's chain (audit-access.ts).
 */
// prettier-ignore
const EXPECTATIONS: Readonly<Record<Subject, readonly Expected[]>> = {
  //                      v.admin v.rw    v.ro    c.rw    c.ro    other   svc+    svc-    none    expired
  'secrets.v1.create':   [OK,     OK,     DENIED, OK,     DENIED, OK,     DENIED, DENIED, UNAUTH, UNAUTH],
  'secrets.v1.update':   [OK,     OK,     DENIED, OK,     DENIED, ABSENT, DENIED, DENIED, UNAUTH, UNAUTH],
  'secrets.v1.delete':   [OK,     OK,     DENIED, OK,     DENIED, ABSENT, DENIED, DENIED, UNAUTH, UNAUTH],
  'secrets.v1.get':      [OK,     OK,     OK,     OK,     OK,     ABSENT, DENIED, DENIED, UNAUTH, UNAUTH],
  'secrets.v1.list':     [OK,     OK,     OK,     OK,     OK,     OK,     DENIED, DENIED, UNAUTH, UNAUTH],
  'secrets.v1.history':  [OK,     OK,     OK,     OK,     OK,     ABSENT, DENIED, DENIED, UNAUTH, UNAUTH],
  'secrets.v1.resolve':  [DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     DENIED, UNAUTH, UNAUTH],
  'render.v1.render':    [OK,     OK,     DENIED, OK,     DENIED, DENIED, OK,     DENIED, UNAUTH, UNAUTH],
  'render.v1.validate':  [OK,     OK,     OK,     OK,     OK,     DENIED, OK,     DENIED, UNAUTH, UNAUTH],
  'redaction.v1.redact': [OK,     OK,     DENIED, DENIED, DENIED, DENIED, OK,     DENIED, UNAUTH, UNAUTH],
  'audit.v1.query':      [OK,     OK,     OK,     OK,     OK,     OK,     DENIED, DENIED, UNAUTH, UNAUTH],
  'audit.v1.verify':     [OK,     DENIED, DENIED, DENIED, DENIED, OK,     DENIED, DENIED, UNAUTH, UNAUTH],
};

const ALL_SCOPES = [
  'secrets:resolve',
  'secrets:resolve-current',
  'secrets:resolve-all',
  'render:any',
  'redaction:redact',
  'audit:read',
] as const;
type ServiceScope = (typeof ALL_SCOPES)[number];

/**
 * The scopes that grant a subject to a service, the first being the one "service with scope" holds; "service without
 * scope" holds every other scope. The user subjects have none: there "with scope" holds every scope and "without" none.
 */
const SUBJECT_SCOPES: Readonly<Record<Subject, readonly ServiceScope[]>> = {
  'secrets.v1.create': [],
  'secrets.v1.update': [],
  'secrets.v1.delete': [],
  'secrets.v1.get': [],
  'secrets.v1.list': [],
  'secrets.v1.history': [],
  // resolve-current and resolve-all include resolve.
  'secrets.v1.resolve': ['secrets:resolve', 'secrets:resolve-current', 'secrets:resolve-all'],
  'render.v1.render': ['render:any'],
  'render.v1.validate': ['render:any'],
  'redaction.v1.redact': ['redaction:redact'],
  'audit.v1.query': ['audit:read'],
  'audit.v1.verify': ['audit:read'],
};

const MATRIX: ReadonlyArray<readonly [Subject, Caller, Expected]> = SUBJECTS.flatMap((subject) =>
  CALLERS.map((caller, column) => [subject, caller, EXPECTATIONS[subject][column]] as const),
);

const run = randomBytes(3).toString('hex');
const VENDOR = `acme${run}`;
const CUSTOMER = `globex${run}`;
const OTHER_CUSTOMER = `hooli${run}`;
const OTHER_VENDOR = `initech${run}`;
/** One nonce for every resolve body, as one client sends one body with different tokens. */
const NONCE = newReplyNonce();
const secretValue = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

const VENDOR_VALUE = secretValue('vendor');
const CUSTOMER_VALUE = secretValue('customer');
const TEMPLATE = 'VALUE={{ .Secrets.CUSTOMER_KEY }}';

interface SecretJson {
  key: string;
  organizationId: string;
  customerOrganizationId: string | null;
  version: number;
}

describe('tenant matrix: every subject × every caller', () => {
  let platform: PlatformUnderTest;
  /** The reply key every resolve names; resolve tokens confirm it. */
  let replyKey: ResolveCaller;
  const tokens = new Map<string, string>();
  let serial = 0;

  const vendorAdmin = () => tokens.get('vendor admin')!;
  const request = (subject: string, body: unknown, token?: string) =>
    platform.client.request(subject, body, token === undefined ? {} : { token });

  async function succeed(subject: string, body: unknown, token = vendorAdmin()): Promise<Record<string, unknown>> {
    const reply = await request(subject, body, token);
    expect({ subject, outcome: outcomeOf(reply) }).toEqual({ subject, outcome: 'OK' });
    return reply.body;
  }

  /** The customer-scope secret `key` as the vendor admin sees it, or undefined when it is not live. */
  async function customerSecret(key: string): Promise<SecretJson | undefined> {
    const reply = await request('secrets.v1.get', { key, customerOrganizationId: CUSTOMER }, vendorAdmin());
    return reply.status === undefined ? (reply.body as unknown as SecretJson) : undefined;
  }

  async function tokenFor(subject: Subject, caller: Caller): Promise<string | undefined> {
    const granting = SUBJECT_SCOPES[subject];
    // A resolve token confirms the reply key every resolve body names (cnf.jkt), as a service mints it.
    const service = (scopes: readonly string[]) =>
      subject === 'secrets.v1.resolve'
        ? platform.tokens.mint({
            sub: `service:deployer${run}`,
            org: `deployer${run}`,
            org_type: 'service',
            scope: scopes.join(' '),
            cnf: { jkt: replyKeyThumbprint(replyKey.publicJwk) },
          })
        : platform.tokens.service(`deployer${run}`, scopes);
    switch (caller) {
      case 'service with scope':
        return service(granting.length > 0 ? granting.slice(0, 1) : ALL_SCOPES);
      case 'service without scope':
        return service(granting.length > 0 ? ALL_SCOPES.filter((scope) => !granting.includes(scope)) : []);
      case 'no token':
        return undefined;
      default:
        return tokens.get(caller);
    }
  }

  /** The partition (vendor organization) a caller's secrets and audit records live in. */
  const partitionOf = (caller: Caller) => (caller === 'other vendor' ? OTHER_VENDOR : VENDOR);

  interface Case {
    readonly body: Record<string, unknown>;
    /** Checks an allowed reply stays in the caller's partition and says what it should. */
    allowed(reply: Reply, caller: Caller): Promise<void> | void;
    /** Checks a refused request changed nothing. */
    refused?(): Promise<void>;
  }

  /** The request each subject sends, and what its reply must show; writes get a fresh key per cell. */
  async function caseOf(subject: Subject): Promise<Case> {
    const n = ++serial;
    switch (subject) {
      case 'secrets.v1.create': {
        const key = `CREATED_${n}`;
        return {
          body: { key, value: secretValue('created'), customerOrganizationId: CUSTOMER },
          allowed: async (reply, caller) => {
            expect(reply.body).toMatchObject({
              key,
              organizationId: partitionOf(caller),
              customerOrganizationId: CUSTOMER,
              version: 1,
            });
            // Another vendor's create is its own secret: nothing appears in V's partition.
            expect(await customerSecret(key)).toEqual(caller === 'other vendor' ? undefined : expect.anything());
          },
          refused: async () => expect(await customerSecret(key)).toBeUndefined(),
        };
      }
      case 'secrets.v1.update': {
        const key = `UPDATED_${n}`;
        await succeed('secrets.v1.create', { key, value: secretValue('before'), customerOrganizationId: CUSTOMER });
        return {
          body: { key, value: secretValue('after'), customerOrganizationId: CUSTOMER },
          allowed: (reply) => expect(reply.body).toMatchObject({ key, organizationId: VENDOR, version: 2 }),
          refused: async () => expect((await customerSecret(key))?.version).toBe(1),
        };
      }
      case 'secrets.v1.delete': {
        const key = `DOOMED_${n}`;
        await succeed('secrets.v1.create', { key, value: secretValue('doomed'), customerOrganizationId: CUSTOMER });
        return {
          body: { key, customerOrganizationId: CUSTOMER },
          allowed: async (reply) => {
            expect(reply.body).toMatchObject({ key, version: 2 });
            expect(await customerSecret(key)).toBeUndefined();
          },
          refused: async () => expect((await customerSecret(key))?.version).toBe(1),
        };
      }
      case 'secrets.v1.get':
        return {
          body: { key: 'CUSTOMER_KEY', customerOrganizationId: CUSTOMER },
          allowed: (reply) =>
            expect(reply.body).toMatchObject({
              key: 'CUSTOMER_KEY',
              organizationId: VENDOR,
              customerOrganizationId: CUSTOMER,
            }),
        };
      case 'secrets.v1.list':
        return {
          body: { customerOrganizationId: CUSTOMER },
          allowed: (reply, caller) => {
            const listed = reply.body.secrets as SecretJson[];
            for (const secret of listed) {
              expect(secret).toMatchObject({ organizationId: partitionOf(caller), customerOrganizationId: CUSTOMER });
            }
            const keys = listed.map((secret) => secret.key);
            if (caller === 'other vendor') expect(keys).not.toContain('CUSTOMER_KEY');
            else expect(keys).toContain('CUSTOMER_KEY');
          },
        };
      case 'secrets.v1.history':
        return {
          body: { key: 'CUSTOMER_KEY', customerOrganizationId: CUSTOMER },
          allowed: (reply) =>
            expect(reply.body.versions).toEqual([expect.objectContaining({ version: 1, type: 'SecretCreated' })]),
        };
      case 'secrets.v1.resolve':
        return {
          body: {
            organizationId: VENDOR,
            customerOrganizationId: CUSTOMER,
            keys: ['CUSTOMER_KEY'],
            replyKey: replyKey.publicJwk,
            nonce: NONCE,
          },
          allowed: async (reply) => {
            const ciphertext = reply.body.ciphertext as string;
            expect(ciphertext.split('.')).toHaveLength(5);
            const opened = await replyKey.open(
              { organizationId: VENDOR, customerOrganizationId: CUSTOMER, nonce: NONCE },
              reply.body,
            );
            expect(opened).toMatchObject({
              values: { CUSTOMER_KEY: { value: CUSTOMER_VALUE, version: 1, scope: 'customer' } },
            });
          },
        };
      case 'render.v1.render':
        return {
          body: { template: TEMPLATE, format: 'env', organizationId: VENDOR, customerOrganizationId: CUSTOMER },
          allowed: (reply) =>
            expect(reply.body).toEqual({
              output: `VALUE=${CUSTOMER_VALUE}`,
              references: [{ key: 'CUSTOMER_KEY', version: 1, scope: 'customer' }],
            }),
        };
      case 'render.v1.validate':
        return {
          body: {
            template: TEMPLATE,
            format: 'env',
            organizationId: VENDOR,
            customerOrganizationId: CUSTOMER,
            required: ['VENDOR_KEY'],
          },
          // A customer user's scope is its own keys only: the vendor-level key is missing for it (issue 15).
          allowed: (reply, caller) =>
            expect(reply.body).toEqual(
              caller.startsWith('customer')
                ? {
                    valid: false,
                    references: [{ key: 'CUSTOMER_KEY', version: 1, scope: 'customer' }],
                    missing: ['VENDOR_KEY'],
                    optional: [],
                    errors: [],
                  }
                : {
                    valid: true,
                    references: [{ key: 'CUSTOMER_KEY', version: 1, scope: 'customer' }],
                    missing: [],
                    optional: [],
                    errors: [],
                  },
            ),
        };
      case 'redaction.v1.redact':
        return {
          body: {
            organizationId: VENDOR,
            customerOrganizationId: CUSTOMER,
            text: `login ${CUSTOMER_VALUE} then ${VENDOR_VALUE}`,
          },
          allowed: (reply) => expect(reply.body).toEqual({ text: 'login ******** then ********', redactions: 2 }),
        };
      case 'audit.v1.query':
        return {
          body: { customerOrganizationId: CUSTOMER },
          allowed: (reply, caller) => {
            const records = reply.body.records as Array<{ organizationId: string; customerOrganizationId: string }>;
            for (const record of records) {
              expect(record).toMatchObject({ organizationId: partitionOf(caller), customerOrganizationId: CUSTOMER });
            }
            if (caller !== 'other vendor') expect(records.length).toBeGreaterThan(0);
          },
        };
      case 'audit.v1.verify':
        return { body: {}, allowed: (reply) => expect(reply.body).toMatchObject({ ok: true }) };
      default: {
        const _exhaustive: never = subject;
        return _exhaustive;
      }
    }
  }

  beforeAll(async () => {
    platform = await startPlatform({ redaction: { REDACTION_SETTLE_MS: '0' } });
    const t = platform.tokens;
    tokens.set('vendor admin', await t.vendor(VENDOR, 'admin'));
    tokens.set('vendor read_write', await t.vendor(VENDOR, 'read_write'));
    tokens.set('vendor read_only', await t.vendor(VENDOR, 'read_only'));
    tokens.set('customer read_write', await t.customer(VENDOR, CUSTOMER, 'read_write'));
    tokens.set('customer read_only', await t.customer(VENDOR, CUSTOMER, 'read_only'));
    tokens.set('other vendor', await t.vendor(OTHER_VENDOR, 'admin'));
    tokens.set('expired token', await t.expired(VENDOR));
    replyKey = await ResolveCaller.create(t, `deployer${run}`, []);
    await succeed('secrets.v1.create', { key: 'VENDOR_KEY', value: VENDOR_VALUE });
    await succeed('secrets.v1.create', {
      key: 'CUSTOMER_KEY',
      value: CUSTOMER_VALUE,
      customerOrganizationId: CUSTOMER,
    });
    // The audit trail is fed by the outbox; wait until the customer's records are queryable.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { body } = await request('audit.v1.query', { customerOrganizationId: CUSTOMER }, vendorAdmin());
      if ((body.records as unknown[]).length > 0) break;
      if (Date.now() > deadline) throw new Error('the audit trail never recorded the customer secret');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await platform?.close();
  });

  it.each(MATRIX)('%s as %s → %s', async (subject, caller, expected) => {
    const cell = await caseOf(subject);
    const reply = await request(subject, cell.body, await tokenFor(subject, caller));
    expect(outcomeOf(reply)).toBe(expected);
    if (expected === 'OK') await cell.allowed(reply, caller);
    else if (cell.refused) await cell.refused();
  });

  describe('crossing a boundary by naming it', () => {
    type Crossing = readonly [description: string, subject: Subject, caller: Caller, body: object, expected: Expected];
    const other = { customerOrganizationId: OTHER_CUSTOMER };
    // prettier-ignore
    const CROSSINGS: readonly Crossing[] = [
      ['a customer naming another customer', 'secrets.v1.create', 'customer read_write', { key: 'X', value: 'v', ...other }, DENIED],
      ['a customer naming another customer', 'secrets.v1.update', 'customer read_write', { key: 'CUSTOMER_KEY', value: 'v', ...other }, DENIED],
      ['a customer naming another customer', 'secrets.v1.delete', 'customer read_write', { key: 'CUSTOMER_KEY', ...other }, DENIED],
      ['a customer naming another customer', 'secrets.v1.get', 'customer read_write', { key: 'CUSTOMER_KEY', ...other }, DENIED],
      ['a customer naming another customer', 'secrets.v1.list', 'customer read_write', other, DENIED],
      ['a customer naming another customer', 'secrets.v1.history', 'customer read_write', { key: 'CUSTOMER_KEY', ...other }, DENIED],
      ['a customer naming another customer', 'render.v1.render', 'customer read_write', { template: TEMPLATE, format: 'env', ...other }, DENIED],
      ['a customer naming another customer', 'render.v1.validate', 'customer read_write', { template: TEMPLATE, format: 'env', ...other }, DENIED],
      ['a customer naming another customer', 'audit.v1.query', 'customer read_write', other, DENIED],
      ['a vendor user naming another organization', 'render.v1.render', 'vendor admin', { template: TEMPLATE, format: 'env', organizationId: OTHER_VENDOR }, DENIED],
      ['a vendor user naming another organization', 'render.v1.validate', 'vendor admin', { template: TEMPLATE, format: 'env', organizationId: OTHER_VENDOR }, DENIED],
      ['a vendor user naming another organization', 'redaction.v1.redact', 'vendor admin', { text: CUSTOMER_VALUE, organizationId: OTHER_VENDOR }, DENIED],
      ['another vendor rendering in its own partition, where the key does not exist', 'render.v1.render', 'other vendor', { template: TEMPLATE, format: 'env', customerOrganizationId: CUSTOMER }, 'TEMPLATE_EXECUTION_ERROR'],
      ['a service without organizationId', 'render.v1.render', 'service with scope', { template: TEMPLATE, format: 'env' }, 'INVALID_ARGUMENT'],
      ['a service rendering another organization, where the key does not exist', 'render.v1.render', 'service with scope', { template: TEMPLATE, format: 'env', organizationId: OTHER_VENDOR, customerOrganizationId: CUSTOMER }, 'TEMPLATE_EXECUTION_ERROR'],
      ['a service with secrets:resolve asking for every key', 'secrets.v1.resolve', 'service with scope', { organizationId: VENDOR }, DENIED],
      ['a service with secrets:resolve asking for the history of values', 'secrets.v1.resolve', 'service with scope', { organizationId: VENDOR, keys: ['CUSTOMER_KEY'], includeHistory: true }, DENIED],
      ['a service without organizationId', 'redaction.v1.redact', 'service with scope', { text: CUSTOMER_VALUE }, 'INVALID_ARGUMENT'],
    ];

    it.each(CROSSINGS)('%s: %s as %s', async (_description, subject, caller, body, expected) => {
      const withKey = subject === 'secrets.v1.resolve' ? { ...body, replyKey: replyKey.publicJwk, nonce: NONCE } : body;
      const reply = await request(subject, withKey, await tokenFor(subject, caller));
      expect(outcomeOf(reply)).toBe(expected);
      expect(reply.raw).not.toContain(CUSTOMER_VALUE);
    });

    it('another vendor validating in its own partition finds the key missing', async () => {
      const reply = await request(
        'render.v1.validate',
        { template: TEMPLATE, format: 'env', customerOrganizationId: CUSTOMER },
        tokens.get('other vendor'),
      );
      expect(reply.body).toEqual({ valid: false, references: [], missing: ['CUSTOMER_KEY'], optional: [], errors: [] });
    });

    it('a service resolving another organization gets the key as missing, never V’s value', async () => {
      const reply = await request(
        'secrets.v1.resolve',
        {
          organizationId: OTHER_VENDOR,
          customerOrganizationId: CUSTOMER,
          keys: ['CUSTOMER_KEY'],
          replyKey: replyKey.publicJwk,
          nonce: NONCE,
        },
        await tokenFor('secrets.v1.resolve', 'service with scope'),
      );
      expect(reply.body.missing).toEqual(['CUSTOMER_KEY']);
      const opened = await replyKey.open(
        { organizationId: OTHER_VENDOR, customerOrganizationId: CUSTOMER, nonce: NONCE },
        reply.body,
      );
      expect(opened).toEqual({
        values: {},
        history: [],
      });
    });
  });

  describe('tokens that must not be trusted', () => {
    const PROBES: ReadonlyArray<readonly [Subject, object]> = [
      ['secrets.v1.list', {}],
      ['render.v1.validate', { template: TEMPLATE, format: 'env' }],
      ['redaction.v1.redact', { text: CUSTOMER_VALUE }],
      ['audit.v1.query', {}],
    ];
    const forged = async (): Promise<Record<string, string>> => {
      const claims = { sub: 'mallory', org: VENDOR, org_type: 'vendor', role: 'admin' };
      const rogue = await TokenSigner.fromJwk({
        kty: 'oct',
        kid: 'dev-hs256',
        alg: 'HS256',
        k: randomBytes(32).toString('base64url'),
      });
      const genuine = await platform.tokens.mint(claims);
      const [, payload] = genuine.split('.');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
      return {
        'signed with a key the platform does not trust': await rogue.sign(claims, { expiresInSeconds: 300 }),
        'for another audience': await platform.tokens.mint({ ...claims, aud: 'another-platform' }),
        'with alg none': none,
        'with a tampered payload': `${genuine.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, org: OTHER_VENDOR })).toString('base64url')}.${genuine.split('.')[2]}`,
        'without a role': await platform.tokens.mint({ sub: 'mallory', org: VENDOR, org_type: 'vendor' }),
        'of an unknown organization type': await platform.tokens.mint({ ...claims, org_type: 'platform' }),
        'that is not a JWT': 'not-a-token',
      };
    };

    it.each(PROBES)('%s refuses every untrusted token with UNAUTHENTICATED', async (subject, body) => {
      for (const [what, token] of Object.entries(await forged())) {
        const reply = await request(subject, body, token);
        expect({ what, outcome: outcomeOf(reply) }).toEqual({ what, outcome: UNAUTH });
      }
      const basic = await platform.client.request(subject, body, {
        headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' },
      });
      expect(outcomeOf(basic)).toBe(UNAUTH);
    });
  });

  it('leaves every service ready', async () => {
    for (const service of Object.values(platform.services)) expect(await readinessOf(service)).toBe(200);
  });
});
