import { CryptoError, ReplyRefusedError, generateReplyKeyPair, replyKeyThumbprint } from '@platform/crypto';
import { type FakeResolveAnswer, fakeSecretsResolve, replySigningKeyPair } from '@platform/testing';
import { type ReplyKeyPair, resolveSealed } from './sealed-resolve';

const pinned = replySigningKeyPair('reply-1');
const PAYLOAD = { values: { API_KEY: { value: 'the-value', version: 1, scope: 'vendor' } } };
const scope = { organizationId: 'acme', customerOrganizationId: 'globex' };

async function replyKey(): Promise<ReplyKeyPair> {
  const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs: 0 });
  return { publicJwk, privateKey, thumbprint: replyKeyThumbprint(publicJwk) };
}

/** resolveSealed of every key against a secrets service answering PAYLOAD as `answer` says. */
async function resolveAnswered(answer: FakeResolveAnswer): Promise<unknown> {
  const { client } = fakeSecretsResolve(PAYLOAD, answer);
  return resolveSealed(client, pinned.verifier, { scope, replyKey: await replyKey(), fields: {}, timeoutMs: 1000 });
}

describe('resolveSealed', () => {
  it('sends the scope, the fields, the reply key and a fresh nonce, and decrypts a reply signed for them', async () => {
    const { client, calls } = fakeSecretsResolve(PAYLOAD, { signer: pinned.signer });
    const key = await replyKey();
    const resolve = { scope, replyKey: key, fields: { keys: ['API_KEY'], pins: { API_KEY: 1 } }, timeoutMs: 1000 };
    expect(await resolveSealed(client, pinned.verifier, resolve)).toEqual(PAYLOAD);
    expect(await resolveSealed(client, pinned.verifier, resolve)).toEqual(PAYLOAD);
    const [first, second] = calls;
    expect(first.body).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      keys: ['API_KEY'],
      pins: { API_KEY: 1 },
      replyKey: key.publicJwk,
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22,128}$/),
    });
    expect(first.options.claims).toEqual({ cnf: { jkt: key.thumbprint } });
    expect(second.body.nonce).not.toEqual(first.body.nonce);
  });

  it('names no customer for the vendor level, and adds the extra claims and headers to the call', async () => {
    const { client, calls } = fakeSecretsResolve(PAYLOAD, { signer: pinned.signer });
    const key = await replyKey();
    const headers = new Map([['On-Behalf-Of', 'Bearer token']]);
    await resolveSealed(client, pinned.verifier, {
      scope: { organizationId: 'acme', customerOrganizationId: null },
      replyKey: key,
      fields: { keys: [], includeHistory: true },
      timeoutMs: 1000,
      claims: { obo: 'digest' },
      headers,
    });
    expect(calls[0].body).not.toHaveProperty('customerOrganizationId');
    expect(calls[0].options).toMatchObject({ claims: { cnf: { jkt: key.thumbprint }, obo: 'digest' }, headers });
  });

  it('refuses a reply signed by a key that is not pinned, and returns nothing from it', async () => {
    const resolved = resolveAnswered({ signer: replySigningKeyPair('reply-1').signer });
    await expect(resolved).rejects.toThrow(ReplyRefusedError);
    await expect(resolved).rejects.toMatchObject({ reason: 'signature' });
  });

  it('throws a CryptoError, not a refusal, for a signed reply that will not decrypt', async () => {
    const resolved = resolveAnswered({ signer: pinned.signer, ciphertext: 'not-a-jwe' });
    await expect(resolved).rejects.toThrow(CryptoError);
    await expect(resolved).rejects.not.toThrow(ReplyRefusedError);
  });
});
