import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, integerSetting, urlList, urlSetting, keyMaterialSetting } from './config';
import { REPO_ROOT, loadServiceConfig, databaseSettings } from './platform-config';

const oct = (kid: string) => JSON.stringify({ keys: [{ kty: 'oct', kid, k: 'AAAA' }] });

/** The NATS TLS and credential settings production requires (nats-security.spec.ts tests them). */
function natsProductionEnv(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'config-spec-'));
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n');
  return { NATS_TLS_CA_FILE: join(dir, 'ca.pem'), NATS_USER: 'secrets', NATS_PASSWORD: 'pw' };
}
const natsProd = natsProductionEnv();

describe('configuration', () => {
  it('applies the documented defaults for local development', () => {
    const config = loadServiceConfig('render', databaseSettings, {});
    expect(config.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(config.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/secrets');
    expect(config.httpPort).toBe(8082);
    expect(config.subjectPrefix).toBe('');
    expect(config.jetStreamReplicas).toBe(1);
    expect(config.logLevel).toBe('info');
    expect(config.replyPrefixes).toEqual(['_INBOX.', '_INBOX_']);
    expect(config.authJwks.isDevDefault).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every bad variable together', () => {
    const env = { NATS_URL: 'http://x', HTTP_PORT: 'eighty', LOG_LEVEL: 'loud', NATS_SUBJECT_PREFIX: 'no dot' };
    let error: unknown;
    try {
      loadServiceConfig('secrets', {}, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/NATS_URL[\s\S]*NATS_SUBJECT_PREFIX[\s\S]*HTTP_PORT[\s\S]*LOG_LEVEL/);
  });

  it('takes NATS_URL as a comma-separated list of servers, each checked', () => {
    const cluster = ' nats://127.0.0.1:4222, nats://127.0.0.1:4223 ,tls://n3:4222';
    const config = loadServiceConfig('render', {}, { NATS_URL: cluster });
    expect(config.natsUrl).toBe('nats://127.0.0.1:4222,nats://127.0.0.1:4223,tls://n3:4222');
    expect(urlList(config.natsUrl)).toEqual(['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223', 'tls://n3:4222']);
    expect(() => loadServiceConfig('render', {}, { NATS_URL: 'nats://a:4222,http://b' })).toThrow(
      'NATS_URL entry 2 must be a nats: or tls: or ws: or wss: URL',
    );
    expect(() => loadServiceConfig('render', {}, { NATS_URL: 'nats://a:4222,not a url' })).toThrow(
      'NATS_URL entry 2 is not a valid URL',
    );
    expect(() => loadServiceConfig('render', {}, { NATS_URL: ' , ' })).toThrow('NATS_URL names no server');
  });

  it('reads NATS_REPLY_PREFIXES as a list and refuses wildcards or an empty item', () => {
    const strict = loadServiceConfig('render', {}, { NATS_REPLY_PREFIXES: '_INBOX_client., _INBOX_render.' });
    expect(strict.replyPrefixes).toEqual(['_INBOX_client.', '_INBOX_render.']);
    for (const value of ['>', '_INBOX.*', '_INBOX.,', 'a b']) {
      expect(() => loadServiceConfig('render', {}, { NATS_REPLY_PREFIXES: value })).toThrow(
        `NATS_REPLY_PREFIXES must be a comma-separated list of subject prefixes without spaces or wildcards, such as "_INBOX.,_INBOX_" (got "${value}")`,
      );
    }
  });

  it('never quotes sensitive content in a problem', () => {
    const secretish = '{"keys":[{"kty":"oct","k":"hunter2-super-secret"';
    expect(() => loadConfig({ keys: keyMaterialSetting('AUTH_JWKS', 'x', '/') }, { AUTH_JWKS: secretish })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('refuses dev key material in production, by default file or by kid', () => {
    expect(() => loadServiceConfig('secrets', {}, { NODE_ENV: 'production' })).toThrow(/AUTH_JWKS.*dev key material/);
    const prod = {
      ...natsProd,
      NODE_ENV: 'production',
      AUTH_JWKS: oct('idp-1'),
      SERVICE_SIGNING_KEY: oct('dev-service'),
    };
    expect(() => loadServiceConfig('secrets', {}, prod)).toThrow(/SERVICE_SIGNING_KEY: dev key material/);
    const ok = { ...prod, SERVICE_SIGNING_KEY: JSON.stringify({ kty: 'EC', kid: 'svc-2026' }) };
    expect(loadServiceConfig('secrets', {}, ok).authJwks.isDevDefault).toBe(false);
  });

  it('reports dev key material in production together with every other problem', () => {
    const env = { ...natsProd, NODE_ENV: 'production', HTTP_PORT: 'eighty', SERVICE_SIGNING_KEY: oct('svc-1') };
    let error: unknown;
    try {
      loadServiceConfig('render', {}, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^HTTP_PORT must be/),
      'AUTH_JWKS: dev key material is refused when NODE_ENV=production',
    ]);
  });

  describe('SECRETS_MASTER_KEYS in production (declared as the secrets service declares it)', () => {
    const masterKeys = {
      masterKeys: keyMaterialSetting('SECRETS_MASTER_KEYS', 'deploy/dev/master-keys.json', REPO_ROOT),
    };
    const prod = { ...natsProd, NODE_ENV: 'production', AUTH_JWKS: oct('idp-1'), SERVICE_SIGNING_KEY: oct('svc-1') };
    const refusal = 'SECRETS_MASTER_KEYS: dev key material is refused when NODE_ENV=production';
    const problemsOf = (env: Record<string, string>): readonly string[] => {
      try {
        loadServiceConfig('secrets', masterKeys, env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };

    it('refuses the dev default file', () => {
      expect(problemsOf(prod)).toEqual([refusal]);
    });

    it('refuses the dev keys named explicitly, and any key set with a dev- kid', () => {
      expect(problemsOf({ ...prod, SECRETS_MASTER_KEYS_FILE: `${REPO_ROOT}/deploy/dev/master-keys.json` })).toEqual([
        refusal,
      ]);
      expect(problemsOf({ ...prod, SECRETS_MASTER_KEYS: oct('dev-master-7') })).toEqual([refusal]);
    });

    it('accepts production master keys, and the dev ones outside production', () => {
      expect(problemsOf({ ...prod, SECRETS_MASTER_KEYS: oct('master-2026') })).toEqual([]);
      expect(problemsOf({ ...prod, NODE_ENV: 'test' })).toEqual([]);
    });
  });

  it('accepts only one of NAME and NAME_FILE', () => {
    expect(() =>
      loadConfig({ k: keyMaterialSetting('AUTH_JWKS', 'x', '/') }, { AUTH_JWKS: '{}', AUTH_JWKS_FILE: '/tmp/x' }),
    ).toThrow(/only one of AUTH_JWKS and AUTH_JWKS_FILE/);
  });

  it('validates integer ranges and URL schemes', () => {
    expect(() => loadConfig({ n: integerSetting('N', { default: 1, min: 1, max: 5 }) }, { N: '6' })).toThrow(
      /N must be/,
    );
    expect(() => loadConfig({ u: urlSetting('U', 'nats://x', ['nats:']) }, { U: 'not a url' })).toThrow(
      /not a valid URL/,
    );
  });
});
