import {
  type ReplyBinding,
  type ReplyRefusal,
  ReplyVerifier,
  encryptForReplyKey,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type ServiceClient } from '@platform/messaging';
import { replySigningKeyPair } from '@platform/testing';
import { ResolveReplyRefused, ResolvedSecretValues } from './resolved-secret-values';

const pinned = replySigningKeyPair('reply-1');
const verifier = ReplyVerifier.fromJwks({ keys: [pinned.publicJwk] });
const PAYLOAD = {
  values: { API_KEY: { value: 'current-value', version: 2, scope: 'vendor' } },
  history: [{ key: 'API_KEY', value: 'earlier-value', version: 1, scope: 'vendor' }],
};

type Body = Record<string, unknown>;

/** A secrets service answering with PAYLOAD, signed over the request's binding as `change` alters it. */
function secretsAnswering(change: (binding: ReplyBinding) => ReplyBinding = (b) => b, signer = pinned.signer) {
  const requests: Array<{ body: Body; claims: unknown }> = [];
  const refused: ReplyRefusal[] = [];
  const client = {
    request: async (_subject: string, body: Body, options: { claims?: unknown }) => {
      requests.push({ body, claims: options.claims });
      const ciphertext = await encryptForReplyKey(body.replyKey, PAYLOAD);
      const binding = change({
        organizationId: body.organizationId as string,
        customerOrganizationId: (body.customerOrganizationId as string | undefined) ?? null,
        nonce: body.nonce as string,
        replyKeyThumbprint: replyKeyThumbprint(body.replyKey),
      });
      return { ciphertext, signature: signer.sign(binding, ciphertext), missing: [] };
    },
  } as unknown as ServiceClient;
  return { requests, refused, source: new ResolvedSecretValues(client, verifier, (reason) => refused.push(reason)) };
}

const scope = { organizationId: 'acme', customerOrganizationId: 'globex' };

describe("redaction's resolved values", () => {
  it('asks with a fresh key confirmed by its token and a fresh nonce, and uses a reply signed for it', async () => {
    const { requests, refused, source } = secretsAnswering();
    expect(await source.valuesOf(scope)).toEqual(['current-value', 'earlier-value']);
    expect(await source.valuesOf(scope)).toHaveLength(2);
    const [first, second] = requests;
    expect(first.body).toMatchObject({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      includeHistory: true,
    });
    expect(first.claims).toEqual({ cnf: { jkt: replyKeyThumbprint(first.body.replyKey) } });
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
    const { refused, source } = secretsAnswering((b) => b, replySigningKeyPair('reply-1').signer);
    await expect(source.valuesOf(scope)).rejects.toBeInstanceOf(ResolveReplyRefused);
    expect(refused).toEqual(['signature']);
  });
});
