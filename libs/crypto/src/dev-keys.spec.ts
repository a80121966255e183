import devJwks from '../../../deploy/dev/jwks.json';
import devMasterKeys from '../../../deploy/dev/master-keys.json';
import devReplyJwks from '../../../deploy/dev/reply-signing-jwks.json';
import devReplySigningKey from '../../../deploy/dev/reply-signing-key.json';
import devServiceKey from '../../../deploy/dev/service-key.json';
import { isDevKeyMaterial, MasterKeyRing, TokenSigner, TokenVerifier } from './index';

describe('dev key material in deploy/dev', () => {
  it('is marked as dev material throughout', () => {
    for (const material of [devJwks, devMasterKeys, devServiceKey, devReplySigningKey, devReplyJwks]) {
      expect(isDevKeyMaterial(material)).toBe(true);
    }
  });

  it('lets services verify tokens signed with the dev service key and with the dev HS256 key', async () => {
    const verifier = await TokenVerifier.fromJwks(devJwks);
    const hs256 = devJwks.keys.find((key) => key.kid === 'dev-hs256');
    for (const jwk of [devServiceKey, hs256]) {
      const signer = await TokenSigner.fromJwk(jwk);
      const token = await signer.sign({ sub: 'service:render' }, { expiresInSeconds: 60 });
      expect((await verifier.verify(token)).sub).toBe('service:render');
    }
  });

  it('publishes only the public half of the service key', () => {
    const published = devJwks.keys.find((key) => key.kid === 'dev-service');
    expect(published).toBeDefined();
    expect(published).not.toHaveProperty('d');
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
