import { randomBytes, randomUUID } from 'node:crypto';
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
}

export interface EncryptedValue {
  /** JWE compact, `dir` + `A256GCM`, protected header `{alg, enc, kid: dataKeyId, sid: streamId}`. */
  readonly jwe: string;
  readonly dataKeyId: string;
}

interface DataKey {
  readonly id: string;
  readonly organizationId: string;
  readonly key: Buffer;
}

/** A promise, so concurrent first uses of a key share one store read and one unwrap. */
interface CachedKey {
  readonly pending: Promise<DataKey>;
  /** Set once loaded: the hot path then skips awaiting the promise, and a purge can tell the key's organization. */
  loaded?: DataKey;
}

const REWRAP_BATCH = 500;

/**
 * Encrypts secret values per vendor organization (ARCHITECTURE.md §6). Each organization has one active data key,
 * stored wrapped under the active master key; unwrapped keys are cached (bounded, with a TTL), so the hot path is a
 * map lookup plus one AES-256-GCM operation, done with node:crypto on the standard JWE compact form (see jwe-compact).
 */
export class DataKeyRing {
  private readonly keysById: BoundedCache<string, CachedKey>;
  private readonly activeKeys: BoundedCache<string, CachedKey>;

  constructor(
    private readonly master: MasterKeyRing,
    private readonly store: DataKeyStore,
    options: DataKeyRingOptions = {},
  ) {
    const maxCachedKeys = options.maxCachedKeys ?? 10_000;
    const ttlMs = options.cacheTtlMs ?? 60_000;
    this.keysById = new BoundedCache(maxCachedKeys, ttlMs);
    this.activeKeys = new BoundedCache(maxCachedKeys, ttlMs);
  }

  async encryptValue(organizationId: string, streamId: string, plaintext: string): Promise<EncryptedValue> {
    const dataKey =
      this.activeKeys.get(organizationId)?.loaded ??
      (await this.cached(this.activeKeys, organizationId, () => this.loadActiveKey(organizationId)));
    const header = { alg: 'dir', enc: 'A256GCM', kid: dataKey.id, sid: streamId };
    return { jwe: sealA256Gcm(dataKey.key, header, Buffer.from(plaintext, 'utf8')), dataKeyId: dataKey.id };
  }

  /** Decrypts a value, refusing it unless it was encrypted for `expectedStreamId`. */
  async decryptValue(jwe: string, expectedStreamId: string): Promise<string> {
    const parsed = parseCompactJwe(jwe);
    const { alg, kid, sid } = parsed.header;
    if (alg !== 'dir' || parsed.encryptedKey !== '' || typeof kid !== 'string' || typeof sid !== 'string') {
      throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'value is not a dir JWE with "kid" and "sid"');
    }
    // `sid` is in the authenticated header, so a value moved to another stream fails here or at the tag check.
    if (sid !== expectedStreamId) {
      throw new CryptoError(CryptoErrorCode.WRONG_STREAM, 'value was encrypted for another secret');
    }
    const dataKey = this.keysById.get(kid)?.loaded ?? (await this.cached(this.keysById, kid, () => this.loadKey(kid)));
    return openA256Gcm(dataKey.key, parsed).toString('utf8');
  }

  /** Gives the organization a new active data key for new writes; older keys stay for older versions. */
  async rotate(organizationId: string): Promise<string> {
    const { stored, key } = await this.newKey(organizationId);
    await this.store.replaceActive(stored);
    const loaded = { id: stored.id, organizationId, key };
    const cached = { pending: Promise.resolve(loaded), loaded };
    this.activeKeys.set(organizationId, cached);
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

  /** Drops this instance's cached keys of an organization, e.g. when another instance purged it. */
  forgetOrganization(organizationId: string): void {
    this.activeKeys.delete(organizationId);
    // Keys still loading have no known organization yet; dropping them too only costs a reload.
    this.keysById.deleteWhere(
      (cached) => cached.loaded === undefined || cached.loaded.organizationId === organizationId,
    );
  }

  /** Drops every cached key, e.g. after this instance may have missed a purge elsewhere. */
  forgetAll(): void {
    this.activeKeys.clear();
    this.keysById.clear();
  }

  /** Whether this instance holds any unwrapped key of the organization (purge tests, diagnostics). */
  holdsKeysOf(organizationId: string): boolean {
    const ofOrganization = (cached: CachedKey) => cached.loaded?.organizationId === organizationId;
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

  private async loadActiveKey(organizationId: string): Promise<DataKey> {
    let stored = await this.store.activeKey(organizationId);
    if (stored === undefined) {
      const created = await this.newKey(organizationId);
      await this.store.insert(created.stored);
      stored = await this.store.activeKey(organizationId);
      if (stored === undefined) throw new Error(`data key store kept no active key for the organization`);
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
    return { id: stored.id, organizationId: stored.organizationId, key };
  }

  private async newKey(organizationId: string): Promise<{ stored: StoredDataKey; key: Buffer }> {
    const key = randomBytes(CONTENT_KEY_BYTES);
    const { masterKid, wrapped } = await this.master.wrap(key);
    const stored = { id: randomUUID(), organizationId, masterKid, wrapped, active: true, createdAt: new Date() };
    return { stored, key };
  }
}
