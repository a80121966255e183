import { randomUUID } from 'node:crypto';
import devJwks from '../../../deploy/dev/jwks.json';
import devMasterKeys from '../../../deploy/dev/master-keys.json';
import devReplyJwks from '../../../deploy/dev/reply-signing-jwks.json';
import devReplySigningKey from '../../../deploy/dev/reply-signing-key.json';
import auditKey from '../../../deploy/dev/service-key-audit.json';
import redactionKey from '../../../deploy/dev/service-key-redaction.json';
import renderKey from '../../../deploy/dev/service-key-render.json';
import secretsKey from '../../../deploy/dev/service-key-secrets.json';
import { isDevKeyMaterial, MasterKeyRing, TokenSigner, TokenVerifier } from './index';

const serviceKeys = { secrets: secretsKey, render: renderKey, redaction: redactionKey, audit: auditKey };

describe('dev key material in deploy/dev', () => {
  const policy = {
    audience: 'secrets',
    issuers: ['secrets-platform'],
    serviceScopes: new Map(Object.keys(serviceKeys).map((name) => [name, []])),
    maxUserLifetimeSeconds: 43_200,
    maxServiceLifetimeSeconds: 300,
  };

  it('is marked as dev material throughout', () => {
    for (const material of [devJwks, devMasterKeys, devReplySigningKey, devReplyJwks, ...Object.values(serviceKeys)]) {
      expect(isDevKeyMaterial(material)).toBe(true);
    }
  });

  it('gives each service its own key, which verifies only as that service', async () => {
    const verifier = await TokenVerifier.fromJwks(devJwks, { policy });
    for (const [name, jwk] of Object.entries(serviceKeys)) {
      expect(jwk.signs).toBe(`service:${name}`);
      const signer = await TokenSigner.fromJwk(jwk);
      const claims = { iss: 'secrets-platform', aud: 'secrets', org_type: 'service', jti: randomUUID() };
      const own = await signer.sign({ ...claims, sub: `service:${name}`, org: name }, { expiresInSeconds: 60 });
      expect((await verifier.verify(own)).sub).toBe(`service:${name}`);
      const other = name === 'render' ? 'redaction' : 'render';
      const forged = await signer.sign({ ...claims, sub: `service:${other}`, org: other }, { expiresInSeconds: 60 });
      await expect(verifier.verify(forged)).rejects.toThrow(`token key signs only service:${name}`);
    }
    expect(new Set(Object.values(serviceKeys).map((jwk) => jwk.kid)).size).toBe(4);
  });

  it('publishes only the public half of each service key, with its policy', () => {
    for (const jwk of Object.values(serviceKeys)) {
      const published = devJwks.keys.find((key) => key.kid === jwk.kid);
      expect(published).toEqual({
        kty: 'EC',
        crv: 'P-256',
        x: jwk.x,
        y: jwk.y,
        kid: jwk.kid,
        alg: 'ES256',
        use: 'sig',
        signs: jwk.signs,
      });
    }
  });

  it('signs users with dev-hs256 and outside service principals with dev-clients', () => {
    const policies = new Map(devJwks.keys.map((key) => [key.kid, key.signs]));
    expect(policies.get('dev-hs256')).toBe('users');
    expect(policies.get('dev-clients')).toBe('clients');
  });

  it('publishes only the public half of the reply-signing key', () => {
    expect(devReplyJwks.keys).toEqual([
      expect.objectContaining({ kid: devReplySigningKey.kid, x: devReplySigningKey.x }),
    ]);
    expect(devReplyJwks.keys[0]).not.toHaveProperty('d');
  });

  it('holds one 256-bit master key', async () => {
    expect((await MasterKeyRing.fromJwks(devMasterKeys)).activeKid).toBe('dev-master-1');
  });
});
