import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { JWE, JWK } from 'node-jose';
import { CryptoError, CryptoErrorCode, decryptWithReplyKey, encryptForReplyKey, generateReplyKeyPair } from './index';

const PAYLOAD = { values: { API_KEY: { value: 'sk_live_51H8', version: 3, scope: 'vendor' } } };

async function refusal(promise: Promise<unknown>): Promise<CryptoError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as Error).message).not.toContain('sk_live_51H8');
    return error as CryptoError;
  }
  throw new Error('expected a CryptoError');
}

function headerOf(jwe: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwe.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
}

describe('resolve replies (ECDH-ES + A256GCM)', () => {
  it('round-trips a payload to a fresh reply key', async () => {
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    expect(Object.keys(publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    const jwe = await encryptForReplyKey(publicJwk, PAYLOAD);
    expect(jwe).not.toContain('sk_live_51H8');
    const header = headerOf(jwe);
    expect(header).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', epk: { kty: 'EC', crv: 'P-256' } });
    expect(header.epk).not.toHaveProperty('d');
    expect(await decryptWithReplyKey(privateKey, jwe)).toEqual(PAYLOAD);
  });

  it('uses a new ephemeral key per reply', async () => {
    const { publicJwk } = await generateReplyKeyPair();
    const [a, b] = [await encryptForReplyKey(publicJwk, PAYLOAD), await encryptForReplyKey(publicJwk, PAYLOAD)];
    expect(headerOf(a).epk).not.toEqual(headerOf(b).epk);
  });

  it('node-jose decrypts our replies', async () => {
    const recipient = await JWK.createKey('EC', 'P-256', {});
    const jwe = await encryptForReplyKey(recipient.toJSON(), PAYLOAD);
    const result = await JWE.createDecrypt(recipient).decrypt(jwe);
    expect(JSON.parse(result.plaintext.toString('utf8'))).toEqual(PAYLOAD);
  });

  it('we decrypt node-jose replies, with and without apu/apv', async () => {
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    const key = await JWK.asKey(publicJwk);
    for (const extra of [{}, { apu: Buffer.from('secrets').toString('base64url'), apv: 'cmVuZGVy' }]) {
      const fields = { alg: 'ECDH-ES', enc: 'A256GCM', ...extra };
      const jwe = (await JWE.createEncrypt({ format: 'compact', fields }, key)
        .update(Buffer.from(JSON.stringify(PAYLOAD)))
        .final()) as string;
      expect(headerOf(jwe)).toMatchObject(extra);
      expect(await decryptWithReplyKey(privateKey, jwe)).toEqual(PAYLOAD);
    }
  });

  it('refuses a reply for another key, and a tampered one', async () => {
    const { publicJwk } = await generateReplyKeyPair();
    const other = await generateReplyKeyPair();
    const jwe = await encryptForReplyKey(publicJwk, PAYLOAD);
    expect((await refusal(decryptWithReplyKey(other.privateKey, jwe))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
    const mine = await generateReplyKeyPair();
    const parts = (await encryptForReplyKey(mine.publicJwk, PAYLOAD)).split('.');
    const ciphertext = Buffer.from(parts[3], 'base64url');
    ciphertext[0] ^= 1;
    parts[3] = ciphertext.toString('base64url');
    expect((await refusal(decryptWithReplyKey(mine.privateKey, parts.join('.')))).code).toBe(
      CryptoErrorCode.DECRYPT_FAILED,
    );
  });

  it('refuses reply keys that are not public EC P-256 keys', async () => {
    const { publicJwk } = await generateReplyKeyPair();
    const ecPrivate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const offCurve = { ...publicJwk, y: randomBytes(32).toString('base64url') };
    for (const replyKey of [undefined, 'key', ecPrivate, p384, rsa, { ...publicJwk, x: 'AAAA' }]) {
      const error = await refusal(encryptForReplyKey(replyKey, PAYLOAD));
      expect([error.code, error.message]).toEqual([
        CryptoErrorCode.BAD_KEY_MATERIAL,
        'reply key must be a public EC P-256 JWK ({kty: "EC", crv: "P-256", x, y}, no "d")',
      ]);
      expect(error.message).not.toContain(ecPrivate.d);
    }
    const notOnCurve = await refusal(encryptForReplyKey(offCurve, PAYLOAD));
    expect([notOnCurve.code, notOnCurve.message]).toEqual([
      CryptoErrorCode.BAD_KEY_MATERIAL,
      'reply key is not a point on P-256',
    ]);
  });

  it('refuses replies that are not ECDH-ES/A256GCM JWEs', async () => {
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    const jwe = await encryptForReplyKey(publicJwk, PAYLOAD);
    const withHeader = (header: Record<string, unknown>) =>
      [Buffer.from(JSON.stringify(header)).toString('base64url'), ...jwe.split('.').slice(1)].join('.');
    const header = headerOf(jwe);
    for (const malformed of [
      'x.y',
      withHeader({ ...header, alg: 'ECDH-ES+A256KW' }),
      withHeader({ ...header, epk: { ...(header.epk as object), crv: 'P-384' } }),
      withHeader({ ...header, epk: { ...(header.epk as object), y: randomBytes(32).toString('base64url') } }),
      withHeader({ ...header, apu: '***' }),
    ]) {
      expect((await refusal(decryptWithReplyKey(privateKey, malformed))).code).toBe(
        CryptoErrorCode.MALFORMED_CIPHERTEXT,
      );
    }
  });

  it('never serializes or prints the private half', async () => {
    const { privateKey } = await generateReplyKeyPair();
    expect(JSON.stringify({ privateKey })).toBe('{"privateKey":{}}');
    expect(inspect(privateKey)).toBe('ReplyPrivateKey { <private> }');
  });
});
