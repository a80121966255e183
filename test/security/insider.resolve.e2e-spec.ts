// Issue 16 §3 and the least-privilege point: an insider who can subscribe to `secrets.v1.resolve` and publish to
// render's inbox cannot get a value of their choosing, another tenant's value or a replayed value into a render; a
// captured token cannot resolve to another reply key; render's own token cannot ask for the history of values.
//
// Render runs on a subject prefix of its own whose `secrets.v1.resolve` is served by the insider (this test), which
// forwards each request to the real secrets service on another prefix and then answers render as the attack needs.
import {
  ReplySigner,
  encryptForReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from '@platform/crypto';
import {
  PlaintextValues,
  type Reply,
  ResolveCaller,
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  releaseSubjectPrefix,
  startTestService,
  testTenants,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { generateKeyPairSync } from 'node:crypto';
import { type Msg, type MsgHdrs, type Subscription } from 'nats';
import { renderService } from '../../services/render/src/render.definition';
import { secretsService } from '../../services/secrets/src/secrets.definition';

const { vendor, otherVendor, customer } = testTenants();
const values = new PlaintextValues();
const VENDOR_VALUE = values.next('vendor');
const CUSTOMER_VALUE = values.next('customer');
const OTHER_VALUE = values.next('other');
const INJECTED = values.next('injected');
const TEMPLATE = 'API_KEY={{ .Secrets.API_KEY }}';
const decoder = new TextDecoder();

interface ErrorJson {
  error: { code: string; message: string };
}

/** A genuine answer of the secrets service, as the insider saw it go by. */
interface Relayed {
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
}

/** The sum of a counter's samples with `label`, 0 when absent. */
function counter(metrics: string, name: string, label: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(label))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('insider: resolve replies and reply keys', () => {
  const renderPrefix = uniqueSubjectPrefix();
  const secretsPrefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let secrets: TestService;
  let render: TestService;
  let renderClient: TestNatsClient;
  let secretsClient: TestNatsClient;
  let tokens: TestTokens;
  let vendorUser: string;
  let otherVendorUser: string;
  let insider: Subscription;
  /** What the insider does with each resolve request render sends. */
  let attack: (msg: Msg) => Promise<void>;

  const refusalsOf = async (reason: string) =>
    counter(
      await (await fetch(`http://127.0.0.1:${render.httpPort}/metrics`)).text(),
      'render_resolve_replies_refused_total',
      `reason="${reason}"`,
    );
  const renderAs = (token: string, body: Record<string, unknown> = {}): Promise<Reply<unknown>> =>
    renderClient.request('render.v1.render', { format: 'env', template: TEMPLATE, ...body }, { token });
  /** The request as the real secrets service gets it, with render's own headers (token included). */
  const forward = (msg: Msg, data: Uint8Array = msg.data): Promise<Relayed> =>
    secretsClient.connection
      .request(`${secretsPrefix}secrets.v1.resolve`, data, { headers: msg.headers, timeout: 10_000 })
      .then((reply) => ({ data: reply.data, headers: reply.headers }));
  const rewrite = (msg: Msg, change: (body: Record<string, unknown>) => void): Uint8Array => {
    const body = JSON.parse(decoder.decode(msg.data)) as Record<string, unknown>;
    change(body);
    return new TextEncoder().encode(JSON.stringify(body));
  };
  const answer = (msg: Msg, reply: Relayed): void => {
    msg.respond(reply.data, { headers: reply.headers });
  };

  /** Renders with `token` and expects UNAVAILABLE with no value anywhere in the reply, and one more refusal counted. */
  async function expectRefused(reason: string, rendering: () => Promise<Reply<unknown>>, count = 1): Promise<void> {
    const before = await refusalsOf(reason);
    const reply = await rendering();
    expect(reply.status).toBe(503);
    expect((reply.body as ErrorJson).error).toEqual({
      code: 'UNAVAILABLE',
      message: 'a secrets service reply failed its authenticity checks; retry later',
    });
    for (const value of values.all) expect(reply.raw).not.toContain(value);
    // Counted before render answers, so it shows at once.
    expect(await refusalsOf(reason)).toBe(before + count);
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    secrets = await startTestService(secretsService, {
      NATS_SUBJECT_PREFIX: secretsPrefix,
      DATABASE_URL: database.url,
    });
    render = await startTestService(renderService, { NATS_SUBJECT_PREFIX: renderPrefix });
    [renderClient, secretsClient] = await Promise.all([
      TestNatsClient.connect(renderPrefix),
      TestNatsClient.connect(secretsPrefix),
    ]);
    tokens = await TestTokens.create();
    [vendorUser, otherVendorUser] = await Promise.all([
      tokens.vendor(vendor, 'read_write'),
      tokens.vendor(otherVendor, 'read_write'),
    ]);
    const created = await Promise.all([
      secretsClient.request('secrets.v1.create', { key: 'API_KEY', value: VENDOR_VALUE }, { token: vendorUser }),
      secretsClient.request(
        'secrets.v1.create',
        { key: 'API_KEY', value: CUSTOMER_VALUE, customerOrganizationId: customer },
        { token: vendorUser },
      ),
      secretsClient.request('secrets.v1.create', { key: 'API_KEY', value: OTHER_VALUE }, { token: otherVendorUser }),
    ]);
    for (const reply of created) expect(reply.status).toBeUndefined();
    insider = renderClient.connection.subscribe(`${renderPrefix}secrets.v1.resolve`, {
      callback: (error, msg) => {
        if (!error) void attack(msg);
      },
    });
  }, 120_000);

  afterAll(async () => {
    insider?.unsubscribe();
    await renderClient?.close();
    await secretsClient?.close();
    await render?.close();
    await secrets?.close();
    await database?.drop();
    await releaseSubjectPrefix(renderPrefix);
    await releaseSubjectPrefix(secretsPrefix);
  });

  it('renders through an honest relay (the attacks below differ only in what the insider does)', async () => {
    attack = async (msg) => answer(msg, await forward(msg));
    const reply = await renderAs(vendorUser);
    expect(reply.body).toEqual({
      output: `API_KEY=${VENDOR_VALUE}`,
      references: [{ key: 'API_KEY', scope: 'vendor', version: 1 }],
    });
  });

  it('refuses a reply of values of its choosing, signed with a key render does not pin', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // Even under the pinned kid: only the pinned public key counts.
    const forger = ReplySigner.fromJwk({ ...privateKey.export({ format: 'jwk' }), kid: 'dev-reply-1' });
    attack = async (msg) => {
      const request = JSON.parse(decoder.decode(msg.data)) as Record<string, unknown>;
      const payload = { values: { API_KEY: { value: INJECTED, version: 1, scope: 'vendor' } }, history: [] };
      const ciphertext = await encryptForReplyKey(request.replyKey, payload);
      const signature = forger.sign(
        {
          organizationId: request.organizationId as string,
          customerOrganizationId: null,
          nonce: request.nonce as string,
          replyKeyThumbprint: replyKeyThumbprint(request.replyKey),
        },
        ciphertext,
      );
      answer(msg, { data: new TextEncoder().encode(JSON.stringify({ ciphertext, signature, missing: [] })) });
    };
    await expectRefused('signature', () => renderAs(vendorUser));
  });

  it('refuses a genuine reply for another organization or another customer', async () => {
    attack = async (msg) =>
      answer(
        msg,
        await forward(
          msg,
          rewrite(msg, (body) => Object.assign(body, { organizationId: otherVendor })),
        ),
      );
    // A user's forwarded identity already stops this at secrets (attribution.e2e-spec.ts); a deployer's (render:any)
    // spans organizations, so the reply check is what must catch it.
    const deployer = await tokens.service('deployer', ['render:any']);
    await expectRefused('organization', () => renderAs(deployer, { organizationId: vendor }));
    attack = async (msg) =>
      answer(
        msg,
        await forward(
          msg,
          rewrite(msg, (body) => Object.assign(body, { customerOrganizationId: customer })),
        ),
      );
    await expectRefused('customer', () => renderAs(vendorUser));
  });

  it('refuses a genuine reply for another nonce, and an earlier reply replayed', async () => {
    attack = async (msg) =>
      answer(
        msg,
        await forward(
          msg,
          rewrite(msg, (body) => Object.assign(body, { nonce: newReplyNonce() })),
        ),
      );
    await expectRefused('nonce', () => renderAs(vendorUser));

    // A reply recorded from an honest render, to the same tenant's reply key, sent back for the next request.
    let recorded: Relayed | undefined;
    attack = async (msg) => {
      recorded = await forward(msg);
      answer(msg, recorded);
    };
    expect((await renderAs(vendorUser)).status).toBeUndefined();
    attack = async (msg) => answer(msg, recorded as Relayed);
    await expectRefused('nonce', () => renderAs(vendorUser));
  });

  it("refuses two tenants' in-flight replies swapped", async () => {
    const held: Array<{ msg: Msg; reply: Relayed; organizationId: unknown }> = [];
    attack = async (msg) => {
      const reply = await forward(msg);
      held.push({
        msg,
        reply,
        organizationId: (JSON.parse(decoder.decode(msg.data)) as Record<string, unknown>).organizationId,
      });
      if (held.length === 2) {
        answer(held[0].msg, held[1].reply);
        answer(held[1].msg, held[0].reply);
      }
    };
    await expectRefused(
      'organization',
      async () => {
        const [mine, theirs] = await Promise.all([renderAs(vendorUser), renderAs(otherVendorUser)]);
        expect(new Set(held.map((entry) => entry.organizationId))).toEqual(new Set([vendor, otherVendor]));
        expect(theirs.status).toBe(503);
        for (const value of values.all) expect(theirs.raw).not.toContain(value);
        return mine;
      },
      2,
    );
  });

  describe('the secrets service', () => {
    const renderScopes = () => renderService({ NODE_ENV: 'test', NATS_SUBJECT_PREFIX: renderPrefix }).scopes;
    const resolve = (token: string, body: Record<string, unknown>) =>
      secretsClient.request<unknown>('secrets.v1.resolve', body, { token });

    it("refuses a replyKey that is not the token's cnf key, and a token without one", async () => {
      const caller = await ResolveCaller.create(tokens, 'deployer', renderScopes());
      const captor = await generateReplyKeyPair({ ttlMs: 0 });
      const captured = await resolve(caller.token, {
        organizationId: vendor,
        keys: ['API_KEY'],
        replyKey: captor.publicJwk,
        nonce: newReplyNonce(),
      });
      expect({ status: captured.status, ...(captured.body as ErrorJson).error }).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'replyKey is not the key the service token confirms (claim cnf.jkt)',
      });
      const unbound = await resolve(
        await tokens.service('deployer', renderScopes()),
        caller.request({ organizationId: vendor, keys: ['API_KEY'] }),
      );
      expect({ status: unbound.status, ...(unbound.body as ErrorJson).error }).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'resolve needs a service token that confirms the reply key (claim cnf.jkt)',
      });
      // The same caller with its own key is answered, and the reply checks out.
      const request = caller.request({ organizationId: vendor, keys: ['API_KEY'] });
      const answered = await resolve(caller.token, request);
      expect(await caller.open(request, answered.body as object)).toMatchObject({
        values: { API_KEY: { value: VENDOR_VALUE } },
      });
    });

    it('refuses a missing or short nonce', async () => {
      const caller = await ResolveCaller.create(tokens, 'deployer', renderScopes());
      for (const nonce of [undefined, '', 'short', 'not base64url!'.repeat(3)]) {
        const reply = await resolve(caller.token, {
          organizationId: vendor,
          keys: ['API_KEY'],
          replyKey: caller.publicJwk,
          nonce,
        });
        expect({ status: reply.status, ...(reply.body as ErrorJson).error }).toMatchObject({
          status: 400,
          code: 'INVALID_ARGUMENT',
          message: 'nonce must be 22 to 128 base64url characters, fresh for each request',
        });
      }
    });

    it("gives render's token every current key but never the history of values", async () => {
      expect(renderScopes()).not.toContain('secrets:resolve-all');
      const caller = await ResolveCaller.create(tokens, 'deployer', renderScopes());
      const request = caller.request({ organizationId: vendor, keys: [] as string[] });
      const everyKey = await resolve(caller.token, request);
      expect(await caller.open(request, everyKey.body as object)).toEqual({
        values: { API_KEY: { value: VENDOR_VALUE, version: 1, scope: 'vendor' } },
        history: [],
      });
      const history = await resolve(
        caller.token,
        caller.request({ organizationId: vendor, keys: ['API_KEY'], includeHistory: true }),
      );
      expect({ status: history.status, ...(history.body as ErrorJson).error }).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'the history of values needs a service token with scope secrets:resolve-all',
      });
      const redaction = await ResolveCaller.create(tokens, 'log-masker', ['secrets:resolve', 'secrets:resolve-all']);
      const withHistory = redaction.request({ organizationId: vendor, keys: ['API_KEY'], includeHistory: true });
      expect((await resolve(redaction.token, withHistory)).status).toBeUndefined();
    });
  });
});
