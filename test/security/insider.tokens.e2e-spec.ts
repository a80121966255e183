// Issue 16, tokens: an insider who can read NATS, or who holds one service's key, gains nothing beyond that service.
// A token captured on the wire is refused the second time and by any other service; a service key mints neither a
// user nor another service; issuers, lifetimes and audiences are enforced; a key removed from AUTH_JWKS_FILE stops
// verifying without a restart.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@platform/config';
import { TokenSigner, generateReplyKeyPair, newReplyNonce, replyKeyThumbprint } from '@platform/crypto';
import { PlaintextValues, type Reply, eventually, testTenants } from '@platform/testing';
import { type Msg } from 'nats';
import { type PlatformUnderTest, startPlatform } from '../reliability/fixtures/platform';

interface ErrorJson {
  error?: { code: string; message: string };
}

const { vendor } = testTenants();
const values = new PlaintextValues();
const DB_PASSWORD = values.next('db');
const DEV_JWKS = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/dev/jwks.json'), 'utf8')) as { keys: unknown[] };

/** A user-token key outside the dev set, published in secrets' JWKS file until the test removes it. */
function rotatingKey(): { privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const member = { kid: 'idp-rotating', alg: 'ES256', use: 'sig', signs: 'users' };
  return {
    privateJwk: { ...privateKey.export({ format: 'jwk' }), ...member },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), ...member },
  };
}

describe('insider: tokens are bound to their use', () => {
  let platform: PlatformUnderTest;
  let admin: string;
  const dir = mkdtempSync(join(tmpdir(), 'insider-tokens-'));
  const jwksFile = join(dir, 'jwks.json');
  const rotating = rotatingKey();
  /** Replaces the JWKS file atomically, as a mounted Kubernetes secret changes. */
  const writeJwks = (keys: unknown[]) => {
    writeFileSync(`${jwksFile}.tmp`, JSON.stringify({ keys }));
    renameSync(`${jwksFile}.tmp`, jwksFile);
  };

  const call = (subject: string, body: unknown, token: string) =>
    platform.client.request<ErrorJson & Record<string, unknown>>(subject, body, { token });
  const refusal = (reply: Reply<ErrorJson>) => ({ status: reply.status, ...reply.body.error });
  const unauthenticated = (reason: string) => ({
    status: 401,
    code: 'UNAUTHENTICATED',
    message: `invalid token: ${reason}`,
  });
  const list = (token: string) => call('secrets.v1.list', {}, token);

  beforeAll(async () => {
    writeJwks([...DEV_JWKS.keys, rotating.publicJwk]);
    platform = await startPlatform({
      secrets: { AUTH_JWKS_FILE: jwksFile, AUTH_JWKS_RELOAD_SECONDS: '1' },
    });
    admin = await platform.tokens.vendor(vendor, 'admin');
    const created = await call('secrets.v1.create', { key: 'DB_PASSWORD', value: DB_PASSWORD }, admin);
    expect(created.status).toBeUndefined();
  });

  afterAll(async () => {
    await platform?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a resolve token captured from NATS when replayed to secrets or sent to render', async () => {
    const captured: Msg[] = [];
    const sniffer = platform.client.connection.subscribe(`${platform.prefix}secrets.v1.resolve`, {
      callback: (error, msg) => void (!error && captured.push(msg)),
    });
    await platform.client.connection.flush();
    const rendered = await call(
      'render.v1.render',
      { template: 'P={{ .Secrets.DB_PASSWORD }}\n', format: 'env' },
      admin,
    );
    expect(rendered.body.output).toBe(`P=${DB_PASSWORD}\n`);
    await eventually('the sniffer saw render resolve', () => captured.length > 0);
    sniffer.unsubscribe();
    const header = captured[0].headers?.get('Authorization') ?? '';
    const token = header.replace(/^Bearer /, '');
    expect(token.split('.')).toHaveLength(3);

    const replayed = await call('secrets.v1.resolve', captured[0].data, token);
    expect(refusal(replayed)).toEqual(unauthenticated('token was already used'));
    const elsewhere = await call('render.v1.validate', { template: 'x', format: 'text' }, token);
    expect(refusal(elsewhere)).toEqual(unauthenticated('token audience does not include render'));
    expect(JSON.stringify([replayed.body, elsewhere.body])).not.toContain(DB_PASSWORD);
  });

  it('accepts a platform service token once and refuses the same jti twice', async () => {
    // A well-formed resolve as render sends it (§6): the token confirms the reply key, each request has its own nonce.
    // The second request differs only by a fresh nonce, so the jti is the one thing refused.
    const publicJwk = (await generateReplyKeyPair({ ttlMs: 0 })).publicJwk;
    const token = await platform.tokens.platformService('render', 'secrets', ['secrets:resolve'], {
      cnf: { jkt: replyKeyThumbprint(publicJwk) },
    });
    const body = () => ({
      organizationId: vendor,
      keys: ['DB_PASSWORD'],
      metadataOnly: true,
      replyKey: publicJwk,
      nonce: newReplyNonce(),
    });
    const first = await call('secrets.v1.resolve', body(), token);
    expect(first.status).toBeUndefined();
    expect(first.body).toMatchObject({ ciphertext: expect.any(String), signature: expect.any(String) });
    const again = await call('secrets.v1.resolve', body(), token);
    expect(refusal(again)).toEqual(unauthenticated('token was already used'));
  });

  it('refuses tokens for another service', async () => {
    const forRender = await platform.tokens.mint({
      sub: 'admin@x',
      org: vendor,
      org_type: 'vendor',
      role: 'admin',
      aud: ['render'],
    });
    expect(refusal(await list(forRender))).toEqual(unauthenticated('token audience does not include secrets'));
    const renderToRedaction = await platform.tokens.platformService('render', 'redaction', ['secrets:resolve']);
    const reply = await call(
      'secrets.v1.resolve',
      { organizationId: vendor, keys: ['DB_PASSWORD'], replyKey: await replyKey() },
      renderToRedaction,
    );
    expect(refusal(reply)).toEqual(unauthenticated('token audience does not include secrets'));
  });

  it('refuses a key minting a user, another service, a platform service or more scopes than its own', async () => {
    const vendorAdmin = { sub: `admin@${vendor}`, org: vendor, org_type: 'vendor', role: 'admin' };
    const forged: Array<[string, Promise<string>, string]> = [
      [
        'render minting a vendor admin',
        platform.tokens.platformService('render', 'secrets', [], vendorAdmin),
        'token key signs only service:render',
      ],
      [
        'render minting redaction',
        platform.tokens.platformService('render', 'secrets', ['secrets:resolve'], {
          sub: 'service:redaction',
          org: 'redaction',
        }),
        'token key signs only service:render',
      ],
      [
        'audit minting secrets:resolve-all for itself',
        platform.tokens.platformService('audit', 'secrets', ['secrets:resolve-all']),
        "token key may not sign scopes beyond service:audit's own",
      ],
      [
        'render minting render:any',
        platform.tokens.platformService('render', 'secrets', ['secrets:resolve', 'render:any']),
        "token key may not sign scopes beyond service:render's own",
      ],
      [
        'the user key minting service:render',
        platform.tokens.mint({ sub: 'service:render', org: 'render', org_type: 'vendor', role: 'admin' }),
        'token key signs users only, not service principals',
      ],
      [
        // The outside clients' key: service:render could forward a forged On-Behalf-Of.
        'the clients key minting service:render',
        platform.tokens.mint({ sub: 'service:render', org: 'render', org_type: 'service', scope: 'secrets:resolve' }),
        'token key may not sign a platform service ("service:<name>" is its own key\'s)',
      ],
    ];
    for (const [what, token, reason] of forged) {
      const reply = await call(
        'secrets.v1.resolve',
        { organizationId: vendor, keys: ['DB_PASSWORD'], replyKey: await replyKey() },
        await token,
      );
      expect({ what, ...refusal(reply) }).toEqual({ what, ...unauthenticated(reason) });
    }
  });

  it('refuses a wrong or missing issuer', async () => {
    const claims = { sub: `admin@${vendor}`, org: vendor, org_type: 'vendor', role: 'admin' };
    expect(refusal(await list(await platform.tokens.mint({ ...claims, iss: 'https://evil.example.com' })))).toEqual(
      unauthenticated('token issuer is not trusted'),
    );
    expect(refusal(await list(await platform.tokens.mint({ ...claims, iss: undefined })))).toEqual(
      unauthenticated('token has no "iss" claim'),
    );
  });

  it('refuses a lifetime (exp - iat) over the caps: 12 h for users, 5 min for services', async () => {
    const long = await platform.tokens.vendor(vendor);
    expect((await list(long)).status).toBeUndefined();
    const user = { sub: `admin@${vendor}`, org: vendor, org_type: 'vendor', role: 'admin' };
    expect(refusal(await list(await platform.tokens.mint(user, { expiresInSeconds: 43_201 })))).toEqual(
      unauthenticated('token lifetime (exp - iat) exceeds 43200 seconds'),
    );
    const service = await platform.tokens.platformService(
      'render',
      'secrets',
      ['secrets:resolve'],
      {},
      { expiresInSeconds: 301 },
    );
    const reply = await call(
      'secrets.v1.resolve',
      { organizationId: vendor, keys: ['DB_PASSWORD'], replyKey: await replyKey() },
      service,
    );
    expect(refusal(reply)).toEqual(unauthenticated('token lifetime (exp - iat) exceeds 300 seconds'));
  });

  it('stops verifying a key removed from AUTH_JWKS_FILE, without a restart', async () => {
    const signer = await TokenSigner.fromJwk(rotating.privateJwk);
    const token = await signer.sign(
      {
        iss: 'secrets-platform',
        aud: 'secrets',
        jti: randomUUID(),
        sub: `admin@${vendor}`,
        org: vendor,
        org_type: 'vendor',
        role: 'admin',
      },
      { expiresInSeconds: 600 },
    );
    expect((await list(token)).status).toBeUndefined();
    // A file caught mid-edit (or emptied) is not a revocation of every key: the keys loaded before stay, loudly.
    writeFileSync(jwksFile, '{"keys": [');
    await eventually('secrets reports the unreadable JWKS', () =>
      platform.services.secrets.logs.some((line) => line.includes('AUTH_JWKS reload failed')),
    );
    expect((await list(token)).status).toBeUndefined();
    writeJwks(DEV_JWKS.keys);
    await eventually(
      'secrets reloads its JWKS and refuses the removed key',
      async () => (await list(token)).status === 401,
    );
    expect(refusal(await list(token))).toEqual(unauthenticated('token "kid" names no known key'));
    expect((await list(admin)).status).toBeUndefined();
  });
});

async function replyKey(): Promise<unknown> {
  return (await generateReplyKeyPair({ ttlMs: 0 })).publicJwk;
}
