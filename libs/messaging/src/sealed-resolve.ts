import { type ResolveSecretsRequestJson } from '@platform/contracts';
import {
  type ReplyBinding,
  type ReplyPrivateKey,
  type ReplyPublicJwk,
  type ReplyVerifier,
  decryptWithReplyKey,
  newReplyNonce,
} from '@platform/crypto';
import { type Scope } from './authorization';
import { type ServiceClient } from './service-client';

/** The key pair a resolve reply is encrypted to; how long one lives is the caller's policy (ARCHITECTURE.md §6). */
export interface ReplyKeyPair {
  readonly publicJwk: ReplyPublicJwk;
  readonly privateKey: ReplyPrivateKey;
  /** RFC 7638 thumbprint of `publicJwk`, the `cnf.jkt` of the resolve token. */
  readonly thumbprint: string;
}

/** What a caller asks resolve for (keys, pins, history…): the contract's request less the fields the exchange sets. */
export type ResolveFields = {
  readonly [
    F in Exclude<keyof ResolveSecretsRequestJson, 'organizationId' | 'customerOrganizationId' | 'replyKey' | 'nonce'>
  ]?: Readonly<ResolveSecretsRequestJson[F]>;
};

export interface SealedResolve {
  readonly scope: Scope;
  readonly replyKey: ReplyKeyPair;
  readonly fields: ResolveFields;
  readonly timeoutMs: number;
  /** Further claims for this call's token, such as `obo`; `cnf` is the exchange's own. */
  readonly claims?: Readonly<Record<string, unknown>> & { readonly cnf?: never };
  /** Further request headers, such as `On-Behalf-Of`. */
  readonly headers?: ReadonlyMap<string, string>;
}

/**
 * One `secrets.v1.resolve` whose values cross the bus sealed (ARCHITECTURE.md §6): the token confirms the reply key
 * (`cnf.jkt`), the request carries a fresh nonce, and the reply is decrypted only once signed by a pinned key for
 * exactly this organization, customer, nonce and reply key. Returns the decrypted payload, its shape unchecked.
 *
 * Throws what `ServiceClient.request` throws when the call fails; ReplyRefusedError when the reply fails a check
 * (nothing in it was decrypted); a CryptoError when a checked reply cannot be decrypted. Callers map each to their own.
 */
export async function resolveSealed(
  services: ServiceClient,
  verifier: ReplyVerifier,
  resolve: SealedResolve,
): Promise<unknown> {
  const { scope, replyKey } = resolve;
  const binding: ReplyBinding = {
    organizationId: scope.organizationId,
    customerOrganizationId: scope.customerOrganizationId,
    nonce: newReplyNonce(),
    replyKeyThumbprint: replyKey.thumbprint,
  };
  const request = {
    organizationId: scope.organizationId,
    ...(scope.customerOrganizationId === null ? {} : { customerOrganizationId: scope.customerOrganizationId }),
    ...resolve.fields,
    replyKey: replyKey.publicJwk,
    nonce: binding.nonce,
  };
  const reply = await services.request<{ ciphertext?: unknown; signature?: unknown }>('secrets.v1.resolve', request, {
    timeoutMs: resolve.timeoutMs,
    claims: { cnf: { jkt: replyKey.thumbprint }, ...resolve.claims },
    headers: resolve.headers,
  });
  verifier.verify(reply.signature, reply.ciphertext, binding);
  // verify refuses a reply whose ciphertext is not a string.
  return decryptWithReplyKey(replyKey.privateKey, reply.ciphertext as string);
}
