// `npm run bench -- crypto`: the value hot path of libs/crypto beside node-jose and raw node:crypto AES-256-GCM,
// ECDH-ES resolve replies beside node-jose, and token verification cold and cached.
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
// eslint-disable-next-line no-restricted-imports -- node-jose is the baseline measured here, not a dependency of code.
import { JWE, JWK } from 'node-jose';
import {
  DataKeyRing,
  decryptWithReplyKey,
  encryptForReplyKey,
  generateReplyKeyPair,
  InMemoryDataKeyStore,
  MasterKeyRing,
  TokenSigner,
  TokenVerifier,
} from '@platform/crypto';
import { BenchFigure, renderTable } from './report';

const STREAM = 'secret:acme:_:DATABASE_PASSWORD';
const VALUE = randomBytes(24).toString('base64'); // 32 ASCII bytes

/** Sequential awaited calls per second over `ms`: one core's throughput. */
async function rate(fn: () => Promise<unknown>, ms: number): Promise<number> {
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 16; i++) await fn();
    runs += 16;
    elapsed = performance.now() - start;
  }
  return (runs * 1000) / elapsed;
}

/**
 * Measures candidates in alternating rounds and keeps each one's best round, so that load from other processes on a
 * shared machine hits a figure and its baseline alike instead of whichever ran during a spike.
 */
async function bestOf<K extends string>(
  candidates: Record<K, () => Promise<unknown>>,
  rounds = 5,
  ms = 400,
): Promise<Record<K, number>> {
  const names = Object.keys(candidates) as K[];
  const best = Object.fromEntries(names.map((name) => [name, 0])) as Record<K, number>;
  for (const name of names) await rate(candidates[name], 150); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const name of names) best[name] = Math.max(best[name], await rate(candidates[name], ms));
  }
  return best;
}

function versus(name: string, value: number, label: string, baseline: number): BenchFigure {
  return { name, value, unit: 'ops/s', baseline: { label, value: baseline } };
}

async function valueFigures(): Promise<BenchFigure[]> {
  const masterJwk = { kty: 'oct', kid: 'm1', k: randomBytes(32).toString('base64url') };
  const master = await MasterKeyRing.fromJwks({ keys: [masterJwk] });
  const store = new InMemoryDataKeyStore();
  const ring = new DataKeyRing(master, store);
  const place = { organizationId: 'acme', streamId: STREAM, version: 1, eventId: randomUUID() };
  const { jwe, dataKeyId } = await ring.encryptValue(place, VALUE);
  const stored = (await store.keyById(dataKeyId))!;
  const dataKey = await master.unwrap(stored.masterKid, stored.wrapped);

  const joseKey = await JWK.asKey({ kty: 'oct', kid: dataKeyId, k: dataKey.toString('base64url') });
  const fields = { alg: 'dir', enc: 'A256GCM', kid: dataKeyId, sid: STREAM, ver: 1, eid: place.eventId };
  const joseDecrypter = JWE.createDecrypt(joseKey);

  const rawIv = randomBytes(12);
  const rawCipher = createCipheriv('aes-256-gcm', dataKey, rawIv);
  const rawCiphertext = Buffer.concat([rawCipher.update(VALUE, 'utf8'), rawCipher.final()]);
  const rawTag = rawCipher.getAuthTag();

  const r = await bestOf({
    ourEncrypt: () => ring.encryptValue(place, VALUE),
    joseEncrypt: () => JWE.createEncrypt({ format: 'compact', fields }, joseKey).update(Buffer.from(VALUE)).final(),
    rawEncrypt: async () => {
      const cipher = createCipheriv('aes-256-gcm', dataKey, randomBytes(12));
      return [cipher.update(VALUE, 'utf8'), cipher.final(), cipher.getAuthTag()];
    },
    ourDecrypt: () => ring.decryptValue(jwe, place),
    joseDecrypt: () => joseDecrypter.decrypt(jwe),
    rawDecrypt: async () => {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, rawIv);
      decipher.setAuthTag(rawTag);
      return Buffer.concat([decipher.update(rawCiphertext), decipher.final()]).toString('utf8');
    },
  });
  const raw = 'raw node:crypto AES-256-GCM, no JWE';
  return [
    versus('value encrypt, DataKeyRing (JWE on node:crypto)', r.ourEncrypt, 'node-jose', r.joseEncrypt),
    versus('value encrypt, DataKeyRing', r.ourEncrypt, raw, r.rawEncrypt),
    versus('value decrypt, DataKeyRing (JWE on node:crypto)', r.ourDecrypt, 'node-jose', r.joseDecrypt),
    versus('value decrypt, DataKeyRing', r.ourDecrypt, raw, r.rawDecrypt),
  ];
}

async function replyFigures(): Promise<BenchFigure[]> {
  // What a resolve of 20 keys returns.
  const payload = {
    values: Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`KEY_${i}`, { value: VALUE, version: 1, scope: 'vendor' }]),
    ),
  };
  const plaintext = Buffer.from(JSON.stringify(payload));
  const { publicJwk, privateKey } = await generateReplyKeyPair();
  const reply = await encryptForReplyKey(publicJwk, payload);
  const recipient = await JWK.asKey(publicJwk);
  const fields = { alg: 'ECDH-ES', enc: 'A256GCM' };
  const joseRecipient = await JWK.createKey('EC', 'P-256', {});
  const joseReply = (await JWE.createEncrypt({ format: 'compact', fields }, joseRecipient)
    .update(plaintext)
    .final()) as unknown as string;
  const joseDecrypter = JWE.createDecrypt(joseRecipient);

  const r = await bestOf({
    ourKeyPair: () => generateReplyKeyPair(),
    joseKeyPair: () => JWK.createKey('EC', 'P-256', {}),
    ourEncrypt: () => encryptForReplyKey(publicJwk, payload),
    joseEncrypt: () => JWE.createEncrypt({ format: 'compact', fields }, recipient).update(plaintext).final(),
    ourDecrypt: () => decryptWithReplyKey(privateKey, reply),
    joseDecrypt: () => joseDecrypter.decrypt(joseReply),
  });
  return [
    versus('reply key pair, P-256 (caller, per request)', r.ourKeyPair, 'node-jose', r.joseKeyPair),
    versus('reply encrypt, ECDH-ES + A256GCM, 20 values (secrets)', r.ourEncrypt, 'node-jose', r.joseEncrypt),
    versus('reply decrypt, 20 values (caller)', r.ourDecrypt, 'node-jose', r.joseDecrypt),
  ];
}

async function tokenFigures(): Promise<BenchFigure[]> {
  const keys = {
    HS256: { kty: 'oct', kid: 'hs', k: randomBytes(32).toString('base64url') },
    ES256: { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'es' },
    RS256: { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'rs' },
  };
  const jwks = { keys: Object.values(keys) };
  const policy = {
    audience: 'secrets',
    issuers: ['secrets-platform'],
    serviceScopes: new Map<string, readonly string[]>(),
    maxUserLifetimeSeconds: 43_200,
    maxServiceLifetimeSeconds: 300,
  };
  const cold = await TokenVerifier.fromJwks(jwks, { policy, cacheSize: 0 });
  const cached = await TokenVerifier.fromJwks(jwks, { policy });
  const figures: BenchFigure[] = [];
  for (const [alg, jwk] of Object.entries(keys)) {
    const signer = await TokenSigner.fromJwk(jwk);
    const claims = { iss: 'secrets-platform', aud: 'secrets', sub: 'admin@acme', org: 'acme', org_type: 'vendor' };
    const token = await signer.sign(claims, { expiresInSeconds: 3600 });
    const r = await bestOf({ cold: () => cold.verify(token), cached: () => cached.verify(token) }, 3);
    figures.push({ name: `token verify ${alg}, cold (node-jose signature + claims)`, value: r.cold, unit: 'ops/s' });
    figures.push(versus(`token verify ${alg}, same token again (cached)`, r.cached, 'cold', r.cold));
  }
  return figures;
}

export async function run(): Promise<string> {
  const figures = [...(await valueFigures()), ...(await replyFigures()), ...(await tokenFigures())];
  return renderTable(
    'libs/crypto: 32-byte values, resolve replies, tokens (one core, sequential, best of rounds)',
    figures,
  );
}
