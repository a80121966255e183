import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import {
  TokenError,
  TokenErrorCode,
  TokenSigner,
  TokenVerifier,
  type TokenPolicy,
  type TokenVerifierOptions,
} from './index';

const NOW = 1_800_000_000;

const POLICY: TokenPolicy = {
  audience: 'secrets',
  issuers: ['secrets-platform', 'https://idp.example.com'],
  serviceScopes: new Map<string, readonly string[]>([
    ['secrets', []],
    ['render', ['secrets:resolve', 'secrets:resolve-current']],
    ['audit', []],
  ]),
  maxUserLifetimeSeconds: 43_200,
  maxServiceLifetimeSeconds: 300,
};

function ecKey(kid: string, signs?: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid, ...(signs === undefined ? {} : { signs }) };
}

function publicHalf(jwk: Record<string, unknown>): Record<string, unknown> {
  const { d: _d, ...rest } = jwk;
  return rest;
}

async function refusal(promise: Promise<unknown>): Promise<[TokenErrorCode, string]> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    return [(error as TokenError).code, (error as TokenError).message];
  }
  throw new Error('expected a refusal');
}

const user = {
  iss: 'secrets-platform',
  aud: 'secrets',
  sub: 'admin@acme',
  org: 'acme',
  org_type: 'vendor',
  role: 'admin',
};
const renderClaims = (extra: Record<string, unknown> = {}) => ({
  iss: 'secrets-platform',
  aud: 'secrets',
  sub: 'service:render',
  org: 'render',
  org_type: 'service',
  scope: 'secrets:resolve',
  jti: randomUUID(),
  ...extra,
});

describe('token policy: what each key may sign, issuers, lifetimes, single use', () => {
  const users = ecKey('idp-users', 'users');
  const legacy = ecKey('idp-legacy');
  const clients = ecKey('idp-clients', 'clients');
  const render = ecKey('render-1', 'service:render');
  const audit = ecKey('audit-1', 'service:audit');
  const jwks = { keys: [users, legacy, clients, render, audit].map(publicHalf) };
  const make = (options: Partial<TokenVerifierOptions> = {}) =>
    TokenVerifier.fromJwks(jwks, { policy: POLICY, ...options });
  const sign = async (jwk: Record<string, unknown>, claims: Record<string, unknown>, seconds = 60, now = NOW) =>
    (await TokenSigner.fromJwk(jwk)).sign(claims, { expiresInSeconds: seconds, now });

  it('lets a service key sign its own service with its own scopes, once per jti', async () => {
    const verifier = await make();
    const token = await sign(render, renderClaims());
    expect((await verifier.verify(token, { now: NOW })).sub).toBe('service:render');
    expect(await refusal(verifier.verify(token, { now: NOW + 1 }))).toEqual([
      TokenErrorCode.REPLAYED,
      'token was already used',
    ]);
    const fresh = await sign(render, renderClaims({ scope: 'secrets:resolve secrets:resolve-current' }));
    await expect(verifier.verify(fresh, { now: NOW + 1 })).resolves.toBeDefined();
  });

  it('refuses a service key signing a user, another service or scopes beyond its own', async () => {
    const verifier = await make();
    const cases: Array<[Record<string, unknown>, Record<string, unknown>, string]> = [
      [render, { ...user, jti: randomUUID() }, 'token key signs only service:render'],
      [render, renderClaims({ sub: 'service:redaction', org: 'redaction' }), 'token key signs only service:render'],
      [render, renderClaims({ org: 'acme' }), 'token key signs only service:render'],
      [
        render,
        renderClaims({ scope: 'secrets:resolve render:any' }),
        "token key may not sign scopes beyond service:render's own",
      ],
      [
        audit,
        renderClaims({ sub: 'service:audit', org: 'audit' }),
        "token key may not sign scopes beyond service:audit's own",
      ],
      [audit, renderClaims(), 'token key signs only service:audit'],
    ];
    for (const [key, claims, message] of cases) {
      expect(await refusal(verifier.verify(await sign(key, claims), { now: NOW }))).toEqual([
        TokenErrorCode.KEY_POLICY,
        message,
      ]);
    }
  });

  it('refuses a service key naming no platform service, and a "signs" member it cannot read', async () => {
    const stray = ecKey('stray-1', 'service:billing');
    const verifier = await TokenVerifier.fromJwks({ keys: [publicHalf(stray)] }, { policy: POLICY });
    const token = await sign(stray, renderClaims({ sub: 'service:billing', org: 'billing', scope: '' }));
    expect(await refusal(verifier.verify(token, { now: NOW }))).toEqual([
      TokenErrorCode.KEY_POLICY,
      'token key names no platform service',
    ]);
    for (const signs of ['everyone', 'service:', 42]) {
      const [code, message] = await refusal(
        TokenVerifier.fromJwks({ keys: [{ ...publicHalf(render), signs }] }, { policy: POLICY }),
      );
      expect([code, message]).toEqual([
        TokenErrorCode.BAD_KEY_MATERIAL,
        'key "render-1": member "signs" must be "users", "clients" or "service:<name>"',
      ]);
    }
  });

  it('requires a jti and exactly one audience on platform service tokens', async () => {
    const verifier = await make();
    const { jti: _jti, ...noJti } = renderClaims();
    expect(await refusal(verifier.verify(await sign(render, noJti), { now: NOW }))).toEqual([
      TokenErrorCode.MISSING_CLAIM,
      'service token has no "jti" claim',
    ]);
    const short = await sign(render, renderClaims({ jti: 'abc' }));
    expect((await refusal(verifier.verify(short, { now: NOW })))[0]).toBe(TokenErrorCode.MALFORMED);
    const many = await sign(render, renderClaims({ aud: ['secrets', 'audit'] }));
    expect(await refusal(verifier.verify(many, { now: NOW }))).toEqual([
      TokenErrorCode.WRONG_AUDIENCE,
      'a platform service token must name exactly one audience',
    ]);
    const elsewhere = await sign(render, renderClaims({ aud: 'render' }));
    expect((await refusal(verifier.verify(elsewhere, { now: NOW })))[0]).toBe(TokenErrorCode.WRONG_AUDIENCE);
  });

  it('never lets a user key, or a key without a policy, sign a service principal', async () => {
    const verifier = await make();
    for (const key of [users, legacy]) {
      await expect(verifier.verify(await sign(key, user), { now: NOW })).resolves.toBeDefined();
      for (const claims of [renderClaims(), { ...user, sub: 'service:render' }]) {
        expect(await refusal(verifier.verify(await sign(key, claims), { now: NOW }))).toEqual([
          TokenErrorCode.KEY_POLICY,
          'token key signs users only, not service principals',
        ]);
      }
    }
  });

  it('lets a clients key sign reusable service principals, and nothing else', async () => {
    const verifier = await make();
    const deployer = { ...renderClaims(), sub: 'service:deployer', org: 'deployer', scope: 'render:any' };
    const token = await sign(clients, deployer);
    await verifier.verify(token, { now: NOW });
    await expect(verifier.verify(token, { now: NOW + 1 })).resolves.toBeDefined();
    expect(await refusal(verifier.verify(await sign(clients, user), { now: NOW }))).toEqual([
      TokenErrorCode.KEY_POLICY,
      'token key signs service principals "service:<name>" only',
    ]);
    for (const claims of [renderClaims(), { ...deployer, org: 'render' }, { ...deployer, sub: 'service:audit' }]) {
      expect(await refusal(verifier.verify(await sign(clients, claims), { now: NOW }))).toEqual([
        TokenErrorCode.KEY_POLICY,
        'token key may not sign a platform service ("service:<name>" is its own key\'s)',
      ]);
    }
  });

  it('requires an iss among the configured issuers', async () => {
    const verifier = await make();
    const { iss: _iss, ...noIss } = user;
    expect(await refusal(verifier.verify(await sign(users, noIss), { now: NOW }))).toEqual([
      TokenErrorCode.MISSING_CLAIM,
      'token has no "iss" claim',
    ]);
    for (const iss of ['https://evil.example.com', 7]) {
      expect(await refusal(verifier.verify(await sign(users, { ...user, iss }), { now: NOW }))).toEqual([
        TokenErrorCode.WRONG_ISSUER,
        'token issuer is not trusted',
      ]);
    }
    const other = await sign(users, { ...user, iss: 'https://idp.example.com' });
    await expect(verifier.verify(other, { now: NOW })).resolves.toBeDefined();
  });

  it('caps exp - iat: 12 h for users, 5 min for service principals; iat is required and not in the future', async () => {
    const verifier = await make();
    await expect(verifier.verify(await sign(users, user, 43_200), { now: NOW })).resolves.toBeDefined();
    expect(await refusal(verifier.verify(await sign(users, user, 43_201), { now: NOW }))).toEqual([
      TokenErrorCode.LIFETIME_TOO_LONG,
      'token lifetime (exp - iat) exceeds 43200 seconds',
    ]);
    await expect(verifier.verify(await sign(render, renderClaims(), 300), { now: NOW })).resolves.toBeDefined();
    for (const key of [render, clients]) {
      const claims = key === render ? renderClaims() : { ...renderClaims(), sub: 'service:ci', org: 'ci' };
      expect(await refusal(verifier.verify(await sign(key, claims, 301), { now: NOW }))).toEqual([
        TokenErrorCode.LIFETIME_TOO_LONG,
        'token lifetime (exp - iat) exceeds 300 seconds',
      ]);
    }
    const future = await sign(users, user, 60, NOW + 120);
    expect(await refusal(verifier.verify(future, { now: NOW }))).toEqual([
      TokenErrorCode.NOT_YET_VALID,
      'token "iat" is in the future',
    ]);
  });

  it('forgets single-use tokens once expired, and refuses new ones (retryable) when full of live ones', async () => {
    const verifier = await make({ replayCacheSize: 2 });
    await verifier.verify(await sign(render, renderClaims()), { now: NOW });
    await verifier.verify(await sign(render, renderClaims()), { now: NOW });
    const third = await sign(render, renderClaims());
    expect(await refusal(verifier.verify(third, { now: NOW }))).toEqual([
      TokenErrorCode.REPLAY_CACHE_FULL,
      'too many single-use tokens in flight; retry later',
    ]);
    const later = NOW + 60 + 61;
    await expect(verifier.verify(await sign(render, renderClaims(), 60, later), { now: later })).resolves.toBeDefined();
  });

  it('stops verifying a key removed by a reload, even for a token it verified before', async () => {
    const verifier = await make();
    const token = await sign(users, user, 3600);
    await verifier.verify(token, { now: NOW });
    await verifier.replaceKeys({ keys: [publicHalf(render)] });
    expect(await refusal(verifier.verify(token, { now: NOW + 1 }))).toEqual([
      TokenErrorCode.KEY_NOT_FOUND,
      'token "kid" names no known key',
    ]);
    expect(verifier.trustedKeys).toEqual([{ kid: 'render-1', signs: 'service:render' }]);
    const [code] = await refusal(verifier.replaceKeys({ keys: [] }));
    expect(code).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    expect(verifier.trustedKeys).toEqual([{ kid: 'render-1', signs: 'service:render' }]);
  });

  it('refuses oct keys when asked to (production), at import and at every reload', async () => {
    const oct = { kty: 'oct', kid: 'idp-hs', k: randomBytes(32).toString('base64url') };
    expect(
      await refusal(TokenVerifier.fromJwks({ keys: [oct] }, { policy: POLICY, refuseSymmetricKeys: true })),
    ).toEqual([TokenErrorCode.BAD_KEY_MATERIAL, 'key "idp-hs": oct (HS256) keys are refused when NODE_ENV=production']);
    expect(await refusal(TokenSigner.fromJwk(oct, { refuseSymmetricKeys: true }))).toEqual([
      TokenErrorCode.BAD_KEY_MATERIAL,
      'signing key: oct (HS256) keys are refused when NODE_ENV=production',
    ]);
    const strict = await make({ refuseSymmetricKeys: true });
    expect((await refusal(strict.replaceKeys({ keys: [oct] })))[0]).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    await expect(TokenVerifier.fromJwks({ keys: [oct] }, { policy: POLICY })).resolves.toBeDefined();
  });
});
