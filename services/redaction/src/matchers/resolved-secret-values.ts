import { type ResolvedSecretsJson } from '@platform/contracts';
import {
  type ReplyRefusal,
  ReplyRefusedError,
  type ReplyVerifier,
  generateReplyKeyPair,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type Scope, type ServiceClient, resolveSealed } from '@platform/messaging';
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
    let payload: unknown;
    try {
      payload = await resolveSealed(this.services, this.verifier, {
        scope,
        replyKey: { publicJwk, privateKey, thumbprint: replyKeyThumbprint(publicJwk) },
        fields: { keys: [], includeHistory: true },
        timeoutMs: RESOLVE_TIMEOUT_MS,
      });
    } catch (error) {
      if (!(error instanceof ReplyRefusedError)) throw error;
      this.refused(error.reason);
      throw new ResolveReplyRefused(error.reason);
    }
    const resolved = payload as ResolvedSecretsJson | null;
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
