import { MAX_SECRET_VERSION, type SecretScope } from '@platform/contracts';
import {
  CryptoError,
  type ReplyRefusal,
  ReplyRefusedError,
  type ReplyVerifier,
  generateReplyKeyPair,
  replyKeyThumbprint,
} from '@platform/crypto';
import {
  DependencyError,
  ON_BEHALF_OF_HEADER,
  PlatformError,
  type ReplyKeyPair,
  type ResolveFields,
  type ServiceClient,
  forwardedTokenDigest,
  resolveSealed,
} from '@platform/messaging';
import { type Histogram } from 'prom-client';
import { type RenderScope } from './render-scope';
import { RenderError, RenderErrorCode } from './render.error';

/** The secret key rule of ARCHITECTURE.md §3; a template may reference other names, which can never exist. */
export const SECRET_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,255}$/;
/** Most keys one resolve names (the secrets service's limit); a template referencing more asks for every key. */
export const MAX_NAMED_KEYS = 1000;

export interface ResolvedValue {
  readonly value: string;
  readonly version: number;
  readonly scope: SecretScope;
}

export interface ResolvedSecrets {
  /** KEY → its value in scope, a customer's value overriding the vendor-level one. */
  readonly values: ReadonlyMap<string, ResolvedValue>;
  /** KEY → when its value expired: withheld by the secrets service (absent: none, or expired values were allowed). */
  readonly expired?: ReadonlyMap<string, string>;
}

/** For whom and what a render resolves, recorded by the secrets service on SecretValuesResolved. */
export interface ResolveAttribution {
  /** The deployment the render is for. */
  readonly deploymentId?: string;
  /** The render caller's own token, forwarded as `On-Behalf-Of` (and bound by `obo`) for secrets to verify and record. */
  readonly onBehalfOf?: string;
  /** Ask for values past their expiry too (the caller was checked: an admin user or a service with render:any). */
  readonly allowExpired?: boolean;
}

/** Where values come from: `keys` the keys a template needs, or `'all'` when it reads `.Secrets` dynamically. */
export interface SecretValueSource {
  resolve(
    scope: RenderScope,
    keys: readonly string[] | 'all',
    pins: Readonly<Record<string, number>>,
    attribution?: ResolveAttribution,
  ): Promise<ResolvedSecrets>;
}

/** A key that exists in scope: the version and scope a render would use (no value). */
export interface ExistingKey {
  readonly version: number;
  readonly scope: SecretScope;
}

/** Which keys exist in a scope, from `secrets.v1.resolve` with `metadataOnly`: no value is fetched or released. */
export interface SecretMetadataSource {
  existing(scope: RenderScope, keys: readonly string[] | 'all'): Promise<ReadonlyMap<string, ExistingKey>>;
}

/** Tenants whose reply key pair is kept at once; beyond it the least recently used pair is dropped. */
const MAX_TENANT_REPLY_KEYS = 10_000;

async function newReplyKeyPair(ttlMs: number): Promise<ReplyKeyPair> {
  const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs });
  return { publicJwk, privateKey, thumbprint: replyKeyThumbprint(publicJwk) };
}

/**
 * The reply key pairs resolve replies are encrypted to: one per tenant (organization and customer), so a reply for
 * one tenant cannot even be opened with another's key. With `maxAgeMs` 0 every resolve gets a fresh pair; otherwise
 * a tenant's pair serves its resolves for that long. Reuse is what takes the ECDH key agreement off the per-render
 * path: the secrets service reuses its ephemeral key per reply key, and the private key remembers the content key it
 * derived, so a render costs one AES-GCM decryption instead of a key agreement on each side. The price is forward
 * secrecy per window: a recorded reply can be read with a private key that lives in this process's memory for up to
 * `maxAgeMs` (plus the in-flight renders that still hold it), never after.
 */
export class ReplyKeys {
  /** Keyed by tenant; a Map, so any organization identifier is just a key. Oldest use first. */
  private readonly pairs = new Map<string, { pair: Promise<ReplyKeyPair>; expiresAt: number }>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxTenants = MAX_TENANT_REPLY_KEYS,
  ) {}

  pair(tenant: string): Promise<ReplyKeyPair> {
    if (this.maxAgeMs === 0) return newReplyKeyPair(0);
    const now = this.now();
    let held = this.pairs.get(tenant);
    this.pairs.delete(tenant);
    if (!held || now >= held.expiresAt) {
      held = { pair: newReplyKeyPair(this.maxAgeMs), expiresAt: now + this.maxAgeMs };
    }
    this.pairs.set(tenant, held);
    if (this.pairs.size > this.maxTenants) this.pairs.delete(this.pairs.keys().next().value as string);
    return held.pair;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function malformedReply(): RenderError {
  return new RenderError(RenderErrorCode.SECRETS_FAILED, 'the secrets service sent a reply render cannot read');
}

/** The decrypted `ResolvedSecrets` JSON, checked field by field; a malformed payload is never passed on. */
function valuesOf(payload: unknown): Map<string, ResolvedValue> {
  if (!isRecord(payload) || !isRecord(payload.values)) throw malformedReply();
  const values = new Map<string, ResolvedValue>();
  for (const [key, entry] of Object.entries(payload.values)) {
    if (
      !isRecord(entry) ||
      typeof entry.value !== 'string' ||
      typeof entry.version !== 'number' ||
      (entry.scope !== 'vendor' && entry.scope !== 'customer')
    ) {
      throw malformedReply();
    }
    values.set(key, { value: entry.value, version: entry.version, scope: entry.scope });
  }
  return values;
}

/** The decrypted `ResolvedSecrets`' `expired` map (absent from replies of earlier releases): KEY → ISO instant. */
function expiredOf(payload: unknown): Map<string, string> {
  const expired = new Map<string, string>();
  if (!isRecord(payload) || payload.expired === undefined) return expired;
  if (!isRecord(payload.expired)) throw malformedReply();
  for (const [key, at] of Object.entries(payload.expired)) {
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) throw malformedReply();
    expired.set(key, new Date(at).toISOString());
  }
  return expired;
}

/** The decrypted metadata-only `ResolvedSecrets`: version and scope per key, and never a value. */
function existingKeysOf(payload: unknown): Map<string, ExistingKey> {
  if (!isRecord(payload) || !isRecord(payload.values)) throw malformedReply();
  const keys = new Map<string, ExistingKey>();
  for (const [key, entry] of Object.entries(payload.values)) {
    if (
      !isRecord(entry) ||
      (entry.value !== undefined && entry.value !== '') ||
      typeof entry.version !== 'number' ||
      (entry.scope !== 'vendor' && entry.scope !== 'customer')
    ) {
      throw malformedReply();
    }
    keys.set(key, { version: entry.version, scope: entry.scope });
  }
  return keys;
}

/** A secrets-service failure as render's caller sees it: refusals stay refusals, an absent service is UNAVAILABLE, the rest INTERNAL. */
export function secretsFailure(error: unknown): unknown {
  if (error instanceof PlatformError && error.code === 'UNAVAILABLE') {
    return new RenderError(RenderErrorCode.SECRETS_UNAVAILABLE, 'the secrets service is unavailable; retry later');
  }
  if (error instanceof DependencyError) {
    switch (error.code) {
      case 'PERMISSION_DENIED':
        return new RenderError(RenderErrorCode.PERMISSION_DENIED, `the secrets service refused: ${error.message}`);
      // e.g. `secret KEY version N was destroyed`: names a key and version, never a value.
      case 'FAILED_PRECONDITION':
        return new RenderError(RenderErrorCode.SECRETS_PRECONDITION, error.message);
      case 'UNAVAILABLE':
        return new RenderError(RenderErrorCode.SECRETS_UNAVAILABLE, 'the secrets service is unavailable; retry later');
      default:
        return new RenderError(RenderErrorCode.SECRETS_FAILED, `the secrets service failed (${error.code})`);
    }
  }
  return error;
}

export interface ResolvedSecretValuesOptions {
  readonly replyKeys: ReplyKeys;
  /** The pinned reply-signing public keys every reply must be signed with. */
  readonly verifier: ReplyVerifier;
  /** How long a resolve may take before the render fails UNAVAILABLE. */
  readonly timeoutMs: number;
  readonly timer?: Histogram;
  /** Called for every reply refused by its checks, with the reason (a metric). */
  readonly refused?: (reason: ReplyRefusal) => void;
}

/**
 * Values from `secrets.v1.resolve` (ARCHITECTURE.md §6), one request per render with render's own service token,
 * which confirms (`cnf.jkt`) the tenant's reply key. Each reply must be signed by a pinned key for this request's
 * organization, customer, nonce and reply key before it is decrypted; one that is not is counted and the render fails
 * UNAVAILABLE with no value used. A slow or absent secrets service fails the request after `timeoutMs` with
 * UNAVAILABLE.
 */
export class ResolvedSecretValues implements SecretValueSource, SecretMetadataSource {
  constructor(
    private readonly services: ServiceClient,
    private readonly options: ResolvedSecretValuesOptions,
  ) {}

  async resolve(
    scope: RenderScope,
    keys: readonly string[] | 'all',
    pins: Readonly<Record<string, number>>,
    attribution: ResolveAttribution = {},
  ): Promise<ResolvedSecrets> {
    assertPinVersions(pins);
    const named = keys === 'all' ? [] : keys;
    // The pins of the named keys, from the pins' own entries: `pins[key]` would find Object.prototype's `toString`.
    const wanted = new Set(named);
    const payload = await this.request(
      scope,
      {
        keys: named,
        pins: keys === 'all' ? pins : Object.fromEntries(Object.entries(pins).filter(([key]) => wanted.has(key))),
        ...(attribution.deploymentId === undefined ? {} : { deploymentId: attribution.deploymentId }),
        ...(attribution.allowExpired ? { allowExpired: true as const } : {}),
      },
      attribution.onBehalfOf,
    );
    return { values: valuesOf(payload), expired: expiredOf(payload) };
  }

  /** Which of `keys` exist in scope, at which version and scope; the secrets service decrypts and records nothing. */
  async existing(scope: RenderScope, keys: readonly string[] | 'all'): Promise<ReadonlyMap<string, ExistingKey>> {
    const payload = await this.request(scope, { keys: keys === 'all' ? [] : keys, pins: {}, metadataOnly: true });
    return existingKeysOf(payload);
  }

  /** One sealed `secrets.v1.resolve` with the tenant's reply key; the checked, decrypted payload, or render's error. */
  private async request(scope: RenderScope, fields: ResolveFields, onBehalfOf?: string): Promise<unknown> {
    const replyKey = await this.options.replyKeys.pair(tenantOf(scope));
    const stopTimer = this.options.timer?.startTimer();
    let payload: unknown;
    try {
      payload = await resolveSealed(this.services, this.options.verifier, {
        scope,
        replyKey,
        fields: { ...(scope.customerOnly ? { customerOnly: true } : {}), ...fields },
        timeoutMs: this.options.timeoutMs,
        // `obo` binds the forwarded token to render's own, so it can be neither stripped nor swapped on the way.
        ...(onBehalfOf === undefined
          ? {}
          : {
              claims: { obo: forwardedTokenDigest(onBehalfOf) },
              headers: new Map([[ON_BEHALF_OF_HEADER, `Bearer ${onBehalfOf}`]]),
            }),
      });
    } catch (error) {
      if (error instanceof ReplyRefusedError) {
        this.options.refused?.(error.reason);
        throw new RenderError(
          RenderErrorCode.SECRETS_UNAVAILABLE,
          'a secrets service reply failed its authenticity checks; retry later',
        );
      }
      // A checked reply that will not decrypt: its round trip completed, so it is timed (failed calls and refusals not).
      if (error instanceof CryptoError) {
        stopTimer?.();
        throw malformedReply();
      }
      throw secretsFailure(error);
    }
    stopTimer?.();
    return payload;
  }
}

/** One reply key pair per tenant: the organization and, when there is one, the customer (identifiers hold no '/'). */
function tenantOf(scope: RenderScope): string {
  return `${scope.organizationId}/${scope.customerOrganizationId ?? ''}`;
}

/** Pins name versions from 1 to MAX_SECRET_VERSION; the secrets service refuses any other, so render does first. */
export function assertPinVersions(pins: Readonly<Record<string, number>>): void {
  for (const [key, version] of Object.entries(pins)) {
    if (!Number.isInteger(version) || version < 1 || version > MAX_SECRET_VERSION) {
      throw new RenderError(
        RenderErrorCode.INVALID_ARGUMENT,
        `pins.${key} must be a version from 1 to ${MAX_SECRET_VERSION}`,
        {
          field: `pins.${key}`,
        },
      );
    }
  }
}

/** The keys to ask for: the referenced names that can be secret keys, or every key when access is dynamic or too wide. */
export function keysToResolve(references: readonly string[]): string[] | 'all' {
  if (references.includes('*')) return 'all';
  const keys = references.filter((key) => SECRET_KEY_PATTERN.test(key));
  return keys.length > MAX_NAMED_KEYS ? 'all' : keys;
}
