import { generateKeyPairSync } from 'node:crypto';
import devKey from '../../../../deploy/dev/audit-checkpoint-key.json';
import { GENESIS_HASH } from '../records/hash-chain';
import { type Checkpoint, CheckpointSigner, CheckpointVerifier } from './checkpoint';

function privateJwk(type: 'ec' | 'ed25519', kid: string): Record<string, unknown> {
  const { privateKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { ...privateKey.export({ format: 'jwk' }), kid };
}

const checkpoint: Checkpoint = {
  organizationId: 'acme',
  sequence: 42,
  hash: 'a'.repeat(64),
  count: 7,
  signedAt: new Date('2026-12-06T12:00:00.000Z'),
};

function tamper(compact: string, part: 0 | 1 | 2, change: (json: Record<string, unknown>) => void): string {
  const parts = compact.split('.');
  const json = JSON.parse(Buffer.from(parts[part], 'base64url').toString('utf8')) as Record<string, unknown>;
  change(json);
  parts[part] = Buffer.from(JSON.stringify(json)).toString('base64url');
  return parts.join('.');
}

describe('checkpoint signing', () => {
  it.each([['ec'], ['ed25519']] as const)('signs and verifies a %s checkpoint with the pinned public key', (type) => {
    const signer = CheckpointSigner.fromJwk(privateJwk(type, 'k1'));
    const verifier = CheckpointVerifier.fromJwks({ keys: [signer.publicKey] });
    const compact = signer.sign(checkpoint);

    expect(verifier.verify(compact)).toEqual({ ...checkpoint, keyId: 'k1' });
    expect(signer.publicKey).not.toHaveProperty('d');
  });

  it('signs a JCS payload an outside verifier can read', () => {
    const compact = CheckpointSigner.fromJwk(devKey).sign({ ...checkpoint, count: 0, sequence: 0, hash: GENESIS_HASH });
    const [header, payload] = compact.split('.').map((part) => Buffer.from(part, 'base64url').toString('utf8'));
    expect(JSON.parse(header)).toEqual({ alg: 'ES256', kid: 'dev-audit-checkpoint', typ: 'audit-checkpoint+jws' });
    expect(payload).toBe(
      `{"count":0,"hash":"${GENESIS_HASH}","organizationId":"acme","sequence":0,"signedAt":"2026-12-06T12:00:00.000Z","v":1}`,
    );
  });

  it('refuses a checkpoint signed by a key it does not pin, even under a pinned kid', () => {
    const pinned = CheckpointSigner.fromJwk(privateJwk('ec', 'audit-2026'));
    const forger = CheckpointSigner.fromJwk(privateJwk('ec', 'audit-2026'));
    const stranger = CheckpointSigner.fromJwk(privateJwk('ec', 'someone'));
    const verifier = CheckpointVerifier.fromJwks({ keys: [pinned.publicKey] });

    expect(() => verifier.verify(forger.sign(checkpoint))).toThrow(
      'checkpoint signature does not verify with key "audit-2026"',
    );
    expect(() => verifier.verify(stranger.sign(checkpoint))).toThrow(
      'checkpoint is signed by an unknown key "someone"',
    );
  });

  it('refuses an edited payload, a swapped algorithm and malformed input', () => {
    const signer = CheckpointSigner.fromJwk(privateJwk('ec', 'k1'));
    const verifier = CheckpointVerifier.fromJwks({ keys: [signer.publicKey] });
    const compact = signer.sign(checkpoint);

    expect(() => verifier.verify(tamper(compact, 1, (p) => (p.count = 8)))).toThrow('does not verify');
    expect(() => verifier.verify(tamper(compact, 0, (h) => (h.alg = 'none')))).toThrow(
      'checkpoint algorithm is not ES256',
    );
    expect(() => verifier.verify(tamper(compact, 0, (h) => (h.typ = 'JWT')))).toThrow('wrong type');
    expect(() => verifier.verify('not a jws')).toThrow('not a compact JWS');
    expect(() => verifier.verify(`${compact}.extra`)).toThrow('not a compact JWS');
    expect(() => verifier.verify('x'.repeat(5_000))).toThrow('too large');
  });

  it('refuses a validly signed payload that is not a checkpoint', () => {
    const signer = CheckpointSigner.fromJwk(privateJwk('ed25519', 'k1'));
    const verifier = CheckpointVerifier.fromJwks({ keys: [signer.publicKey] });
    for (const bad of [
      { ...checkpoint, organizationId: 'a.b' },
      { ...checkpoint, hash: 'XYZ' },
      { ...checkpoint, count: -1 },
      { ...checkpoint, sequence: 1.5 },
    ]) {
      expect(() => verifier.verify(signer.sign(bad))).toThrow('checkpoint payload is malformed');
    }
  });

  it('refuses keys that cannot sign checkpoints, naming the setting but never the key', () => {
    const ec = privateJwk('ec', 'k1');
    expect(() => CheckpointSigner.fromJwk({ ...ec, d: undefined })).toThrow(
      'AUDIT_CHECKPOINT_KEY: must be a private key',
    );
    expect(() => CheckpointSigner.fromJwk({ ...ec, kid: undefined })).toThrow('"kid" is required');
    expect(() => CheckpointSigner.fromJwk({ kty: 'oct', k: 'AAAA', kid: 'h' })).toThrow('only EC P-256');
    expect(() => CheckpointSigner.fromJwk({ ...ec, alg: 'ES384' })).toThrow('"alg" must be ES256');
    expect(() => CheckpointSigner.fromJwk({ ...ec, d: 'AAAA' })).toThrow('not a valid ES256 private key');
    expect(() => CheckpointSigner.fromJwk({ ...ec, d: 'AAAA' })).not.toThrow(String(ec.d));
    expect(() => CheckpointVerifier.fromJwks({ keys: [] })).toThrow('at least one key');
    const pub = CheckpointSigner.fromJwk(ec).publicKey;
    expect(() => CheckpointVerifier.fromJwks({ keys: [pub, pub] })).toThrow('kid "k1" appears twice');
  });
});
