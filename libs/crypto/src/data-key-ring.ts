import { createHash, hash as oneShotHash, randomBytes, randomUUID } from 'node:crypto';
import { BoundedCache } from './bounded-cache';
import { CryptoError, CryptoErrorCode } from './crypto-error';
import { DataKeyStore, StoredDataKey } from './data-key-store';
import { CONTENT_KEY_BYTES, openA256Gcm, parseCompactJwe, sealA256Gcm } from './jwe-compact';
import { MasterKeyRing } from './master-key-ring';

export interface DataKeyRingOptions {
  /** Unwrapped data keys kept in memory (default 10,000). */
  readonly maxCachedKeys?: number;
  /**
   * How long an unwrapped key, or an organization's active key, is trusted without asking the store (default 60 s):
   * bounds how long another instance keeps decrypting after a purge, or encrypting with a key rotated elsewhere.
   */
  readonly cacheTtlMs?: number;
  /**
   * Refuse values without `ver`/`eid` even where a caller would accept them (`DecryptOptions.acceptUnbound`): for a
   * database whose values were all rebound, so a saved copy of an old unbound value cannot be put back.
   */
  readonly refuseUnbound?: boolean;
}

/**
 * Where a value is stored, bound into its ciphertext's authenticated protected header and checked on decrypt
 * (ARCHITECTURE.md §6): a ciphertext copied to another secret, version, event or organization does not decrypt.
 */
export interface ValuePlace {
  /** The vendor organization: the owner of the data key. */
  readonly organizationId: string;
  /** The customer scope (absent or null: vendor level); a customer's values are sealed under the customer's own key. */
  readonly customerOrganizationId?: string | null;
  /** `sid`: the secret's stream, `secret:<org>:<customer|_>:<key>`, naming organization, customer and key. */
  readonly streamId: string;
  /** `ver`: the stream version of the event that carries the value. */
  readonly version: number;
  /** `eid`: the id of that event. */
  readonly eventId: string;
}

export interface DecryptOptions {
  /**
   * Accept a ciphertext of the previous release, whose header binds only `sid` (no `ver`/`eid`). Such a value is
   * still checked for its stream and organization, but could be moved between versions of one secret unnoticed.
   */
  readonly acceptUnbound?: boolean;
}

export interface EncryptedValue {
  /** JWE compact, `dir` + `A256GCM`, protected header `{alg, enc, kid: dataKeyId, sid, ver, eid}` (ValuePlace). */
  readonly jwe: string;
  readonly dataKeyId: string;
  /** SHA-256 of the JWE's ASCII, base64url (`valueDigest`): carried in the value's event. */
  readonly digest: string;
}

/** Seals values under one scope's data key, fetched before the caller decides where the value will go. */
export interface ValueSealer {
  readonly dataKeyId: string;
  seal(place: ValuePlace, plaintext: string): EncryptedValue;
}

/** SHA-256 of a value's ciphertext (the JWE compact string), base64url: lets readers notice a swapped copy. */
export function valueDigest(jwe: string): string {
  // crypto.hash (Node ≥ 20.12) skips the Hash object; digests are taken on every resolve cache miss.
  return oneShotHash === undefined
    ? createHash('sha256').update(jwe, 'ascii').digest('base64url')
    : oneShotHash('sha256', jwe, 'base64url');
}

interface DataKey {
  readonly id: string;
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly key: Buffer;
}

/** The active-key cache's key of a scope: the organization itself for the vendor level; identifiers hold no '/'. */
const scopeKey = (organizationId: string, customerOrganizationId: string | null) =>
  customerOrganizationId === null ? organizationId : `${organizationId}/${customerOrganizationId}`;

/** A promise, so concurrent first uses of a key share one store read and one unwrap. */
interface CachedKey {
  readonly pending: Promise<DataKey>;
  /** Set once loaded: the hot path then skips awaiting the promise, and a purge can tell the key's organization. */
  loaded?: DataKey;
}

const REWRAP_BATCH = 500;

/**
 * Encrypts secret values per scope (ARCHITECTURE.md §6): the vendor level of an organization and each of its customers
 * have one active data key each, stored wrapped under the active master key; unwrapped keys are cached (bounded, with a TTL), so the hot path is a
 * map lookup plus one AES-256-GCM operation, done with node:crypto on the standard JWE compact form (see jwe-compact).
 */
export class DataKeyRing {
  private readonly keysById: BoundedCache<string, CachedKey>;
  private readonly activeKeys: BoundedCache<string, CachedKey>;
  private readonly refuseUnbound: boolean;

  constructor(
    private readonly master: MasterKeyRing,
    private readonly store: DataKeyStore,
    options: DataKeyRingOptions = {},
  ) {
    const maxCachedKeys = options.maxCachedKeys ?? 10_000;
    const ttlMs = options.cacheTtlMs ?? 60_000;
    this.keysById = new BoundedCache(maxCachedKeys, ttlMs);
    this.activeKeys = new BoundedCache(maxCachedKeys, ttlMs);
    this.refuseUnbound = options.refuseUnbound ?? false;
  }

  async encryptValue(place: ValuePlace, plaintext: string): Promise<EncryptedValue> {
    return (await this.sealerFor(place.organizationId, place.customerOrganizationId ?? null)).seal(place, plaintext);
  }

  /**
   * The scope's active data key as a sealer (vendor level when `customerOrganizationId` is null). Writers take it
   * before reading the stream they decide on, so a key created after a purge is only ever used by a write that reads
   * after the purge.
   */
  async sealerFor(organizationId: string, customerOrganizationId: string | null): Promise<ValueSealer> {
    const cacheKey = scopeKey(organizationId, customerOrganizationId);
    const dataKey =
      this.activeKeys.get(cacheKey)?.loaded ??
      (await this.cached(this.activeKeys, cacheKey, () => this.loadActiveKey(organizationId, customerOrganizationId)));
    return {
      dataKeyId: dataKey.id,
      seal: (place, plaintext) => {
        if (place.organizationId !== dataKey.organizationId) {
          throw new CryptoError(CryptoErrorCode.WRONG_ORGANIZATION, 'value sealed for another organization');
        }
        if ((place.customerOrganizationId ?? null) !== dataKey.customerOrganizationId) {
          throw new CryptoError(CryptoErrorCode.WRONG_ORGANIZATION, 'value sealed for another customer scope');
        }
        const header = {
          alg: 'dir',
          enc: 'A256GCM',
          kid: dataKey.id,
          sid: place.streamId,
          ver: place.version,
          eid: place.eventId,
        };
        const jwe = sealA256Gcm(dataKey.key, header, Buffer.from(plaintext, 'utf8'));
        return { jwe, dataKeyId: dataKey.id, digest: valueDigest(jwe) };
      },
    };
  }

  /**
   * Decrypts a value read from `place`, refusing it unless its authenticated header names that place (stream,
   * version, event) and its data key belongs to the place's organization.
   */
  async decryptValue(jwe: string, place: ValuePlace, options: DecryptOptions = {}): Promise<string> {
    const parsed = parseCompactJwe(jwe);
    const { alg, kid, sid, ver, eid } = parsed.header;
    if (alg !== 'dir' || parsed.encryptedKey !== '' || typeof kid !== 'string' || typeof sid !== 'string') {
      throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'value is not a dir JWE with "kid" and "sid"');
    }
    // The header is authenticated, so a value moved elsewhere fails one of these checks or the tag check.
    if (sid !== place.streamId) {
      throw new CryptoError(CryptoErrorCode.WRONG_STREAM, 'value was encrypted for another secret');
    }
    if (ver === undefined && eid === undefined) {
      if (options.acceptUnbound !== true || this.refuseUnbound) {
        throw new CryptoError(CryptoErrorCode.WRONG_PLACE, 'value is not bound to a version and event');
      }
    } else if (typeof ver !== 'number' || typeof eid !== 'string') {
      throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'value header has a malformed "ver" or "eid"');
    } else if (ver !== place.version) {
      throw new CryptoError(
        CryptoErrorCode.WRONG_PLACE,
        `value was encrypted for version ${ver} of its secret, not version ${place.version}`,
      );
    } else if (eid !== place.eventId) {
      throw new CryptoError(CryptoErrorCode.WRONG_PLACE, 'value was encrypted for another event');
    }
    const dataKey = this.keysById.get(kid)?.loaded ?? (await this.cached(this.keysById, kid, () => this.loadKey(kid)));
    if (dataKey.organizationId !== place.organizationId) {
      throw new CryptoError(CryptoErrorCode.WRONG_ORGANIZATION, "value's data key belongs to another organization");
    }
    // A vendor-level key may hold a customer's value written before customers had keys of their own (`values rebind`
    // moves them); a customer's key holds only that customer's values.
    if (
      dataKey.customerOrganizationId !== null &&
      dataKey.customerOrganizationId !== (place.customerOrganizationId ?? null)
    ) {
      throw new CryptoError(CryptoErrorCode.WRONG_ORGANIZATION, "value's data key belongs to another customer scope");
    }
    return openA256Gcm(dataKey.key, parsed).toString('utf8');
  }

  /** Gives the scope a new active data key for new writes; older keys stay for older versions. */
  async rotate(organizationId: string, customerOrganizationId: string | null = null): Promise<string> {
    const { stored, key } = await this.newKey(organizationId, customerOrganizationId);
    await this.store.replaceActive(stored);
    const loaded = { id: stored.id, organizationId, customerOrganizationId, key };
    const cached = { pending: Promise.resolve(loaded), loaded };
    this.activeKeys.set(scopeKey(organizationId, customerOrganizationId), cached);
    this.keysById.set(stored.id, cached);
    return stored.id;
  }

  /**
   * Rewraps every data key under the active master key (after a new master was put first); returns how many.
   * `onProgress` gets `(0, total)` first, then `(done, total)` after each key; total grows if keys appear meanwhile.
   */
  async rewrapAll(onProgress?: (done: number, total: number) => void): Promise<number> {
    const target = this.master.activeKid;
    const rewrapped = new Set<string>();
    let total = onProgress ? await this.store.countNotWrappedUnder(target) : 0;
    onProgress?.(0, total);
    for (;;) {
      const batch = await this.store.keysNotWrappedUnder(target, REWRAP_BATCH);
      if (batch.length === 0) return rewrapped.size;
      if (batch.every((stored) => rewrapped.has(stored.id))) {
        throw new Error('data key store keeps returning keys it has rewrapped; refusing to loop');
      }
      for (const stored of batch) {
        const key = await this.master.unwrap(stored.masterKid, stored.wrapped);
        const { masterKid, wrapped } = await this.master.wrap(key);
        await this.store.rewrap(stored.id, stored.masterKid, { masterKid, wrapped });
        rewrapped.add(stored.id);
        total = Math.max(total, rewrapped.size);
        onProgress?.(rewrapped.size, total);
      }
    }
  }

  /** Deletes the organization's data keys: its values become unrecoverable (crypto-shredding). */
  async purge(organizationId: string): Promise<number> {
    const deleted = await this.store.deleteByOrganization(organizationId);
    this.forgetOrganization(organizationId);
    return deleted;
  }

  /** Drops this instance's cached keys of an organization and its customers, e.g. when another instance purged it. */
  forgetOrganization(organizationId: string): void {
    const ofOrganization = (cached: CachedKey) =>
      cached.loaded === undefined || cached.loaded.organizationId === organizationId;
    this.activeKeys.deleteWhere(ofOrganization);
    // Keys still loading have no known organization yet; dropping them too only costs a reload.
    this.keysById.deleteWhere(ofOrganization);
  }

  /** Drops this instance's cached keys of one customer scope, e.g. when another instance purged that customer. */
  forgetCustomer(organizationId: string, customerOrganizationId: string): void {
    this.activeKeys.delete(scopeKey(organizationId, customerOrganizationId));
    this.keysById.deleteWhere(
      (cached) =>
        cached.loaded === undefined ||
        (cached.loaded.organizationId === organizationId &&
          cached.loaded.customerOrganizationId === customerOrganizationId),
    );
  }

  /** Drops every cached key, e.g. after this instance may have missed a purge elsewhere. */
  forgetAll(): void {
    this.activeKeys.clear();
    this.keysById.clear();
  }

  /**
   * Whether this instance holds any unwrapped key of the organization, or of one of its customers when one is named
   * (purge tests, diagnostics).
   */
  holdsKeysOf(organizationId: string, customerOrganizationId?: string): boolean {
    const ofOrganization = (cached: CachedKey) =>
      cached.loaded?.organizationId === organizationId &&
      (customerOrganizationId === undefined || cached.loaded.customerOrganizationId === customerOrganizationId);
    return this.activeKeys.some(ofOrganization) || this.keysById.some(ofOrganization);
  }

  private cached(
    cache: BoundedCache<string, CachedKey>,
    cacheKey: string,
    load: () => Promise<DataKey>,
  ): Promise<DataKey> {
    const hit = cache.get(cacheKey);
    if (hit !== undefined) return hit.pending;
    const entry: CachedKey = { pending: load() };
    cache.set(cacheKey, entry);
    entry.pending.then(
      (dataKey) => (entry.loaded = dataKey),
      // A failed load is not remembered: the next call asks the store again.
      () => cache.get(cacheKey) === entry && cache.delete(cacheKey),
    );
    return entry.pending;
  }

  private async loadActiveKey(organizationId: string, customerOrganizationId: string | null): Promise<DataKey> {
    let stored = await this.store.activeKey(organizationId, customerOrganizationId);
    if (stored === undefined) {
      const created = await this.newKey(organizationId, customerOrganizationId);
      await this.store.insert(created.stored);
      stored = await this.store.activeKey(organizationId, customerOrganizationId);
      if (stored === undefined) throw new Error(`data key store kept no active key for the scope`);
    }
    return this.unwrapStored(stored);
  }

  private async loadKey(dataKeyId: string): Promise<DataKey> {
    const stored = await this.store.keyById(dataKeyId);
    if (stored === undefined) {
      throw new CryptoError(CryptoErrorCode.DATA_KEY_NOT_FOUND, `data key ${dataKeyId} does not exist (purged?)`);
    }
    return this.unwrapStored(stored);
  }

  private async unwrapStored(stored: StoredDataKey): Promise<DataKey> {
    const key = await this.master.unwrap(stored.masterKid, stored.wrapped);
    return {
      id: stored.id,
      organizationId: stored.organizationId,
      customerOrganizationId: stored.customerOrganizationId,
      key,
    };
  }

  private async newKey(
    organizationId: string,
    customerOrganizationId: string | null,
  ): Promise<{ stored: StoredDataKey; key: Buffer }> {
    const key = randomBytes(CONTENT_KEY_BYTES);
    const { masterKid, wrapped } = await this.master.wrap(key);
    const stored = {
      id: randomUUID(),
      organizationId,
      customerOrganizationId,
      masterKid,
      wrapped,
      active: true,
      createdAt: new Date(),
    };
    return { stored, key };
  }
}
