import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { JWE, JWK } from 'node-jose';
import { CryptoError, CryptoErrorCode, decryptWithReplyKey, encryptForReplyKey, generateReplyKeyPair } from './index';
import { ReplyEncrypter } from './reply-cipher';

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

  it('reuses one ephemeral key per reply key for its time-to-live, then takes a new one', async () => {
    let now = 1_000;
    const encrypter = new ReplyEncrypter({ ttlMs: 60_000, clock: () => now });
    const render = await generateReplyKeyPair();
    const redaction = await generateReplyKeyPair();
    const first = encrypter.encrypt(render.publicJwk, PAYLOAD);
    now += 59_999;
    const second = encrypter.encrypt(render.publicJwk, PAYLOAD);
    expect(headerOf(second).epk).toEqual(headerOf(first).epk);
    // A fresh IV per message: the same payload never gives the same ciphertext.
    expect(second.split('.').slice(2)).not.toEqual(first.split('.').slice(2));
    expect(headerOf(encrypter.encrypt(redaction.publicJwk, PAYLOAD)).epk).not.toEqual(headerOf(first).epk);
    now += 1;
    const afterExpiry = encrypter.encrypt(render.publicJwk, PAYLOAD);
    expect(headerOf(afterExpiry).epk).not.toEqual(headerOf(first).epk);
    for (const jwe of [first, second, afterExpiry]) {
      expect(await decryptWithReplyKey(render.privateKey, jwe)).toEqual(PAYLOAD);
    }
  });

  it('takes a new ephemeral key for every reply when reuse is off', async () => {
    const encrypter = new ReplyEncrypter({ ttlMs: 0 });
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    const [a, b] = [encrypter.encrypt(publicJwk, PAYLOAD), encrypter.encrypt(publicJwk, PAYLOAD)];
    expect(headerOf(a).epk).not.toEqual(headerOf(b).epk);
    expect([await decryptWithReplyKey(privateKey, a), await decryptWithReplyKey(privateKey, b)]).toEqual([
      PAYLOAD,
      PAYLOAD,
    ]);
  });

  it('decrypts replies under a remembered agreement, and after it expired', async () => {
    let now = 5_000;
    const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs: 1_000, clock: () => now });
    const encrypter = new ReplyEncrypter({ ttlMs: 60_000, clock: () => now });
    const payloads = [1, 2, 3].map((version) => ({ values: { API_KEY: { value: `v${version}`, version } } }));
    for (const payload of payloads) {
      expect(await decryptWithReplyKey(privateKey, encrypter.encrypt(publicJwk, payload))).toEqual(payload);
    }
    now += 1_000;
    expect(await decryptWithReplyKey(privateKey, encrypter.encrypt(publicJwk, PAYLOAD))).toEqual(PAYLOAD);
  });

  it('refuses tampered replies and replies for another key under a remembered agreement', async () => {
    const encrypter = new ReplyEncrypter();
    const mine = await generateReplyKeyPair();
    const other = await generateReplyKeyPair();
    expect(await decryptWithReplyKey(mine.privateKey, encrypter.encrypt(mine.publicJwk, PAYLOAD))).toEqual(PAYLOAD);
    const parts = encrypter.encrypt(mine.publicJwk, PAYLOAD).split('.');
    const tamper = (index: number) => {
      const copy = [...parts];
      const bytes = Buffer.from(copy[index], 'base64url');
      bytes[0] ^= 1;
      copy[index] = bytes.toString('base64url');
      return copy.join('.');
    };
    for (const tampered of [tamper(2), tamper(3), tamper(4)]) {
      expect((await refusal(decryptWithReplyKey(mine.privateKey, tampered))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
    }
    expect((await refusal(decryptWithReplyKey(mine.privateKey, [...parts.slice(0, 4), 'AAAA'].join('.')))).code).toBe(
      CryptoErrorCode.MALFORMED_CIPHERTEXT,
    );
    // The other key's holder sees the same protected header but has never agreed on it.
    expect((await refusal(decryptWithReplyKey(other.privateKey, parts.join('.')))).code).toBe(
      CryptoErrorCode.DECRYPT_FAILED,
    );
  });

  it('a reply key does not remember a header whose message failed authentication', async () => {
    const encrypter = new ReplyEncrypter();
    const mine = await generateReplyKeyPair();
    const other = await generateReplyKeyPair();
    // Encrypted to another key: the agreement this key derives from the header is not the sender's.
    const foreign = encrypter.encrypt(other.publicJwk, PAYLOAD);
    expect((await refusal(decryptWithReplyKey(mine.privateKey, foreign))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
    expect((await refusal(decryptWithReplyKey(mine.privateKey, foreign))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
    expect(await decryptWithReplyKey(other.privateKey, foreign)).toEqual(PAYLOAD);
  });

  it('node-jose decrypts our replies', async () => {
    const recipient = await JWK.createKey('EC', 'P-256', {});
    const jwe = await encryptForReplyKey(recipient.toJSON(), PAYLOAD);
    const result = await JWE.createDecrypt(recipient).decrypt(jwe);
    expect(JSON.parse(result.plaintext.toString('utf8'))).toEqual(PAYLOAD);
  });

  it('node-jose decrypts our replies that share an ephemeral key', async () => {
    const recipient = await JWK.createKey('EC', 'P-256', {});
    const encrypter = new ReplyEncrypter();
    const replies = [encrypter.encrypt(recipient.toJSON(), PAYLOAD), encrypter.encrypt(recipient.toJSON(), { n: 2 })];
    expect(headerOf(replies[1]).epk).toEqual(headerOf(replies[0]).epk);
    const opened = await Promise.all(replies.map((jwe) => JWE.createDecrypt(recipient).decrypt(jwe)));
    expect(opened.map((result) => JSON.parse(result.plaintext.toString('utf8')) as unknown)).toEqual([
      PAYLOAD,
      { n: 2 },
    ]);
  });

  it('we decrypt node-jose replies that reuse one ephemeral key', async () => {
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    const key = await JWK.asKey(publicJwk);
    const epk = await JWK.createKey('EC', 'P-256', {});
    const replies: string[] = [];
    for (const payload of [PAYLOAD, { n: 2 }, { n: 3 }]) {
      const options = { format: 'compact' as const, fields: { alg: 'ECDH-ES', enc: 'A256GCM' } };
      const recipient = { key, epk: epk.toJSON(true) } as unknown as JWK.Key;
      replies.push(
        (await JWE.createEncrypt(options, recipient)
          .update(Buffer.from(JSON.stringify(payload)))
          .final()) as string,
      );
    }
    expect(new Set(replies.map((jwe) => jwe.split('.')[0])).size).toBe(1);
    for (const [index, payload] of [PAYLOAD, { n: 2 }, { n: 3 }].entries()) {
      expect(await decryptWithReplyKey(privateKey, replies[index])).toEqual(payload);
    }
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
