import { MAX_SECRET_VERSION, type ResolveSecretsRequest, type SecretScope as ValueScope } from '@platform/contracts';
import {
  CryptoError,
  CryptoErrorCode,
  type DataKeyRing,
  REPLY_NONCE_PATTERN,
  type ReplyBinding,
} from '@platform/crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { type Principal, actorOf, assertIdentifier, assertServiceScope, hasScope } from '@platform/messaging';
import { type Actor } from '../secrets/secret';
import { isExpired } from '../secrets/secret-expiry';
import { type SecretPublication } from '../outbox/secret-publication';
import { type EventMetadata } from '../secrets/secret';
import { assertValidKey } from '../secrets/secret.decider';
import { SecretsError, SecretsErrorCode } from '../secrets/secrets.error';
import { openStoredValue, placeOf } from '../secrets/stored-value';
import { valueDestroyed } from '../secrets/value-destroyed';
import { type AccessLog } from './access-log';
import { type ResolveReplySealer } from './reply-sealer';
import { SharedReads } from './shared-reads';
import { SecretValuesRepository, type ValueRow } from './secret-values.repository';
import { ValueCache } from './value-cache';

export const SECRET_VALUES_RESOLVED = 'SecretValuesResolved';
/** Most keys one resolve may name; a template referencing more asks for all keys instead. */
export const MAX_RESOLVE_KEYS = 1000;

/** Which value was released: key, version and scope (never the value). */
export interface ResolvedReference {
  readonly key: string;
  readonly version: number;
  readonly scope: ValueScope;
}

/** The access event appended for every resolve that released a value (ARCHITECTURE.md §5). */
export interface SecretValuesResolvedData {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly resolved: readonly ResolvedReference[];
  /** How many earlier or overridden values were released alongside (includeHistory). */
  readonly historyValues: number;
  /** The deployment the request named; absent when it named none (and in events of earlier releases). */
  readonly deploymentId?: string;
  /**
   * Who asked the service that resolved (`metadata.actor`, e.g. service:render), from the caller's token it forwarded
   * and this service verified; absent when the caller asked for itself.
   */
  readonly requestedBy?: Actor;
}

export interface ResolveResult {
  readonly ciphertext: string;
  /** The reply-signing key's JWS over the ciphertext and the request it answers (ARCHITECTURE.md §6). */
  readonly signature: string;
  readonly missing: string[];
}

interface Located extends ValueRow {
  readonly scope: ValueScope;
}

const scopeOf = (row: Pick<ValueRow, 'customer_id'>): ValueScope => (row.customer_id === '' ? 'vendor' : 'customer');

/** The partitions a resolve reads: vendor-level (`''`) and the customer's, or with `customerOnly` the customer's alone. */
function partitionsOf(request: ResolveSecretsRequest): string[] {
  if (request.customerOrganizationId === undefined) return [''];
  return request.customerOnly ? [request.customerOrganizationId] : ['', request.customerOrganizationId];
}

function assertReplyKeyShape(replyKey: unknown): void {
  const jwk = replyKey as Record<string, unknown> | undefined;
  if (
    jwk === undefined ||
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string' ||
    'd' in jwk
  ) {
    throw new SecretsError(
      SecretsErrorCode.INVALID_ARGUMENT,
      'replyKey must be a public EC P-256 JWK ({kty: "EC", crv: "P-256", x, y})',
      { field: 'replyKey' },
    );
  }
}

function requesterDenied(reason: string): SecretsError {
  return new SecretsError(SecretsErrorCode.PERMISSION_DENIED, `the forwarded requester ${reason}`);
}

/**
 * A forwarded requester narrows a resolve, never widens it: the caller's scopes were checked already, and the request
 * must also be one the requester could have had rendered (ARCHITECTURE.md §4): a user needs a role that renders
 * values and only its own scope, a customer user its own customer's values only (`customerOnly`); an outside service
 * needs `render:any`. Expired values (`allowExpired`) need an admin user or an outside service with `render:any`.
 */
function assertRequesterMayResolve(requester: Principal, request: ResolveSecretsRequest): void {
  if (
    request.allowExpired &&
    (requester.orgType === 'service' ? !hasScope(requester, 'render:any') : requester.role !== 'admin')
  ) {
    throw requesterDenied('may not have expired values released: that needs the admin role (or render:any)');
  }
  switch (requester.orgType) {
    case 'service':
      if (!hasScope(requester, 'render:any')) throw requesterDenied('is a service without scope render:any');
      return;
    case 'vendor':
      if (requester.role === 'read_only') throw requesterDenied('has the read_only role, which renders no value');
      if (request.organizationId !== requester.org) throw requesterDenied('belongs to another organization');
      return;
    case 'customer':
      if (requester.role === 'read_only') throw requesterDenied('has the read_only role, which renders no value');
      if (
        request.organizationId !== requester.vendorOrg ||
        request.customerOrganizationId !== requester.org ||
        !request.customerOnly
      ) {
        throw requesterDenied("is a customer user: only its own customer's values (customerOnly) may be resolved");
      }
      return;
    default: {
      const _exhaustive: never = requester;
      return _exhaustive;
    }
  }
}

/**
 * `secrets.v1.resolve` for services (ARCHITECTURE.md §6): the values of a scope, customer-specific overriding
 * vendor-level, optionally pinned to earlier versions or with every earlier value (for redaction), encrypted to the
 * caller's reply key. Hot path: one indexed query (shared by identical concurrent resolves), values decrypted with
 * node:crypto (DataKeyRing, no node-jose) and kept in a bounded ValueCache, the access event group-committed while the
 * reply is encrypted.
 */
export class SecretResolver {
  /** Concurrent resolves of the same scope and keys (many pods rendering one template) share the live-values query. */
  private readonly currentReads = new SharedReads<readonly ValueRow[]>();
  private readonly values: SecretValuesRepository;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly keyRing: DataKeyRing,
    private readonly cache: ValueCache,
    private readonly accessLog: AccessLog,
    private readonly replies: ResolveReplySealer,
    /** Absent only where nothing consumes SECRETS_EVENTS (store-level tests). */
    private readonly publication?: SecretPublication,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.values = new SecretValuesRepository(store);
  }

  /** `requester`: whom a forwarding service (render) resolves for, verified from its forwarded token. */
  async resolve(principal: Principal, request: ResolveSecretsRequest, requester?: Principal): Promise<ResolveResult> {
    this.authorize(principal, request);
    const keys = this.requestedKeys(request);
    if (requester) assertRequesterMayResolve(requester, request);
    const binding = this.replies.bind(principal, request);
    const everyKey = keys.length === 0;

    const customerIds = partitionsOf(request);
    if (request.metadataOnly) return this.existing(request, binding, customerIds, keys);
    const current = await this.currentValues(request.organizationId, customerIds, everyKey ? undefined : keys);
    const { chosen, expired } = this.withoutExpired(await this.applyPins(current, request.pins), request.allowExpired);
    const history = request.includeHistory
      ? await this.historicalValues(request.organizationId, customerIds, chosen)
      : [];
    const [values, earlier] = await Promise.all([
      this.decryptAll(request.organizationId, chosen.values()),
      this.decryptAll(request.organizationId, history),
    ]);
    const released = new Set(values.map((v) => v.key));
    const missing = everyKey ? [] : keys.filter((key) => !released.has(key) && !expired.has(key));
    // The proto3 JSON of ResolvedSecrets; only ever leaves this process encrypted to the caller's reply key.
    const payload = {
      values: Object.fromEntries(values.map((v) => [v.key, { value: v.value, version: v.version, scope: v.scope }])),
      history: earlier.map((v) => ({ key: v.key, value: v.value, version: v.version, scope: v.scope })),
      // Only when some value was withheld, as proto3 JSON leaves out an empty map.
      ...(expired.size === 0 ? {} : { expired: Object.fromEntries(expired) }),
    };
    const resolved = values.map(({ key, version, scope }) => ({ key, version, scope }));
    const [sealed] = await Promise.all([
      this.replies.seal(binding, request.replyKey, payload),
      // A resolve that releases no value records nothing: there is no access to tell about.
      values.length + earlier.length === 0
        ? undefined
        : this.recordAccess(principal, {
            organizationId: request.organizationId,
            customerOrganizationId: request.customerOrganizationId ?? null,
            resolved,
            historyValues: earlier.length,
            ...(request.deploymentId === undefined ? {} : { deploymentId: request.deploymentId }),
            ...(requester ? { requestedBy: actorOf(requester) } : {}),
          }),
      // Not before its event is on SECRETS_EVENTS: a caller could otherwise log a value redaction does not know yet.
      this.publication?.beforeRelease(
        [...chosen.values(), ...history].map((row) => ({ transactionId: row.transaction_id, position: row.position })),
      ),
    ]);
    return { ...sealed, missing };
  }

  /**
   * Takes the values past their `expiresAt` out of what is released (ARCHITECTURE.md §3, Expiry) unless the request
   * allows them; `expired` maps each such key to its instant. With includeHistory they are still released among the
   * history, so redaction keeps masking them.
   */
  private withoutExpired(
    chosen: Map<string, Located>,
    allowExpired: boolean | undefined,
  ): { chosen: Map<string, Located>; expired: Map<string, string> } {
    const expired = new Map<string, string>();
    if (allowExpired) return { chosen, expired };
    const now = this.clock();
    for (const [key, row] of chosen) {
      if (!isExpired(row.expires_at, now)) continue;
      expired.set(key, new Date(row.expires_at!).toISOString());
      chosen.delete(key);
    }
    return { chosen, expired };
  }

  /**
   * `metadataOnly`: which keys exist in scope, at which version and scope, encrypted to the reply key as values are.
   * Nothing is decrypted or released, so no SecretValuesResolved is recorded (the access event lists released values;
   * `secrets.v1.list`, also metadata, records none) and nothing waits for publication (redaction needs no value).
   */
  private async existing(
    request: ResolveSecretsRequest,
    binding: ReplyBinding,
    customerIds: string[],
    keys: string[],
  ): Promise<ResolveResult> {
    if (request.includeHistory) {
      throw new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, 'includeHistory cannot be combined with metadataOnly', {
        field: 'includeHistory',
      });
    }
    const everyKey = keys.length === 0;
    const current = await this.currentValues(request.organizationId, customerIds, everyKey ? undefined : keys);
    const chosen = await this.applyPins(current, request.pins);
    const found = [...chosen.values()];
    const payload = {
      values: Object.fromEntries(found.map((row) => [row.key, { version: row.version, scope: row.scope }])),
      history: [],
    };
    const missing = everyKey ? [] : keys.filter((key) => !chosen.has(key));
    return { ...this.replies.seal(binding, request.replyKey, payload), missing };
  }

  /**
   * Services only (ARCHITECTURE.md §4): named keys need `secrets:resolve`, every key `secrets:resolve-current` (or
   * `-all`), and the history of values `secrets:resolve-all`, which render's token does not carry.
   */
  private authorize(principal: Principal, request: ResolveSecretsRequest): void {
    assertServiceScope(principal, 'secrets:resolve', 'secrets:resolve-current', 'secrets:resolve-all');
    if (request.includeHistory && !hasScope(principal, 'secrets:resolve-all')) {
      throw new SecretsError(
        SecretsErrorCode.PERMISSION_DENIED,
        'the history of values needs a service token with scope secrets:resolve-all',
      );
    }
    if (
      request.keys.length === 0 &&
      !hasScope(principal, 'secrets:resolve-current') &&
      !hasScope(principal, 'secrets:resolve-all')
    ) {
      throw new SecretsError(
        SecretsErrorCode.PERMISSION_DENIED,
        'resolving every key needs a service token with scope secrets:resolve-current or secrets:resolve-all',
      );
    }
  }

  /** Validates the request and returns its distinct keys (none = every key). */
  private requestedKeys(request: ResolveSecretsRequest): string[] {
    assertIdentifier('organizationId', request.organizationId);
    if (request.deploymentId !== undefined) assertIdentifier('deploymentId', request.deploymentId);
    if (request.customerOrganizationId !== undefined) {
      assertIdentifier('customerOrganizationId', request.customerOrganizationId);
    } else if (request.customerOnly) {
      throw new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, 'customerOnly needs customerOrganizationId', {
        field: 'customerOnly',
      });
    }
    const keys = [...new Set(request.keys)];
    if (keys.length > MAX_RESOLVE_KEYS) {
      throw new SecretsError(
        SecretsErrorCode.INVALID_ARGUMENT,
        `at most ${MAX_RESOLVE_KEYS} keys may be resolved at once`,
      );
    }
    keys.forEach(assertValidKey);
    for (const [key, version] of Object.entries(request.pins)) {
      assertValidKey(key);
      if (!Number.isInteger(version) || version < 1 || version > MAX_SECRET_VERSION) {
        throw new SecretsError(
          SecretsErrorCode.INVALID_ARGUMENT,
          `pins.${key} must be a version from 1 to ${MAX_SECRET_VERSION}`,
          { field: `pins.${key}` },
        );
      }
    }
    assertReplyKeyShape(request.replyKey);
    if (!REPLY_NONCE_PATTERN.test(request.nonce)) {
      throw new SecretsError(
        SecretsErrorCode.INVALID_ARGUMENT,
        'nonce must be 22 to 128 base64url characters, fresh for each request',
        { field: 'nonce' },
      );
    }
    return keys;
  }

  /** The live value of each key; a customer's value overrides the vendor-level one of the same key. */
  private async currentValues(
    organizationId: string,
    customerIds: readonly string[],
    keys: readonly string[] | undefined,
  ): Promise<Map<string, Located>> {
    const sortedKeys = keys && [...keys].sort();
    const rows = await this.currentReads.read(JSON.stringify([organizationId, customerIds, sortedKeys]), () =>
      this.values.current(organizationId, customerIds, sortedKeys),
    );
    const byKey = new Map<string, Located>();
    for (const row of rows) {
      const held = byKey.get(row.key);
      if (!held || (held.scope === 'vendor' && row.customer_id !== ''))
        byKey.set(row.key, { ...row, scope: scopeOf(row) });
    }
    return byKey;
  }

  /**
   * Swaps in the pinned version of a key's chosen stream; a version that never held a value makes the key missing, one
   * whose value was destroyed fails the resolve (`secret KEY version N was destroyed`).
   */
  private async applyPins(
    current: Map<string, Located>,
    pins: Readonly<Record<string, number>>,
  ): Promise<Map<string, Located>> {
    // A Map: the decoded `pins` is a plain object, so `pins.toString` is a function where no pin names that key.
    const versions = new Map(Object.entries(pins));
    const pinned = [...current.values()].filter((row) => (versions.get(row.key) ?? row.version) !== row.version);
    if (pinned.length === 0) return current;
    const rows = await this.values.pinned(
      pinned.map((row) => ({ streamId: row.stream_id, version: versions.get(row.key) })),
    );
    const found = new Map(rows.map((row) => [row.stream_id, row]));
    const chosen = new Map(current);
    for (const row of pinned) {
      const version = found.get(row.stream_id);
      if (version?.value === null) throw valueDestroyed(row.key, version.stream_version);
      if (version) {
        const { stream_version: pinnedVersion, stream_id: _streamId, value, ...event } = version;
        chosen.set(row.key, { ...row, ...event, value, version: pinnedVersion });
      } else chosen.delete(row.key);
    }
    return chosen;
  }

  /**
   * Every other value of the scope whose data key still exists and that was not destroyed: earlier versions, deleted
   * and overridden secrets.
   */
  private async historicalValues(
    organizationId: string,
    customerIds: readonly string[],
    chosen: ReadonlyMap<string, Located>,
  ): Promise<Located[]> {
    const rows = await this.values.everyValue(organizationId, customerIds);
    const released = new Set([...chosen.values()].map((row) => ValueCache.keyOf(row.stream_id, row.version)));
    return rows
      .filter((row) => !released.has(ValueCache.keyOf(row.stream_id, row.version)))
      .map((row) => ({ ...row, scope: scopeOf(row) }));
  }

  /**
   * Decrypts each value (cache first), bound to the place its row names; a value whose data key was purged meanwhile
   * is left out, one that fails its digest or binding check fails the resolve (INTEGRITY_VIOLATION).
   */
  private async decryptAll(organizationId: string, rows: Iterable<Located>): Promise<Located[]> {
    const decrypted: Located[] = [];
    for (const row of rows) {
      const stored = {
        organizationId,
        customerId: row.customer_id,
        key: row.key,
        version: row.version,
        eventId: row.event_id,
        value: row.value,
        digest: row.digest,
      };
      // Cached under the stream the row's columns name, so a row moved to another customer or key misses the cache.
      const { streamId } = placeOf(stored);
      let value = this.cache.get(streamId, row.version);
      if (value === undefined) {
        try {
          value = await openStoredValue(this.keyRing, stored);
        } catch (error) {
          if (error instanceof CryptoError && error.code === CryptoErrorCode.DATA_KEY_NOT_FOUND) continue;
          throw error;
        }
        this.cache.set(streamId, row.version, value);
      }
      decrypted.push({ ...row, value });
    }
    return decrypted;
  }

  /** One access event per call, durable before the values are released (group-committed by AccessLog). */
  private recordAccess(principal: Principal, data: SecretValuesResolvedData): Promise<void> {
    const metadata: EventMetadata = { actor: actorOf(principal), occurredAt: this.clock().toISOString() };
    return this.accessLog.record(data.organizationId, { type: SECRET_VALUES_RESOLVED, data, metadata });
  }
}
