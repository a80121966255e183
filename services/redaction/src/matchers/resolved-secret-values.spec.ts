import { type ReplyBinding, type ReplyRefusal, replyKeyThumbprint } from '@platform/crypto';
import { fakeSecretsResolve, replySigningKeyPair } from '@platform/testing';
import { ResolveReplyRefused, ResolvedSecretValues } from './resolved-secret-values';

const pinned = replySigningKeyPair('reply-1');
const PAYLOAD = {
  values: { API_KEY: { value: 'current-value', version: 2, scope: 'vendor' } },
  history: [{ key: 'API_KEY', value: 'earlier-value', version: 1, scope: 'vendor' }],
};

/** Redaction's values from a secrets service answering PAYLOAD, signed for the request as `forge` alters it. */
function secretsAnswering(forge?: (binding: ReplyBinding) => ReplyBinding, signer = pinned.signer) {
  const refused: ReplyRefusal[] = [];
  const { client, calls } = fakeSecretsResolve(PAYLOAD, { signer, forge });
  return {
    calls,
    refused,
    source: new ResolvedSecretValues(client, pinned.verifier, (reason) => refused.push(reason)),
  };
}

const scope = { organizationId: 'acme', customerOrganizationId: 'globex' };

describe("redaction's resolved values", () => {
  it('asks with a fresh key confirmed by its token and a fresh nonce, and uses a reply signed for it', async () => {
    const { calls, refused, source } = secretsAnswering();
    expect(await source.valuesOf(scope)).toEqual(['current-value', 'earlier-value']);
    expect(await source.valuesOf(scope)).toHaveLength(2);
    const [first, second] = calls;
    expect(first.body).toMatchObject({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      includeHistory: true,
    });
    expect(first.options.claims).toEqual({ cnf: { jkt: replyKeyThumbprint(first.body.replyKey) } });
    expect(second.body.replyKey).not.toEqual(first.body.replyKey);
    expect(second.body.nonce).not.toEqual(first.body.nonce);
    expect(refused).toEqual([]);
  });

  it.each<[ReplyRefusal, (b: ReplyBinding) => ReplyBinding]>([
    ['organization', (b) => ({ ...b, organizationId: 'initech' })],
    ['customer', (b) => ({ ...b, customerOrganizationId: null })],
    ['nonce', (b) => ({ ...b, nonce: 'A'.repeat(22) })],
  ])('refuses and counts a reply for another %s', async (reason, change) => {
    const { refused, source } = secretsAnswering(change);
    await expect(source.valuesOf(scope)).rejects.toEqual(new ResolveReplyRefused(reason));
    expect(refused).toEqual([reason]);
  });

  it('refuses and counts a reply signed by a key that is not pinned', async () => {
    const { refused, source } = secretsAnswering(undefined, replySigningKeyPair('reply-1').signer);
    await expect(source.valuesOf(scope)).rejects.toBeInstanceOf(ResolveReplyRefused);
    expect(refused).toEqual(['signature']);
  });
});
