import { randomBytes } from 'node:crypto';
import { JWK } from 'node-jose';
import { CryptoError, CryptoErrorCode, MasterKeyRing } from './index';

const masterJwk = (kid: string, k = randomBytes(32).toString('base64url')) => ({ kty: 'oct', kid, k });

async function refusal(promise: Promise<unknown>): Promise<CryptoError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    return error as CryptoError;
  }
  throw new Error('expected a CryptoError');
}

describe('MasterKeyRing', () => {
  it('wraps under the first key of the JWKS and unwraps under any configured one', async () => {
    const ring = await MasterKeyRing.fromJwks({ keys: [masterJwk('m2'), masterJwk('m1')] });
    expect(ring.activeKid).toBe('m2');
    expect(ring.kids).toEqual(['m2', 'm1']);
    const dataKey = randomBytes(32);
    const wrapped = await ring.wrap(dataKey);
    expect(wrapped.masterKid).toBe('m2');
    expect(Buffer.from(wrapped.wrapped, 'base64url')).toHaveLength(40);
    expect(await ring.unwrap(wrapped.masterKid, wrapped.wrapped)).toEqual(dataKey);
    const impostor = await MasterKeyRing.fromJwks({ keys: [masterJwk('m1')] }); // same kid, other key bytes
    const fromImpostor = await impostor.wrap(dataKey);
    expect((await refusal(ring.unwrap('m1', fromImpostor.wrapped))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
  });

  it('matches the RFC 3394 §4.6 test vector (256-bit key data with a 256-bit KEK)', async () => {
    const kek = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex');
    const ring = await MasterKeyRing.fromJwks({ keys: [masterJwk('rfc', kek.toString('base64url'))] });
    const keyData = Buffer.from('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F', 'hex');
    const expected = '28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21';
    const { wrapped } = await ring.wrap(keyData);
    expect(Buffer.from(wrapped, 'base64url').toString('hex').toUpperCase()).toBe(expected);
  });

  it('is byte-compatible with node-jose A256KW in both directions', async () => {
    const jwk = masterJwk('m1');
    const ring = await MasterKeyRing.fromJwks({ keys: [jwk] });
    // node-jose keys have wrap/unwrap at runtime; @types/node-jose does not declare them.
    const joseKey = (await JWK.asKey({ ...jwk, alg: 'A256KW' })) as unknown as {
      wrap(alg: string, data: Buffer): Promise<{ data: Buffer }>;
      unwrap(alg: string, data: Buffer): Promise<Buffer>;
    };
    const dataKey = randomBytes(32);
    const ours = await ring.wrap(dataKey);
    const theirs = await joseKey.wrap('A256KW', dataKey);
    expect(ours.wrapped).toBe(theirs.data.toString('base64url'));
    const unwrapped = await joseKey.unwrap('A256KW', Buffer.from(ours.wrapped, 'base64url'));
    expect(Buffer.from(unwrapped)).toEqual(dataKey);
  });

  it('refuses an unknown master kid and a tampered wrapping', async () => {
    const ring = await MasterKeyRing.fromJwks({ keys: [masterJwk('m1')] });
    const { wrapped } = await ring.wrap(randomBytes(32));
    const unknown = await refusal(ring.unwrap('m9', wrapped));
    expect([unknown.code, unknown.message]).toEqual([
      CryptoErrorCode.MASTER_KEY_NOT_FOUND,
      'master key "m9" is not configured',
    ]);
    const bytes = Buffer.from(wrapped, 'base64url');
    bytes[7] ^= 1;
    expect((await refusal(ring.unwrap('m1', bytes.toString('base64url')))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
    expect((await refusal(ring.unwrap('m1', 'short'))).code).toBe(CryptoErrorCode.BAD_KEY_MATERIAL);
    expect((await refusal(ring.wrap(randomBytes(16)))).code).toBe(CryptoErrorCode.BAD_KEY_MATERIAL);
  });

  it('refuses master key sets that are not 256-bit oct keys with unique kids, without quoting key bytes', async () => {
    const k128 = randomBytes(16).toString('base64url');
    const cases: Array<[unknown, string]> = [
      [{}, 'master keys must be a JWKS with at least one key'],
      [{ keys: [] }, 'master keys must be a JWKS with at least one key'],
      [{ keys: [{ kty: 'oct', k: k128 }] }, 'master key #0 must be a JWK with a "kid"'],
      [{ keys: [masterJwk('a', k128)] }, 'master key "a" must be 256 bits'],
      [{ keys: [{ ...masterJwk('a'), kty: 'RSA' }] }, 'master key "a" must be an "oct" key'],
      [{ keys: [{ ...masterJwk('a'), alg: 'A128KW' }] }, 'master key "a" must be for A256KW'],
      [{ keys: [masterJwk('a'), masterJwk('a')] }, 'master key "a" appears twice'],
    ];
    for (const [jwks, message] of cases) {
      const error = await refusal(MasterKeyRing.fromJwks(jwks));
      expect([error.code, error.message]).toEqual([CryptoErrorCode.BAD_KEY_MATERIAL, message]);
      expect(error.message).not.toContain(k128);
    }
  });
});
