import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JWK } from 'node-jose';
import {
  CryptoError,
  CryptoErrorCode,
  type ReplyBinding,
  ReplyRefusedError,
  ReplySigner,
  ReplyVerifier,
  REPLY_NONCE_PATTERN,
  encryptForReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from './index';

function signingKey(kid: string): { privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
  };
}

function refusal(check: () => void): ReplyRefusedError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(ReplyRefusedError);
    expect((error as CryptoError).code).toBe(CryptoErrorCode.REPLY_REFUSED);
    return error as ReplyRefusedError;
  }
  throw new Error('expected the reply to be refused');
}

describe('resolve reply signatures (encrypt-then-sign, ES256)', () => {
  const pinned = signingKey('reply-1');
  const signer = ReplySigner.fromJwk(pinned.privateJwk);
  const verifier = ReplyVerifier.fromJwks({ keys: [pinned.publicJwk] });
  let binding: ReplyBinding;
  let ciphertext: string;

  beforeAll(async () => {
    const { publicJwk } = await generateReplyKeyPair({ ttlMs: 0 });
    binding = {
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      nonce: newReplyNonce(),
      replyKeyThumbprint: replyKeyThumbprint(publicJwk),
    };
    ciphertext = await encryptForReplyKey(publicJwk, { values: {} });
  });

  it('accepts a reply signed by a pinned key for exactly this request', () => {
    const signature = signer.sign(binding, ciphertext);
    expect(() => verifier.verify(signature, ciphertext, binding)).not.toThrow();
    const header = JSON.parse(Buffer.from(signature.split('.')[0], 'base64url').toString()) as unknown;
    expect(header).toEqual({ alg: 'ES256', kid: 'reply-1', typ: 'resolve-reply+jws' });
  });

  it('accepts every key of a rotation and refuses an unpinned kid', () => {
    const next = signingKey('reply-2');
    const both = ReplyVerifier.fromJwks({ keys: [pinned.publicJwk, next.publicJwk] });
    const signature = ReplySigner.fromJwk(next.privateJwk).sign(binding, ciphertext);
    expect(() => both.verify(signature, ciphertext, binding)).not.toThrow();
    expect(refusal(() => verifier.verify(signature, ciphertext, binding)).reason).toBe('signature');
  });

  it('refuses a reply signed by another key under the pinned kid', () => {
    const forger = ReplySigner.fromJwk({ ...signingKey('reply-1').privateJwk });
    expect(refusal(() => verifier.verify(forger.sign(binding, ciphertext), ciphertext, binding)).reason).toBe(
      'signature',
    );
  });

  it.each([
    ['organization', { organizationId: 'initech' }],
    ['customer', { customerOrganizationId: null }],
    ['nonce', { nonce: newReplyNonce() }],
    ['reply_key', { replyKeyThumbprint: replyKeyThumbprint(signingKey('x').publicJwk) }],
  ] as const)('refuses a reply for another %s', (reason, change) => {
    const signature = signer.sign({ ...binding, ...change }, ciphertext);
    expect(refusal(() => verifier.verify(signature, ciphertext, binding)).reason).toBe(reason);
  });

  it('refuses a signature moved onto another ciphertext', async () => {
    const signature = signer.sign(binding, ciphertext);
    const other = await encryptForReplyKey(signingKey('y').publicJwk, { values: {} });
    expect(refusal(() => verifier.verify(signature, other, binding)).reason).toBe('ciphertext');
  });

  it('refuses tampered, unsigned and malformed signatures', () => {
    const [header, payload, sig] = signer.sign(binding, ciphertext).split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ org: 'acme' })).toString('base64url');
    const noneHeader = Buffer.from(JSON.stringify({ alg: 'none', kid: 'reply-1', typ: 'resolve-reply+jws' })).toString(
      'base64url',
    );
    expect(refusal(() => verifier.verify(`${header}.${forgedPayload}.${sig}`, ciphertext, binding)).reason).toBe(
      'signature',
    );
    expect(refusal(() => verifier.verify(`${noneHeader}.${payload}.`, ciphertext, binding)).reason).toBe('signature');
    expect(refusal(() => verifier.verify(`${header}.${payload}.AAAA`, ciphertext, binding)).reason).toBe('signature');
    for (const junk of [undefined, '', 'a.b', 42, `${header}.${payload}`]) {
      expect(refusal(() => verifier.verify(junk, ciphertext, binding)).reason).toBe('malformed');
    }
    expect(refusal(() => verifier.verify(`${header}.${payload}.${sig}`, undefined, binding)).reason).toBe('malformed');
  });

  it('refuses key material that cannot sign or verify ES256', () => {
    const { privateJwk, publicJwk } = signingKey('k');
    const bad = [
      publicJwk,
      { ...privateJwk, kid: undefined },
      { ...privateJwk, crv: 'P-384' },
      { ...privateJwk, alg: 'RS256' },
      { kty: 'oct', k: 'AAAA', kid: 'k' },
    ];
    for (const jwk of bad) expect(() => ReplySigner.fromJwk(jwk)).toThrow(CryptoError);
    expect(() => ReplyVerifier.fromJwks({ keys: [privateJwk] })).toThrow('must be public');
    expect(() => ReplyVerifier.fromJwks({ keys: [] })).toThrow(CryptoError);
    expect(() => ReplyVerifier.fromJwks({ keys: [publicJwk, publicJwk] })).toThrow('duplicate');
  });

  it('signs with the dev key that the dev JWKS pins', () => {
    const dev = (name: string) =>
      JSON.parse(readFileSync(join(__dirname, '../../../deploy/dev', name), 'utf8')) as unknown;
    const signature = ReplySigner.fromJwk(dev('reply-signing-key.json')).sign(binding, ciphertext);
    expect(() =>
      ReplyVerifier.fromJwks(dev('reply-signing-jwks.json')).verify(signature, ciphertext, binding),
    ).not.toThrow();
  });
});

describe('reply key thumbprints (RFC 7638) and nonces', () => {
  it('matches node-jose (SHA-256 by default) and ignores members outside the required set', async () => {
    const { publicJwk } = await generateReplyKeyPair({ ttlMs: 0 });
    // node-jose's typings say string; it resolves to the digest's bytes.
    const digest: unknown = await (await JWK.asKey(publicJwk)).thumbprint();
    const expected = Buffer.from(digest as Buffer).toString('base64url');
    expect(replyKeyThumbprint(publicJwk)).toBe(expected);
    expect(replyKeyThumbprint({ ...publicJwk, kid: 'extra', use: 'enc' })).toBe(expected);
  });

  it('refuses what is not a public P-256 key', () => {
    const { privateJwk, publicJwk } = signingKey('k');
    for (const jwk of [privateJwk, { ...publicJwk, crv: 'P-384' }, { ...publicJwk, x: 'short' }, null, 'key']) {
      expect(() => replyKeyThumbprint(jwk)).toThrow(CryptoError);
    }
  });

  it('makes distinct 128-bit nonces that pass the request pattern', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => newReplyNonce()));
    expect(nonces.size).toBe(100);
    for (const nonce of nonces) expect(nonce).toMatch(REPLY_NONCE_PATTERN);
  });
});
