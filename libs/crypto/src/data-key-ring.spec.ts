import { randomBytes } from 'node:crypto';
import { JWE, JWK } from 'node-jose';
import {
  CryptoError,
  CryptoErrorCode,
  DataKeyRing,
  InMemoryDataKeyStore,
  MasterKeyRing,
  StoredDataKey,
  type DataKeyRingOptions,
  type ValuePlace,
  valueDigest,
} from './index';

const STREAM = 'secret:acme:_:DATABASE_PASSWORD';
const OTHER_STREAM = 'secret:acme:_:API_KEY';
const VALUE = 'correct horse battery staple';
const EVENT_ID = '0b6f7d3e-2f4c-4a8e-9d1b-5c3a7e9f1a2b';

/** The place of version `version` of a stream, whose organization and customer are the stream's second and third parts. */
const at = (streamId: string, version = 1, eventId = EVENT_ID): ValuePlace => ({
  organizationId: streamId.split(':')[1],
  customerOrganizationId: streamId.split(':')[2] === '_' ? null : streamId.split(':')[2],
  streamId,
  version,
  eventId,
});

const masterJwk = (kid: string) => ({ kty: 'oct', kid, k: randomBytes(32).toString('base64url') });

/** Counts store reads, to show the hot path does not touch the store or unwrap per value. */
class CountingStore extends InMemoryDataKeyStore {
  reads = 0;
  override async keyById(dataKeyId: string): Promise<StoredDataKey | undefined> {
    this.reads++;
    return super.keyById(dataKeyId);
  }
  override async activeKey(
    organizationId: string,
    customerOrganizationId: string | null,
  ): Promise<StoredDataKey | undefined> {
    this.reads++;
    return super.activeKey(organizationId, customerOrganizationId);
  }
}

async function setup(options: DataKeyRingOptions = {}) {
  const m1 = masterJwk('m1');
  const master = await MasterKeyRing.fromJwks({ keys: [m1] });
  const store = new CountingStore();
  return { m1, master, store, ring: new DataKeyRing(master, store, options) };
}

function headerOf(jwe: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwe.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
}

async function refusal(promise: Promise<unknown>): Promise<CryptoError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as Error).message).not.toContain(VALUE);
    return error as CryptoError;
  }
  throw new Error('expected a CryptoError');
}

async function dataKeyBytes(master: MasterKeyRing, store: InMemoryDataKeyStore, id: string): Promise<Buffer> {
  const stored = await store.keyById(id);
  return master.unwrap(stored!.masterKid, stored!.wrapped);
}

describe('DataKeyRing', () => {
  it('encrypts a value as a dir/A256GCM JWE naming its data key and stream, and decrypts it back', async () => {
    const { ring } = await setup();
    const { jwe, dataKeyId } = await ring.encryptValue(at(STREAM), VALUE);
    expect(headerOf(jwe)).toEqual({ alg: 'dir', enc: 'A256GCM', kid: dataKeyId, sid: STREAM, ver: 1, eid: EVENT_ID });
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).not.toContain(Buffer.from(VALUE).toString('base64url'));
    expect(await ring.decryptValue(jwe, at(STREAM))).toBe(VALUE);
    const again = await ring.encryptValue(at(STREAM), VALUE);
    expect(again.jwe).not.toBe(jwe);
    expect(await ring.decryptValue(again.jwe, at(STREAM))).toBe(VALUE);
    expect(await ring.decryptValue((await ring.encryptValue(at(STREAM), 'ünïcødé ✓')).jwe, at(STREAM))).toBe(
      'ünïcødé ✓',
    );
  });

  it('keeps one wrapped data key per organization, created on first use', async () => {
    const { ring, store } = await setup();
    const acme = await ring.encryptValue(at(STREAM), VALUE);
    const acme2 = await ring.encryptValue(at(OTHER_STREAM), VALUE);
    const globex = await ring.encryptValue(at('secret:globex:_:API_KEY'), VALUE);
    expect(acme2.dataKeyId).toBe(acme.dataKeyId);
    expect(globex.dataKeyId).not.toBe(acme.dataKeyId);
    expect(store.all().map(({ organizationId, masterKid, active }) => ({ organizationId, masterKid, active }))).toEqual(
      [
        { organizationId: 'acme', masterKid: 'm1', active: true },
        { organizationId: 'globex', masterKid: 'm1', active: true },
      ],
    );
  });

  it('lets instances racing on an organization first use agree on one data key', async () => {
    const { master, store } = await setup();
    const rings = Array.from({ length: 4 }, () => new DataKeyRing(master, store));
    const values = await Promise.all(rings.map((ring, i) => ring.encryptValue(at(STREAM), `${VALUE} ${i}`)));
    expect(new Set(values.map((value) => value.dataKeyId)).size).toBe(1);
    expect(store.all()).toHaveLength(1);
    for (const [i, value] of values.entries())
      expect(await rings[0].decryptValue(value.jwe, at(STREAM))).toBe(`${VALUE} ${i}`);
  });

  it('refuses a value decrypted as another stream, and a header whose sid was swapped', async () => {
    const { ring } = await setup();
    const { jwe } = await ring.encryptValue(at(STREAM), VALUE);
    const wrong = await refusal(ring.decryptValue(jwe, at(OTHER_STREAM)));
    expect([wrong.code, wrong.message]).toEqual([
      CryptoErrorCode.WRONG_STREAM,
      'value was encrypted for another secret',
    ]);
    const [, ...rest] = jwe.split('.');
    const moved = [Buffer.from(JSON.stringify({ ...headerOf(jwe), sid: OTHER_STREAM })).toString('base64url'), ...rest];
    const forged = await refusal(ring.decryptValue(moved.join('.'), at(OTHER_STREAM)));
    expect([forged.code, forged.message]).toEqual([CryptoErrorCode.DECRYPT_FAILED, 'ciphertext failed authentication']);
  });

  describe('binding to the place a value is read from', () => {
    const OTHER_EVENT = '5d0c1a9e-7b3f-4e62-8a14-c9f0e2d7b6a3';

    it('refuses a value read as another version or event of its stream, naming neither value nor ciphertext', async () => {
      const { ring } = await setup();
      const { jwe } = await ring.encryptValue(at(STREAM, 1), VALUE);
      const version = await refusal(ring.decryptValue(jwe, at(STREAM, 3)));
      expect([version.code, version.message]).toEqual([
        CryptoErrorCode.WRONG_PLACE,
        'value was encrypted for version 1 of its secret, not version 3',
      ]);
      expect(version.message).not.toContain(jwe.split('.')[3]);
      const event = await refusal(ring.decryptValue(jwe, at(STREAM, 1, OTHER_EVENT)));
      expect([event.code, event.message]).toEqual([
        CryptoErrorCode.WRONG_PLACE,
        'value was encrypted for another event',
      ]);
      expect(await ring.decryptValue(jwe, at(STREAM, 1))).toBe(VALUE);
    });

    it('refuses a header whose ver or eid was rewritten to the new place (authenticated)', async () => {
      const { ring } = await setup();
      const { jwe } = await ring.encryptValue(at(STREAM, 1), VALUE);
      const [, ...rest] = jwe.split('.');
      for (const changed of [{ ver: 3 }, { eid: OTHER_EVENT }]) {
        const header = { ...headerOf(jwe), ...changed };
        const moved = [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.');
        const place = at(STREAM, header.ver as number, header.eid as string);
        expect((await refusal(ring.decryptValue(moved, place))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
      }
    });

    it("checks the data key's organization against the place, even when sid was forged to match", async () => {
      const { ring, master, store } = await setup();
      const globexStream = 'secret:globex:_:API_KEY';
      // A globex value re-sealed (by whoever holds globex's data key) as if it were acme's: sid says acme.
      const { dataKeyId } = await ring.encryptValue(at(globexStream), VALUE);
      const key = await JWK.asKey({
        kty: 'oct',
        kid: dataKeyId,
        k: (await dataKeyBytes(master, store, dataKeyId)).toString('base64url'),
      });
      const fields = { alg: 'dir', enc: 'A256GCM', kid: dataKeyId, sid: STREAM, ver: 1, eid: EVENT_ID };
      const forged = (await JWE.createEncrypt({ format: 'compact', fields }, key)
        .update(Buffer.from(VALUE))
        .final()) as string;
      const error = await refusal(ring.decryptValue(forged, at(STREAM)));
      expect([error.code, error.message]).toEqual([
        CryptoErrorCode.WRONG_ORGANIZATION,
        "value's data key belongs to another organization",
      ]);
    });

    it('refuses to seal a place of another organization than the sealer key', async () => {
      const { ring } = await setup();
      const sealer = await ring.sealerFor('acme', null);
      expect(() => sealer.seal(at('secret:globex:_:K'), VALUE)).toThrow(
        expect.objectContaining({ code: CryptoErrorCode.WRONG_ORGANIZATION }),
      );
      const sealed = sealer.seal(at(STREAM, 4), VALUE);
      expect(sealed.dataKeyId).toBe(sealer.dataKeyId);
      expect(await ring.decryptValue(sealed.jwe, at(STREAM, 4))).toBe(VALUE);
    });

    it('decrypts a previous-release value (sid only) only when unbound values are accepted', async () => {
      const { ring, master, store } = await setup();
      const { dataKeyId } = await ring.encryptValue(at(STREAM), 'first');
      const key = await JWK.asKey({
        kty: 'oct',
        kid: dataKeyId,
        k: (await dataKeyBytes(master, store, dataKeyId)).toString('base64url'),
      });
      const fields = { alg: 'dir', enc: 'A256GCM', kid: dataKeyId, sid: STREAM };
      const legacy = (await JWE.createEncrypt({ format: 'compact', fields }, key)
        .update(Buffer.from(VALUE))
        .final()) as string;
      const refused = await refusal(ring.decryptValue(legacy, at(STREAM, 3)));
      expect([refused.code, refused.message]).toEqual([
        CryptoErrorCode.WRONG_PLACE,
        'value is not bound to a version and event',
      ]);
      expect(await ring.decryptValue(legacy, at(STREAM, 3), { acceptUnbound: true })).toBe(VALUE);
      // Still checked for its stream and organization.
      expect((await refusal(ring.decryptValue(legacy, at(OTHER_STREAM), { acceptUnbound: true }))).code).toBe(
        CryptoErrorCode.WRONG_STREAM,
      );
      const strict = new DataKeyRing(master, store, { refuseUnbound: true });
      expect((await refusal(strict.decryptValue(legacy, at(STREAM, 3), { acceptUnbound: true }))).code).toBe(
        CryptoErrorCode.WRONG_PLACE,
      );
      const half = { ...fields, ver: 3 };
      const halfBound = (await JWE.createEncrypt({ format: 'compact', fields: half }, key)
        .update(Buffer.from(VALUE))
        .final()) as string;
      expect((await refusal(ring.decryptValue(halfBound, at(STREAM, 3), { acceptUnbound: true }))).code).toBe(
        CryptoErrorCode.MALFORMED_CIPHERTEXT,
      );
    });

    it('digests a ciphertext as base64url SHA-256 of its JWE text, as encryptValue reports it', async () => {
      const { ring } = await setup();
      const sealed = await ring.encryptValue(at(STREAM), VALUE);
      expect(sealed.digest).toBe(valueDigest(sealed.jwe));
      expect(sealed.digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(valueDigest('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    });
  });

  it('refuses a tampered ciphertext, tag or IV', async () => {
    const { ring } = await setup();
    const { jwe } = await ring.encryptValue(at(STREAM), VALUE);
    for (const part of [2, 3, 4]) {
      const parts = jwe.split('.');
      const bytes = Buffer.from(parts[part], 'base64url');
      bytes[0] ^= 0x80;
      parts[part] = bytes.toString('base64url');
      expect((await refusal(ring.decryptValue(parts.join('.'), at(STREAM)))).code).toBe(CryptoErrorCode.DECRYPT_FAILED);
    }
  });

  it('refuses a value whose data key does not exist', async () => {
    const { ring } = await setup();
    const { jwe } = await ring.encryptValue(at(STREAM), VALUE);
    const parts = jwe.split('.');
    parts[0] = Buffer.from(JSON.stringify({ ...headerOf(jwe), kid: 'no-such-key' })).toString('base64url');
    const error = await refusal(ring.decryptValue(parts.join('.'), at(STREAM)));
    expect([error.code, error.message]).toEqual([
      CryptoErrorCode.DATA_KEY_NOT_FOUND,
      'data key no-such-key does not exist (purged?)',
    ]);
  });

  it('refuses what is not a dir/A256GCM JWE with kid and sid', async () => {
    const { ring } = await setup();
    const { jwe } = await ring.encryptValue(at(STREAM), VALUE);
    const withHeader = (header: Record<string, unknown>) =>
      [Buffer.from(JSON.stringify(header)).toString('base64url'), ...jwe.split('.').slice(1)].join('.');
    const header = headerOf(jwe);
    for (const malformed of [
      '',
      'a.b.c',
      jwe.replace('..', '.x.'),
      withHeader({ ...header, alg: 'A256KW' }),
      withHeader({ ...header, enc: 'A128GCM' }),
      withHeader({ ...header, zip: 'DEF' }),
      withHeader({ alg: 'dir', enc: 'A256GCM', kid: header.kid }),
      jwe.slice(0, -3),
    ]) {
      expect((await refusal(ring.decryptValue(malformed, at(STREAM)))).code).toBe(CryptoErrorCode.MALFORMED_CIPHERTEXT);
    }
  });

  it('reads the store and unwraps once per data key, not per value, even under concurrency', async () => {
    const { master, store } = await setup();
    const writer = new DataKeyRing(master, store);
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => writer.encryptValue(at(STREAM), `v${i}`)));
    const reader = new DataKeyRing(master, store);
    store.reads = 0;
    const plaintexts = await Promise.all(values.map((value) => reader.decryptValue(value.jwe, at(STREAM))));
    expect(plaintexts).toEqual(values.map((_, i) => `v${i}`));
    for (const value of values) await reader.decryptValue(value.jwe, at(STREAM));
    expect(store.reads).toBe(1);
  });

  describe('interop with node-jose', () => {
    it('node-jose decrypts our values and reads kid and sid from the protected header', async () => {
      const { ring, master, store } = await setup();
      const { jwe, dataKeyId } = await ring.encryptValue(at(STREAM), VALUE);
      const key = await JWK.asKey({
        kty: 'oct',
        k: (await dataKeyBytes(master, store, dataKeyId)).toString('base64url'),
      });
      const result = await JWE.createDecrypt(key).decrypt(jwe);
      expect(result.plaintext.toString('utf8')).toBe(VALUE);
      expect(result.header).toMatchObject({ alg: 'dir', enc: 'A256GCM', kid: dataKeyId, sid: STREAM });
    });

    it('we decrypt values node-jose encrypted with kid and sid, and check the sid', async () => {
      const { ring, master, store } = await setup();
      const { dataKeyId } = await ring.encryptValue(at(STREAM), 'first');
      const k = (await dataKeyBytes(master, store, dataKeyId)).toString('base64url');
      const key = await JWK.asKey({ kty: 'oct', kid: dataKeyId, k });
      const fields = { alg: 'dir', enc: 'A256GCM', kid: dataKeyId, sid: STREAM, ver: 2, eid: EVENT_ID };
      const jwe = (await JWE.createEncrypt({ format: 'compact', fields }, key)
        .update(Buffer.from(VALUE))
        .final()) as string;
      expect(headerOf(jwe)).toMatchObject({ kid: dataKeyId, sid: STREAM, ver: 2, eid: EVENT_ID });
      const fresh = new DataKeyRing(master, store);
      expect(await fresh.decryptValue(jwe, at(STREAM, 2))).toBe(VALUE);
      expect((await refusal(fresh.decryptValue(jwe, at(OTHER_STREAM, 2)))).code).toBe(CryptoErrorCode.WRONG_STREAM);
      expect((await refusal(fresh.decryptValue(jwe, at(STREAM, 1)))).code).toBe(CryptoErrorCode.WRONG_PLACE);
    });
  });

  describe('rotation and crypto-shredding', () => {
    it('rotate gives the organization a new key for new values while old values stay readable', async () => {
      const { ring, store, master } = await setup();
      const before = await ring.encryptValue(at(STREAM), 'v1');
      const rotated = await ring.rotate('acme');
      const after = await ring.encryptValue(at(STREAM), 'v2');
      expect(after.dataKeyId).toBe(rotated);
      expect(rotated).not.toBe(before.dataKeyId);
      expect(store.all().map((key) => [key.id, key.active])).toEqual([
        [before.dataKeyId, false],
        [rotated, true],
      ]);
      const fresh = new DataKeyRing(master, store);
      expect(await fresh.decryptValue(before.jwe, at(STREAM))).toBe('v1');
      expect(await fresh.decryptValue(after.jwe, at(STREAM))).toBe('v2');
    });

    it('an instance picks up a rotation done elsewhere once its cache entry expires', async () => {
      const { store, master } = await setup();
      const uncached = new DataKeyRing(master, store, { cacheTtlMs: 0 });
      const first = await uncached.encryptValue(at(STREAM), VALUE);
      const rotated = await new DataKeyRing(master, store).rotate('acme');
      expect((await uncached.encryptValue(at(STREAM), VALUE)).dataKeyId).toBe(rotated);
      expect(first.dataKeyId).not.toBe(rotated);
    });

    it('rewrapAll moves every data key under the new active master, changing no value', async () => {
      const { m1, ring, store } = await setup();
      const globexStream = 'secret:globex:_:API_KEY';
      const values = [
        { stream: STREAM, ...(await ring.encryptValue(at(STREAM), 'a1')) },
        { stream: globexStream, ...(await ring.encryptValue(at(globexStream), 'g1')) },
      ];
      await ring.rotate('acme');
      values.push({ stream: STREAM, ...(await ring.encryptValue(at(STREAM), 'a2')) });
      const m2 = masterJwk('m2');
      const rewrapper = new DataKeyRing(await MasterKeyRing.fromJwks({ keys: [m2, m1] }), store);
      expect(await rewrapper.rewrapAll()).toBe(3);
      expect(store.all().map((key) => key.masterKid)).toEqual(['m2', 'm2', 'm2']);
      expect(await rewrapper.rewrapAll()).toBe(0);
      const withoutM1 = new DataKeyRing(await MasterKeyRing.fromJwks({ keys: [m2] }), store);
      const plaintexts = await Promise.all(values.map((value) => withoutM1.decryptValue(value.jwe, at(value.stream))));
      expect(plaintexts).toEqual(['a1', 'g1', 'a2']);
    });

    it('rewrapAll reports (0, total) first, then one more key at a time up to the total it counted', async () => {
      const { m1, ring, store } = await setup();
      const organizations = ['acme', 'globex', 'initech', 'umbrella'];
      for (const org of organizations) await ring.encryptValue(at(`secret:${org}:_:K`), VALUE);
      await ring.rotate('acme');
      const m2 = masterJwk('m2');
      const rewrapper = new DataKeyRing(await MasterKeyRing.fromJwks({ keys: [m2, m1] }), store);
      // One key already under m2 is not counted: the total is what is left to rewrap.
      await rewrapper.rotate('globex');
      const progress: [number, number][] = [];
      expect(await rewrapper.rewrapAll((done, total) => progress.push([done, total]))).toBe(5);
      expect(progress).toEqual([
        [0, 5],
        [1, 5],
        [2, 5],
        [3, 5],
        [4, 5],
        [5, 5],
      ]);
      const again: [number, number][] = [];
      expect(await rewrapper.rewrapAll((done, total) => again.push([done, total]))).toBe(0);
      expect(again).toEqual([[0, 0]]);
    });

    it('rewrapAll raises the total when keys under the old master appear while it runs', async () => {
      const { m1, master, ring, store } = await setup();
      await ring.encryptValue(at(STREAM), VALUE);
      const elsewhere = new InMemoryDataKeyStore();
      await new DataKeyRing(master, elsewhere).encryptValue(at('secret:globex:_:K'), VALUE);
      const [late] = elsewhere.all();
      // An instance still configured with m1 first stores a key after the count, before the first batch is read.
      const batchRead = store.keysNotWrappedUnder.bind(store);
      store.keysNotWrappedUnder = async (masterKid, limit) => {
        if (store.all().length === 1) await store.insert(late);
        return batchRead(masterKid, limit);
      };
      const rewrapper = new DataKeyRing(await MasterKeyRing.fromJwks({ keys: [masterJwk('m2'), m1] }), store);
      const progress: [number, number][] = [];
      expect(await rewrapper.rewrapAll((done, total) => progress.push([done, total]))).toBe(2);
      expect(progress).toEqual([
        [0, 1],
        [1, 1],
        [2, 2],
      ]);
      expect(store.all().map((key) => key.masterKid)).toEqual(['m2', 'm2']);
    });

    it('rewrapAll stops with MASTER_KEY_NOT_FOUND when the old master was removed too early', async () => {
      const { ring, store } = await setup();
      await ring.encryptValue(at(STREAM), VALUE);
      const tooEarly = new DataKeyRing(await MasterKeyRing.fromJwks({ keys: [masterJwk('m2')] }), store);
      const error = await refusal(tooEarly.rewrapAll());
      expect([error.code, error.message]).toEqual([
        CryptoErrorCode.MASTER_KEY_NOT_FOUND,
        'master key "m1" is not configured',
      ]);
    });

    it("purge makes the organization's values unrecoverable and leaves other organizations alone", async () => {
      const { ring, store, master } = await setup();
      const acme = await ring.encryptValue(at(STREAM), VALUE);
      await ring.rotate('acme');
      const acmeAfterRotate = await ring.encryptValue(at(STREAM), VALUE);
      const globex = await ring.encryptValue(at('secret:globex:_:API_KEY'), VALUE);
      expect(await ring.purge('acme')).toBe(2);
      for (const reader of [ring, new DataKeyRing(master, store)]) {
        for (const value of [acme, acmeAfterRotate]) {
          expect((await refusal(reader.decryptValue(value.jwe, at(STREAM)))).code).toBe(
            CryptoErrorCode.DATA_KEY_NOT_FOUND,
          );
        }
        expect(await reader.decryptValue(globex.jwe, at('secret:globex:_:API_KEY'))).toBe(VALUE);
      }
      const reborn = await ring.encryptValue(at(STREAM), VALUE);
      expect([acme.dataKeyId, acmeAfterRotate.dataKeyId]).not.toContain(reborn.dataKeyId);
    });

    it('another instance keeps a purged key only until it forgets the organization', async () => {
      const { ring, store, master } = await setup();
      const other = new DataKeyRing(master, store);
      const acme = await ring.encryptValue(at(STREAM), VALUE);
      const globex = await ring.encryptValue(at('secret:globex:_:API_KEY'), VALUE);
      expect(await other.decryptValue(acme.jwe, at(STREAM))).toBe(VALUE);
      expect(await other.decryptValue(globex.jwe, at('secret:globex:_:API_KEY'))).toBe(VALUE);
      await ring.purge('acme');
      expect(await other.decryptValue(acme.jwe, at(STREAM))).toBe(VALUE);
      other.forgetOrganization('acme');
      expect((await refusal(other.decryptValue(acme.jwe, at(STREAM)))).code).toBe(CryptoErrorCode.DATA_KEY_NOT_FOUND);
      store.reads = 0;
      expect(await other.decryptValue(globex.jwe, at('secret:globex:_:API_KEY'))).toBe(VALUE);
      expect(store.reads).toBe(0);
    });

    it('tells whether it holds keys of an organization, and forgets every key at once', async () => {
      const { ring, store, master } = await setup();
      const reader = new DataKeyRing(master, store);
      const acme = await ring.encryptValue(at(STREAM), VALUE);
      await ring.encryptValue(at('secret:globex:_:API_KEY'), VALUE);
      expect([ring.holdsKeysOf('acme'), ring.holdsKeysOf('globex'), ring.holdsKeysOf('initech')]).toEqual([
        true,
        true,
        false,
      ]);
      // Keys loaded to decrypt count too.
      expect(await reader.decryptValue(acme.jwe, at(STREAM))).toBe(VALUE);
      expect(reader.holdsKeysOf('acme')).toBe(true);
      reader.forgetOrganization('acme');
      expect(reader.holdsKeysOf('acme')).toBe(false);
      ring.forgetAll();
      expect([ring.holdsKeysOf('acme'), ring.holdsKeysOf('globex')]).toEqual([false, false]);
      store.reads = 0;
      expect(await ring.decryptValue(acme.jwe, at(STREAM))).toBe(VALUE);
      expect(store.reads).toBe(1);
    });
  });

  describe('customer scopes', () => {
    const GLOBEX = 'secret:acme:globex:DATABASE_PASSWORD';
    const INITECH = 'secret:acme:initech:DATABASE_PASSWORD';

    it("seals each customer's values under a key of its own, apart from the vendor level's", async () => {
      const { store, ring } = await setup();
      const vendor = await ring.encryptValue(at(STREAM), VALUE);
      const globex = await ring.encryptValue(at(GLOBEX), VALUE);
      const initech = await ring.encryptValue(at(INITECH), VALUE);
      expect(new Set([vendor.dataKeyId, globex.dataKeyId, initech.dataKeyId]).size).toBe(3);
      expect(
        store
          .all()
          .map(({ organizationId, customerOrganizationId }) => `${organizationId}/${customerOrganizationId}`)
          .sort(),
      ).toEqual(['acme/globex', 'acme/initech', 'acme/null']);
      expect(await ring.decryptValue(globex.jwe, at(GLOBEX))).toBe(VALUE);
    });

    it("refuses to seal a value for another scope than its key's", async () => {
      const { ring } = await setup();
      const sealer = await ring.sealerFor('acme', 'globex');
      expect(() => sealer.seal(at(INITECH), VALUE)).toThrow('value sealed for another customer scope');
      expect(() => sealer.seal(at(STREAM), VALUE)).toThrow('value sealed for another customer scope');
    });

    it("refuses a customer key's ciphertext read as another customer's, even one sealed for that place", async () => {
      const { master, store, ring } = await setup();
      const globex = await ring.encryptValue(at(GLOBEX), VALUE);
      // Re-seal initech's place with globex's key bytes: only the key's recorded scope can tell.
      const key = await dataKeyBytes(master, store, globex.dataKeyId);
      const forged = await JWE.createEncrypt(
        {
          format: 'compact',
          fields: { alg: 'dir', enc: 'A256GCM', kid: globex.dataKeyId, sid: INITECH, ver: 1, eid: EVENT_ID },
        },
        await JWK.asKey({ kty: 'oct', kid: globex.dataKeyId, k: key.toString('base64url') }),
      )
        .update(Buffer.from(VALUE))
        .final();
      expect((await refusal(ring.decryptValue(forged, at(INITECH)))).code).toBe(CryptoErrorCode.WRONG_ORGANIZATION);
    });

    it("still opens a customer's value sealed under the vendor-level key by an earlier release", async () => {
      const { master, store, ring } = await setup();
      const vendor = await ring.encryptValue(at(STREAM), VALUE);
      const key = await dataKeyBytes(master, store, vendor.dataKeyId);
      const earlier = await JWE.createEncrypt(
        {
          format: 'compact',
          fields: { alg: 'dir', enc: 'A256GCM', kid: vendor.dataKeyId, sid: GLOBEX, ver: 1, eid: EVENT_ID },
        },
        await JWK.asKey({ kty: 'oct', kid: vendor.dataKeyId, k: key.toString('base64url') }),
      )
        .update(Buffer.from(VALUE))
        .final();
      expect(await ring.decryptValue(earlier, at(GLOBEX))).toBe(VALUE);
    });

    it("forgets one customer's keys and leaves the vendor level's and other customers' cached", async () => {
      const { store, ring } = await setup();
      const vendor = await ring.encryptValue(at(STREAM), VALUE);
      const globex = await ring.encryptValue(at(GLOBEX), VALUE);
      const initech = await ring.encryptValue(at(INITECH), VALUE);
      for (const [value, place] of [
        [vendor, STREAM],
        [globex, GLOBEX],
        [initech, INITECH],
      ] as const) {
        await ring.decryptValue(value.jwe, at(place));
      }
      const reads = store.reads;
      ring.forgetCustomer('acme', 'globex');
      await ring.decryptValue(vendor.jwe, at(STREAM));
      await ring.decryptValue(initech.jwe, at(INITECH));
      expect(store.reads).toBe(reads);
      await ring.decryptValue(globex.jwe, at(GLOBEX));
      expect(store.reads).toBe(reads + 1);
    });
  });
});
