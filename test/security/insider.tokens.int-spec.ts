// Issue 16, tokens: a service refuses to start, naming the setting, on key material that would weaken its tokens:
// `oct` (HS256) keys in production, a JWKS that does not trust its own key for itself, an issuer it does not trust,
// or a definition asking for scopes its key may not sign.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { type Environment } from '@platform/config';
import { type ServiceDefinition, startService } from '@platform/messaging';
import { testInfrastructure, uniqueSubjectPrefix } from '@platform/testing';
import { renderService } from '../../services/render/src/render.definition';

function ecKey(kid: string, signs: string): { privateJwk: object; publicJwk: object } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const member = { kid, alg: 'ES256', use: 'sig', signs };
  return {
    privateJwk: { ...privateKey.export({ format: 'jwk' }), ...member },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), ...member },
  };
}

const oct = (kid: string, signs: string) => ({
  kty: 'oct',
  kid,
  alg: 'HS256',
  use: 'sig',
  signs,
  k: randomBytes(32).toString('base64url'),
});

describe('insider: token key material a service refuses at start', () => {
  const render = ecKey('render-2026', 'service:render');
  const users = ecKey('idp-2026', 'users');

  /** render's definition with these keys; `production` sets only nodeEnv, isolating the token checks from the rest. */
  function definition(env: Environment, production = false): ServiceDefinition {
    const loaded = renderService({
      NODE_ENV: 'test',
      NATS_URL: testInfrastructure().natsUrl,
      NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(),
      HTTP_PORT: '0',
      LOG_LEVEL: 'silent',
      AUTH_JWKS: JSON.stringify({ keys: [users.publicJwk, render.publicJwk] }),
      SERVICE_SIGNING_KEY: JSON.stringify(render.privateJwk),
      ...env,
    });
    return production
      ? { ...loaded, config: Object.freeze({ ...loaded.config, nodeEnv: 'production' as const }) }
      : loaded;
  }

  async function refusal(definitionToStart: ServiceDefinition): Promise<string> {
    try {
      const running = await startService(definitionToStart);
      await running.close();
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected the service to refuse to start');
  }

  it('refuses oct keys in AUTH_JWKS and SERVICE_SIGNING_KEY when NODE_ENV=production', async () => {
    const withOct = { AUTH_JWKS: JSON.stringify({ keys: [oct('idp-hs', 'users'), render.publicJwk] }) };
    expect(await refusal(definition(withOct, true))).toBe(
      'invalid configuration:\n  - AUTH_JWKS: key "idp-hs": oct (HS256) keys are refused when NODE_ENV=production',
    );
    const octSigner = oct('render-hs', 'service:render');
    const signing = {
      AUTH_JWKS: JSON.stringify({ keys: [users.publicJwk, render.publicJwk] }),
      SERVICE_SIGNING_KEY: JSON.stringify(octSigner),
    };
    expect(await refusal(definition(signing, true))).toBe(
      'invalid configuration:\n  - SERVICE_SIGNING_KEY: signing key: oct (HS256) keys are refused when NODE_ENV=production',
    );
  });

  it('starts in production with asymmetric keys only, and outside production with an oct user key', async () => {
    const running = await startService(definition({}, true));
    await running.close();
    const dev = await startService(
      definition({ AUTH_JWKS: JSON.stringify({ keys: [oct('idp-hs', 'users'), render.publicJwk] }) }),
    );
    await dev.close();
  });

  it("refuses a JWKS that does not trust the service's own key for itself", async () => {
    const missing = { AUTH_JWKS: JSON.stringify({ keys: [users.publicJwk] }) };
    const message =
      'invalid configuration:\n  - SERVICE_SIGNING_KEY: AUTH_JWKS has no key "render-2026" with "signs": "service:render"';
    expect(await refusal(definition(missing))).toBe(message);
    const asRedaction = { AUTH_JWKS: JSON.stringify({ keys: [{ ...render.publicJwk, signs: 'service:redaction' }] }) };
    expect(await refusal(definition(asRedaction))).toBe(message);
  });

  it('refuses an own issuer the services do not trust, and a definition asking for scopes beyond its key', async () => {
    expect(await refusal(definition({ AUTH_ISSUERS: 'https://idp.example.com' }))).toBe(
      'invalid configuration:\n  - SERVICE_TOKEN_ISSUER must be one of AUTH_ISSUERS',
    );
    const greedy = { ...definition({}), scopes: ['secrets:resolve', 'redaction:redact'] as const };
    expect(await refusal(greedy)).toBe(
      'invalid configuration:\n  - render asks for scopes its key may not sign: redaction:redact (PLATFORM_SERVICE_SCOPES)',
    );
  });
});
