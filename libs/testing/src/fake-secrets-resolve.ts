import { type ReplyBinding, type ReplySigner, encryptForReplyKey, replyKeyThumbprint } from '@platform/crypto';
import { type ServiceClient } from '@platform/messaging';

/** One call a resolve caller made: the request body and the call's options (token claims, headers). */
export interface ResolveCall {
  readonly body: Record<string, unknown>;
  readonly options: { readonly claims?: unknown; readonly headers?: ReadonlyMap<string, string> };
}

export interface FakeResolveAnswer {
  /** Signs each reply; `null` sends it unsigned. */
  readonly signer: ReplySigner | null;
  /** What the signature names instead of the request's own binding: a reply for another request. */
  readonly forge?: (binding: ReplyBinding) => ReplyBinding;
  /** Sent instead of `payload` encrypted to the request's reply key, and signed as it is. */
  readonly ciphertext?: string;
}

/**
 * A ServiceClient standing in for the secrets service's `secrets.v1.resolve`, for unit tests of a resolve caller
 * (ARCHITECTURE.md §6): each reply is `payload` encrypted to the request's reply key and signed over the request's
 * binding, unless `answer` says otherwise. Every call is recorded.
 */
export function fakeSecretsResolve(
  payload: unknown,
  answer: FakeResolveAnswer,
): { client: ServiceClient; calls: ResolveCall[] } {
  const calls: ResolveCall[] = [];
  const { signer, forge = (binding) => binding } = answer;
  const request = async (_subject: string, body: ResolveCall['body'], options: ResolveCall['options']) => {
    calls.push({ body, options });
    const ciphertext = answer.ciphertext ?? (await encryptForReplyKey(body.replyKey, payload));
    const binding = forge({
      organizationId: body.organizationId as string,
      customerOrganizationId: (body.customerOrganizationId as string | undefined) ?? null,
      nonce: body.nonce as string,
      replyKeyThumbprint: replyKeyThumbprint(body.replyKey),
    });
    return { ciphertext, ...(signer === null ? {} : { signature: signer.sign(binding, ciphertext) }), missing: [] };
  };
  return { client: { request } as unknown as ServiceClient, calls };
}
