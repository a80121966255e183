import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { JWK, JWS } from 'node-jose';
import { isDevKeyMaterial, TokenError, TokenErrorCode, TokenSigner, TokenVerifier, type TokenPolicy } from './index';

const NOW = 1_800_000_000;

const POLICY: TokenPolicy = {
  audience: 'secrets',
  issuers: ['secrets-platform'],
  serviceScopes: new Map([['render', ['secrets:resolve']]]),
  maxUserLifetimeSeconds: 43_200,
  maxServiceLifetimeSeconds: 300,
};

/** The claims every platform token needs besides iat and exp. */
const base = { iss: 'secrets-platform', aud: 'secrets' };

function octJwk(kid: string): Record<string, unknown> {
  return { kty: 'oct', kid, k: randomBytes(32).toString('base64url') };
}

function ecJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid };
}

function rsaJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid };
}

function publicHalf(jwk: Record<string, unknown>): Record<string, unknown> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk;
  return rest;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Hand-made HS256 token, for headers a well-behaved signer would never produce. */
function hs256Token(header: Record<string, unknown>, claims: Record<string, unknown>, secret: Buffer): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function refusal(promise: Promise<unknown>): Promise<TokenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    return error as TokenError;
  }
  throw new Error('expected the token to be refused');
}

describe('platform tokens', () => {
  const hs = octJwk('dev-hs256');
  const es = ecJwk('svc-es');
  const rs = rsaJwk('idp-rs');
  const hsSecret = Buffer.from(hs.k as string, 'base64url');
  let verifier: TokenVerifier;

  beforeAll(async () => {
    verifier = await TokenVerifier.fromJwks({ keys: [hs, publicHalf(es), publicHalf(rs)] }, { policy: POLICY });
  });

  it.each([
    ['HS256', hs],
    ['ES256', es],
    ['RS256', rs],
  ])('signs with %s picked from the key and verifies the claims back', async (alg, jwk) => {
    const signer = await TokenSigner.fromJwk(jwk);
    const token = await signer.sign({ ...base, sub: 'alice', org: 'acme' }, { expiresInSeconds: 300, now: NOW });
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
    expect(header).toEqual({ alg, kid: jwk.kid, typ: 'JWT' });
    const claims = await verifier.verify(token, { now: NOW + 10 });
    expect(claims).toEqual({ ...base, sub: 'alice', org: 'acme', iat: NOW, exp: NOW + 300 });
    expect(Object.isFrozen(claims)).toBe(true);
  });

  it('accepts a user token naming several audiences, this callee among them', async () => {
    const signer = await TokenSigner.fromJwk(hs);
    const aud = ['render', 'secrets'];
    const token = await signer.sign({ ...base, aud }, { expiresInSeconds: 60, now: NOW });
    expect((await verifier.verify(token, { now: NOW })).aud).toEqual(aud);
  });

  it('verifies tokens signed by node-jose directly, and without a kid by trying keys of the fitting type', async () => {
    const key = await JWK.asKey(es);
    const claims = JSON.stringify({ ...base, sub: 'svc', iat: NOW, exp: NOW + 60 });
    const token = (await JWS.createSign({ format: 'compact', fields: { alg: 'ES256', kid: undefined } }, key)
      .update(claims)
      .final()) as unknown as string;
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).not.toHaveProperty('kid');
    expect((await verifier.verify(token, { now: NOW })).sub).toBe('svc');
  });

  it.each([
    ['HS256', hs],
    ['ES256', es],
    ['RS256', rs],
  ])('signs %s tokens that node-jose verifies', async (alg, jwk) => {
    const token = await (await TokenSigner.fromJwk(jwk)).sign(base, { expiresInSeconds: 60, now: NOW });
    const key = await JWK.asKey(alg === 'HS256' ? jwk : publicHalf(jwk));
    const verified = await JWS.createVerify(key, { algorithms: [alg] }).verify(token);
    expect(JSON.parse(verified.payload.toString())).toEqual({ ...base, iat: NOW, exp: NOW + 60 });
  });

  it('refuses a header with critical extensions it does not know', async () => {
    const token = hs256Token(
      { alg: 'HS256', kid: 'dev-hs256', crit: ['b64'], b64: false },
      { ...base, iat: NOW, exp: NOW + 60 },
      hsSecret,
    );
    const error = await refusal(verifier.verify(token, { now: NOW }));
    expect([error.code, error.message]).toEqual([
      TokenErrorCode.MALFORMED,
      'token header "crit" names extensions this verifier does not know',
    ]);
  });

  it('refuses an ES256 signature of the wrong length or encoding', async () => {
    const token = await (await TokenSigner.fromJwk(es)).sign(base, { expiresInSeconds: 60, now: NOW });
    const [header, payload, signature] = token.split('.');
    const der = `${signature}AA`;
    for (const forged of [
      `${header}.${payload}.${der}`,
      `${header}.${payload}.`,
      `${header}.${payload}.${signature}=`,
    ]) {
      expect((await refusal(verifier.verify(forged, { now: NOW }))).code).toBe(TokenErrorCode.BAD_SIGNATURE);
    }
  });

  it('refuses alg none', async () => {
    const token = `${b64({ alg: 'none', kid: 'dev-hs256' })}.${b64({ ...base, iat: NOW, exp: NOW + 60 })}.`;
    const error = await refusal(verifier.verify(token, { now: NOW }));
    expect(error.code).toBe(TokenErrorCode.ALGORITHM_NOT_ALLOWED);
    expect(error.message).toBe('token algorithm is not one of HS256, ES256, RS256');
  });

  it('refuses algorithms outside the allowed three even when the key type fits', async () => {
    const token = hs256Token({ alg: 'HS512', kid: 'dev-hs256' }, { ...base, iat: NOW, exp: NOW + 60 }, hsSecret);
    expect((await refusal(verifier.verify(token, { now: NOW }))).code).toBe(TokenErrorCode.ALGORITHM_NOT_ALLOWED);
  });

  it('refuses an HS256 header naming an RSA key (the public key is not an HMAC secret)', async () => {
    const rsaPublicPem = Buffer.from(JSON.stringify(publicHalf(rs)));
    const token = hs256Token({ alg: 'HS256', kid: 'idp-rs' }, { ...base, iat: NOW, exp: NOW + 60 }, rsaPublicPem);
    const error = await refusal(verifier.verify(token, { now: NOW }));
    expect(error.code).toBe(TokenErrorCode.ALGORITHM_NOT_ALLOWED);
    expect(error.message).toBe('token algorithm HS256 does not fit the key it names');
  });

  it('refuses an RS256 header naming an oct key', async () => {
    const signer = await TokenSigner.fromJwk(rs);
    const token = await signer.sign(base, { expiresInSeconds: 60, now: NOW });
    const [, payload, signature] = token.split('.');
    const forged = `${b64({ alg: 'RS256', kid: 'dev-hs256' })}.${payload}.${signature}`;
    expect((await refusal(verifier.verify(forged, { now: NOW }))).code).toBe(TokenErrorCode.ALGORITHM_NOT_ALLOWED);
  });

  it('refuses an unknown kid, and an algorithm with no key of its type when there is no kid', async () => {
    const stranger = await TokenSigner.fromJwk(octJwk('someone-else'));
    const token = await stranger.sign(base, { expiresInSeconds: 60, now: NOW });
    const error = await refusal(verifier.verify(token, { now: NOW }));
    expect(error.code).toBe(TokenErrorCode.KEY_NOT_FOUND);
    expect(error.message).toBe('token "kid" names no known key');
    const hsOnly = await TokenVerifier.fromJwks({ keys: [hs] }, { policy: POLICY });
    const esToken = await (await TokenSigner.fromJwk(es)).sign(base, { expiresInSeconds: 60, now: NOW });
    const [, payload, signature] = esToken.split('.');
    const withoutKid = `${b64({ alg: 'ES256' })}.${payload}.${signature}`;
    expect((await refusal(hsOnly.verify(withoutKid, { now: NOW }))).code).toBe(TokenErrorCode.KEY_NOT_FOUND);
  });

  it('refuses a bad signature: a tampered payload and a key of the same kid that is not ours', async () => {
    const signer = await TokenSigner.fromJwk(hs);
    const token = await signer.sign({ ...base, role: 'read_only' }, { expiresInSeconds: 60, now: NOW });
    const [header, , signature] = token.split('.');
    const tampered = `${header}.${b64({ ...base, role: 'admin', iat: NOW, exp: NOW + 60 })}.${signature}`;
    const error = await refusal(verifier.verify(tampered, { now: NOW }));
    expect(error.code).toBe(TokenErrorCode.BAD_SIGNATURE);
    expect(error.message).toBe('token signature does not verify');
    const impostor = await TokenSigner.fromJwk(ecJwk('svc-es'));
    const forged = await impostor.sign(base, { expiresInSeconds: 60, now: NOW });
    expect((await refusal(verifier.verify(forged, { now: NOW }))).code).toBe(TokenErrorCode.BAD_SIGNATURE);
  });

  it('requires exp and honours 60 s of leeway on exp and nbf', async () => {
    const noExp = hs256Token({ alg: 'HS256', kid: 'dev-hs256' }, { ...base, iat: NOW }, hsSecret);
    const missing = await refusal(verifier.verify(noExp, { now: NOW }));
    expect([missing.code, missing.message]).toEqual([TokenErrorCode.MISSING_CLAIM, 'token has no "exp" claim']);

    const signer = await TokenSigner.fromJwk(hs);
    const token = await signer.sign(base, { expiresInSeconds: 100, now: NOW });
    await expect(verifier.verify(token, { now: NOW + 159 })).resolves.toBeDefined();
    const expired = await refusal(verifier.verify(token, { now: NOW + 160 }));
    expect([expired.code, expired.message]).toEqual([TokenErrorCode.EXPIRED, 'token has expired']);

    const early = hs256Token(
      { alg: 'HS256', kid: 'dev-hs256' },
      { ...base, iat: NOW, exp: NOW + 600, nbf: NOW + 100 },
      hsSecret,
    );
    const notYet = await refusal(verifier.verify(early, { now: NOW }));
    expect([notYet.code, notYet.message]).toEqual([TokenErrorCode.NOT_YET_VALID, 'token is not valid yet']);
    await expect(verifier.verify(early, { now: NOW + 40 })).resolves.toBeDefined();
  });

  it('re-checks the clock for a remembered token', async () => {
    const signer = await TokenSigner.fromJwk(hs);
    const token = await signer.sign(base, { expiresInSeconds: 30, now: NOW });
    await verifier.verify(token, { now: NOW });
    expect((await refusal(verifier.verify(token, { now: NOW + 90 }))).code).toBe(TokenErrorCode.EXPIRED);
  });

  it('refuses a token for another callee, as a string or an array, and the old platform-wide audience', async () => {
    const signer = await TokenSigner.fromJwk(hs);
    for (const aud of ['render', ['render', 'audit'], 'secrets-platform']) {
      const token = await signer.sign({ ...base, aud }, { expiresInSeconds: 60, now: NOW });
      const error = await refusal(verifier.verify(token, { now: NOW }));
      expect([error.code, error.message]).toEqual([
        TokenErrorCode.WRONG_AUDIENCE,
        'token audience does not include secrets',
      ]);
    }
    const noAud = hs256Token({ alg: 'HS256', kid: 'dev-hs256' }, { iss: base.iss, iat: NOW, exp: NOW + 60 }, hsSecret);
    expect((await refusal(verifier.verify(noAud, { now: NOW }))).code).toBe(TokenErrorCode.MISSING_CLAIM);
  });

  it('refuses malformed tokens without quoting them', async () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', '!!!.e30.sig', `${b64({ alg: 'HS256' })}.bm90IGpzb24.x`]) {
      const error = await refusal(verifier.verify(token, { now: NOW }));
      expect(error.code).toBe(TokenErrorCode.MALFORMED);
      if (token.length > 3) expect(error.message).not.toContain(token);
    }
  });

  it('never puts the token into any refusal message', async () => {
    const signer = await TokenSigner.fromJwk(hs);
    const token = await signer.sign({ ...base, aud: 'billing' }, { expiresInSeconds: 60, now: NOW });
    const messages = await Promise.all(
      [NOW, NOW + 1000].map(async (now) => (await refusal(verifier.verify(token, { now }))).message),
    );
    for (const message of messages) {
      for (const part of token.split('.')) expect(message).not.toContain(part);
    }
  });

  it('refuses unusable key material with a configuration error', async () => {
    const bad = async (jwks: unknown) => (await refusal(TokenVerifier.fromJwks(jwks, { policy: POLICY }))).code;
    expect(await bad({})).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    expect(await bad({ keys: [] })).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    expect(await bad({ keys: [{ kty: 'oct', kid: 'short', k: 'c2hvcnQ' }] })).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    expect(await bad({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }] })).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    expect(await bad({ keys: [weakRsa] })).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    expect((await refusal(TokenSigner.fromJwk(publicHalf(es)))).code).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    expect((await refusal(TokenSigner.fromJwk({ ...hs, kid: undefined }))).code).toBe(TokenErrorCode.BAD_KEY_MATERIAL);
    const badPrivate = await refusal(TokenSigner.fromJwk({ ...es, d: 'x' }));
    expect([badPrivate.code, badPrivate.message]).toEqual([
      TokenErrorCode.BAD_KEY_MATERIAL,
      'key "svc-es": member "d" is missing or malformed',
    ]);
  });

  it('skips keys meant for other uses next to usable ones', async () => {
    const mixed = await TokenVerifier.fromJwks(
      {
        keys: [
          { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' },
          { ...hs, use: 'sig' },
        ],
      },
      { policy: POLICY },
    );
    const token = await (await TokenSigner.fromJwk(hs)).sign(base, { expiresInSeconds: 60, now: NOW });
    await expect(mixed.verify(token, { now: NOW })).resolves.toBeDefined();
  });

  it('tells dev key material by a kid starting with dev-', () => {
    expect(isDevKeyMaterial({ keys: [publicHalf(es), hs] })).toBe(true);
    expect(isDevKeyMaterial(hs)).toBe(true);
    expect(isDevKeyMaterial({ keys: [publicHalf(es)] })).toBe(false);
    expect(isDevKeyMaterial({ ...es, kid: 'developer' })).toBe(false);
    expect(isDevKeyMaterial('dev-x')).toBe(false);
  });
});
