import { type ResolveSecretsRequestJson, type ResolvedSecretsJson } from '@platform/contracts';
import { decryptWithReplyKey, generateReplyKeyPair } from '@platform/crypto';
import { type Scope, type ServiceClient } from '@platform/messaging';
import { type SecretValuesSource } from './scope-matchers';

/** How long one resolve may take before the scope counts as unavailable. */
const RESOLVE_TIMEOUT_MS = 5_000;

/**
 * A scope's values from `secrets.v1.resolve` with this service's token (`secrets:resolve-all`): every key, with
 * history, so rotated-out and deleted values stay masked. Each call uses a fresh reply key, so the values cross
 * NATS only encrypted to this process.
 */
export class ResolvedSecretValues implements SecretValuesSource {
  constructor(private readonly services: ServiceClient) {}

  async valuesOf(scope: Scope): Promise<string[]> {
    const { publicJwk, privateKey } = await generateReplyKeyPair();
    const request: ResolveSecretsRequestJson = {
      organizationId: scope.organizationId,
      keys: [],
      includeHistory: true,
      replyKey: { ...publicJwk },
      ...(scope.customerOrganizationId === null ? {} : { customerOrganizationId: scope.customerOrganizationId }),
    };
    const reply = await this.services.request<{ ciphertext: string }>('secrets.v1.resolve', request, {
      timeoutMs: RESOLVE_TIMEOUT_MS,
    });
    const resolved = (await decryptWithReplyKey(privateKey, reply.ciphertext)) as ResolvedSecretsJson | null;
    if (typeof resolved !== 'object' || resolved === null) throw new TypeError('resolve reply is not ResolvedSecrets');
    return [
      ...Object.values(resolved.values ?? {}).map((entry) => entry.value ?? ''),
      ...(resolved.history ?? []).map((entry) => entry.value ?? ''),
    ].filter((value) => value.length > 0);
  }
}
