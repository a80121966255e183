// The messaging layer end to end, with test-only handlers: what an outside `nats` client sees.
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { GetSecretRequestSchema, type GetSecretRequest } from '@platform/contracts';
import { type Environment, loadServiceConfig } from '@platform/config';
import { TokenSigner } from '@platform/crypto';
import {
  CurrentPrincipal,
  PlatformContext,
  type Principal,
  RequestBody,
  type ServiceDefinition,
} from '@platform/messaging';
import {
  TestNatsClient,
  TestTokens,
  type TestPlatform,
  type TestService,
  releaseSubjectPrefix,
  startTestPlatform,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';

const INTERNAL_DETAIL = 'connect ECONNREFUSED 10.20.30.40:5432 password=hunter2';

/** Every echo handled, by the prefix of the service instance that handled it: replies alone cannot show duplicates. */
const echoesHandled: Array<{ readonly prefix: string; readonly key: string }> = [];

@Controller()
class ProbeController {
  constructor(private readonly platform: PlatformContext) {}

  @MessagePattern('probe.v1.echo')
  echo(@RequestBody(GetSecretRequestSchema) request: GetSecretRequest, @CurrentPrincipal() principal: Principal) {
    echoesHandled.push({ prefix: this.platform.config.subjectPrefix, key: request.key });
    return { key: request.key, customerOrganizationId: request.customerOrganizationId ?? null, org: principal.org };
  }

  @MessagePattern('probe.v1.small')
  small(@RequestBody(GetSecretRequestSchema, { maxBytes: 64 }) request: GetSecretRequest) {
    return { key: request.key };
  }

  @MessagePattern('probe.v1.boom')
  boom(): never {
    throw new Error(INTERNAL_DETAIL);
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

function probeService(env: Environment): ServiceDefinition {
  return {
    name: 'render',
    config: loadServiceConfig('render', {}, env),
    scopes: [],
    streams: [],
    module: () => ProbeModule,
  };
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('plain-JSON NATS messaging', () => {
  let platform: Omit<TestPlatform, 'database'>;
  let service: TestService;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let token: string;

  beforeAll(async () => {
    platform = await startTestPlatform([probeService], { database: false });
    ({ client, tokens } = platform);
    [service] = platform.services;
    token = await tokens.vendor('acme', 'read_only');
  });

  afterAll(() => platform?.close());

  it('answers a plain JSON request with a plain JSON reply, no Nest envelope', async () => {
    const reply = await client.request('probe.v1.echo', { key: 'API_KEY' }, { token });
    expect(reply.status).toBeUndefined();
    expect(reply.body).toEqual({ key: 'API_KEY', customerOrganizationId: null, org: 'acme' });
  });

  it('accepts an empty body as the empty message', async () => {
    const reply = await client.request('probe.v1.echo', new Uint8Array(), { token });
    expect(reply.body).toEqual({ key: '', customerOrganizationId: null, org: 'acme' });
  });

  describe('authentication', () => {
    async function expectUnauthenticated(options: { token?: string; headers?: Record<string, string> }) {
      const reply = await client.request('probe.v1.echo', { key: 'API_KEY' }, options);
      expect(reply.status).toBe(401);
      expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('401');
      expect(reply.headers?.get('Nats-Service-Error')).toBe(
        (reply.body as { error: { message: string } }).error.message,
      );
      expect(reply.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
      return (reply.body as { error: { message: string } }).error.message;
    }

    it('refuses a request without a token', async () => {
      expect(await expectUnauthenticated({})).toBe('missing bearer token');
    });

    it('refuses a malformed Authorization header', async () => {
      await expectUnauthenticated({ headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    });

    it('refuses a token signed with another key', async () => {
      const stranger = await TokenSigner.fromJwk({
        kty: 'oct',
        kid: 'dev-hs256',
        k: Buffer.alloc(32, 7).toString('base64url'),
      });
      const forged = await stranger.sign(
        { sub: 'x', org: 'acme', org_type: 'vendor', role: 'admin' },
        { expiresInSeconds: 60 },
      );
      await expectUnauthenticated({ token: forged });
    });

    it('refuses alg none', async () => {
      const exp = Math.floor(Date.now() / 1000) + 300;
      const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'x', org: 'acme', org_type: 'vendor', role: 'admin', aud: 'secrets-platform', exp })}.`;
      await expectUnauthenticated({ token: unsigned });
    });

    it('refuses an expired token', async () => {
      await expectUnauthenticated({ token: await tokens.expired('acme') });
    });

    it('refuses a token for another audience', async () => {
      const other = await tokens.mint({
        sub: 'x',
        org: 'acme',
        org_type: 'vendor',
        role: 'admin',
        aud: 'another-platform',
      });
      await expectUnauthenticated({ token: other });
    });

    it('refuses claims that do not fit the contract', async () => {
      await expectUnauthenticated({
        token: await tokens.mint({ sub: 'x', org: 'acme', org_type: 'vendor', role: 'root' }),
      });
      await expectUnauthenticated({
        token: await tokens.mint({ sub: 'x', org: 'a.b', org_type: 'vendor', role: 'admin' }),
      });
      await expectUnauthenticated({
        token: await tokens.mint({ sub: 'x', org: 'c', org_type: 'customer', role: 'admin' }),
      });
      for (const sub of ['', 'x'.repeat(257), 'nul\u0000byte', 'forged\nline']) {
        await expectUnauthenticated({
          token: await tokens.mint({ sub, org: 'acme', org_type: 'vendor', role: 'admin' }),
        });
      }
    });
  });

  describe('request decoding', () => {
    async function expectInvalid(body: unknown, pattern: RegExp) {
      const reply = await client.request('probe.v1.echo', body, { token });
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({
        error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(pattern) },
      });
    }

    it('refuses malformed JSON', () => expectInvalid('{"key": ', /JSON/i));
    it('refuses an unknown field', () =>
      expectInvalid({ key: 'A', customerOrgId: 'x' }, /unknown field "customerOrgId"/));
    it('refuses a wrong type without echoing the value', async () => {
      const reply = await client.request('probe.v1.echo', { key: ['sk_live_do_not_echo'] }, { token });
      expect(reply.status).toBe(400);
      expect(reply.raw).not.toContain('sk_live_do_not_echo');
    });
    it('refuses a top level that is not an object', () => expectInvalid('[1,2]', /object/i));

    it('refuses a body over the subject limit with 413', async () => {
      const reply = await client.request('probe.v1.small', { key: 'K'.repeat(100) }, { token });
      expect(reply.status).toBe(413);
      expect(reply.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    });

    it('authenticates before decoding', async () => {
      const reply = await client.request('probe.v1.echo', '{not json', {});
      expect(reply.status).toBe(401);
    });
  });

  it('turns an unexpected exception into INTERNAL without internals', async () => {
    const reply = await client.request('probe.v1.boom', {}, { token });
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(reply.raw).not.toContain('10.20.30.40');
    expect(reply.headers?.get('Nats-Service-Error')).toBe('internal error');
    // The service's own log says which error and where, and nothing the error's message carried.
    const logs = service.logs.join('');
    for (const internal of ['10.20.30.40', 'hunter2', 'ECONNREFUSED']) expect(logs).not.toContain(internal);
    const failure = service.logs
      .map((line) => JSON.parse(line) as { msg: string; err?: { type: string; frames: string[] } })
      .find((line) => line.msg === 'request failed: INTERNAL');
    expect(failure?.err?.type).toBe('Error');
    expect(failure?.err?.frames.some((frame) => frame.includes('ProbeController.boom'))).toBe(true);
  });

  it('serves health, readiness and metrics over HTTP', async () => {
    const base = `http://127.0.0.1:${service.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { nats: true } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });
});

describe('subject prefixes and queue groups', () => {
  const prefixA = uniqueSubjectPrefix();
  const prefixB = uniqueSubjectPrefix();
  const started: TestService[] = [];
  const clients: TestNatsClient[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(started.map((s) => s.close()));
    await Promise.all([prefixA, prefixB].map((prefix) => releaseSubjectPrefix(prefix)));
  });

  it('keeps runs with different prefixes apart and shares one prefix between instances', async () => {
    for (const prefix of [prefixA, prefixA, prefixB]) {
      started.push(await startTestService(probeService, { NATS_SUBJECT_PREFIX: prefix }));
    }
    const [a, b] = await Promise.all([TestNatsClient.connect(prefixA), TestNatsClient.connect(prefixB)]);
    clients.push(a, b);
    const token = await (await TestTokens.create()).vendor('acme');

    const seenUnderA: string[] = [];
    const watcher = a.connection.subscribe(`${prefixA}>`, { callback: (_e, msg) => seenUnderA.push(msg.subject) });
    await a.connection.flush();

    const replies = await Promise.all(
      Array.from({ length: 20 }, () => b.request('probe.v1.echo', { key: 'B' }, { token })),
    );
    expect(replies.every((r) => (r.body as { key: string }).key === 'B')).toBe(true);
    await b.connection.flush();
    await a.connection.flush();
    expect(seenUnderA).toEqual([]);

    // Without the prefix nobody answers.
    await expect(b.connection.request('probe.v1.echo', new Uint8Array(), { timeout: 500 })).rejects.toThrow();

    // Under prefix B only B's instance handled anything, and only B's requests.
    expect(echoesHandled.filter((echo) => echo.prefix === prefixB).map((echo) => echo.key)).toEqual(
      Array(20).fill('B'),
    );
    expect(echoesHandled.filter((echo) => echo.prefix === prefixA)).toEqual([]);

    // Two instances under prefix A form one queue group: each request is handled exactly once, counted at the
    // handlers (a requester keeps only the first reply, so counting replies could not see a second handling).
    const answered = await Promise.all(
      Array.from({ length: 20 }, (_, index) => a.request('probe.v1.echo', { key: `A${index}` }, { token })),
    );
    expect(answered.map((reply) => (reply.body as { key: string }).key).sort()).toEqual(
      Array.from({ length: 20 }, (_, index) => `A${index}`).sort(),
    );
    await a.connection.flush();
    const handledUnderA = echoesHandled.filter((echo) => echo.prefix === prefixA).map((echo) => echo.key);
    expect(handledUnderA.sort()).toEqual(Array.from({ length: 20 }, (_, index) => `A${index}`).sort());
    expect(seenUnderA.filter((s) => s === `${prefixA}probe.v1.echo`)).toHaveLength(20);
    watcher.unsubscribe();
  });
});
