import { type ResolveSecretsRequestJson, type ResolvedSecretsJson } from '@platform/contracts';
import {
  type ReplyBinding,
  type ReplyRefusal,
  ReplyRefusedError,
  type ReplyVerifier,
  decryptWithReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type Scope, type ServiceClient } from '@platform/messaging';
import { type AttributedValue } from '../exposure/exposure-attribution';
import { type SecretValuesSource } from './scope-matchers';

/** How long one resolve may take before the scope counts as unavailable. */
const RESOLVE_TIMEOUT_MS = 5_000;

/** A resolve reply that failed its checks: the scope's matcher is not built, so its lines wait (fail closed). */
export class ResolveReplyRefused extends Error {
  constructor(readonly reason: ReplyRefusal) {
    super(`a secrets service reply failed its authenticity checks (${reason})`);
    this.name = 'ResolveReplyRefused';
  }
}

/**
 * A scope's values from `secrets.v1.resolve` with this service's token (`secrets:resolve-all`): every key, with
 * history, so rotated-out and deleted values stay masked. Each call uses a fresh reply key, confirmed by the token
 * (`cnf.jkt`), and a fresh nonce; a reply is used only when signed by a pinned key for exactly that request, so the
 * values cross NATS only encrypted to this process and nobody else's values can be slipped in.
 */
export class ResolvedSecretValues implements SecretValuesSource {
  constructor(
    private readonly services: ServiceClient,
    private readonly verifier: ReplyVerifier,
    /** Called for every reply refused by its checks, with the reason (a metric). */
    private readonly refused: (reason: ReplyRefusal) => void = () => undefined,
  ) {}

  async valuesOf(scope: Scope): Promise<string[]> {
    return (await this.attributedValuesOf(scope)).map((entry) => entry.value);
  }

  /** Every value with its key, version and scope (exposure reports name them; the values never leave this process). */
  async attributedValuesOf(scope: Scope): Promise<AttributedValue[]> {
    const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs: 0 });
    const binding: ReplyBinding = {
      organizationId: scope.organizationId,
      customerOrganizationId: scope.customerOrganizationId,
      nonce: newReplyNonce(),
      replyKeyThumbprint: replyKeyThumbprint(publicJwk),
    };
    const request: ResolveSecretsRequestJson = {
      organizationId: scope.organizationId,
      keys: [],
      includeHistory: true,
      replyKey: { ...publicJwk },
      nonce: binding.nonce,
      ...(scope.customerOrganizationId === null ? {} : { customerOrganizationId: scope.customerOrganizationId }),
    };
    const reply = await this.services.request<{ ciphertext?: unknown; signature?: unknown }>(
      'secrets.v1.resolve',
      request,
      { timeoutMs: RESOLVE_TIMEOUT_MS, claims: { cnf: { jkt: binding.replyKeyThumbprint } } },
    );
    try {
      this.verifier.verify(reply.signature, reply.ciphertext, binding);
    } catch (error) {
      if (!(error instanceof ReplyRefusedError)) throw error;
      this.refused(error.reason);
      throw new ResolveReplyRefused(error.reason);
    }
    const resolved = (await decryptWithReplyKey(privateKey, reply.ciphertext as string)) as ResolvedSecretsJson | null;
    if (typeof resolved !== 'object' || resolved === null) throw new TypeError('resolve reply is not ResolvedSecrets');
    const scopeOf = (value: string | undefined): AttributedValue['scope'] =>
      value === 'customer' ? 'customer' : 'vendor';
    return [
      ...Object.entries(resolved.values ?? {}).map(([key, entry]) => ({
        value: entry.value ?? '',
        key,
        version: entry.version ?? 0,
        scope: scopeOf(entry.scope),
      })),
      ...(resolved.history ?? []).map((entry) => ({
        value: entry.value ?? '',
        key: entry.key ?? '',
        version: entry.version ?? 0,
        scope: scopeOf(entry.scope),
      })),
    ].filter((entry) => entry.value.length > 0);
  }
}
