import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config';
import { REPO_ROOT, loadServiceConfig } from './platform-config';

const SEED = `SU${'A'.repeat(56)}`;
const JWT = 'eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQSJ9.c2ln';
const CERT = '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n';
const CREDS = `-----BEGIN NATS USER JWT-----\n${JWT}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${SEED}\n------END USER NKEY SEED------\n`;

const dir = mkdtempSync(join(tmpdir(), 'nats-security-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
}

const files = {
  ca: file('ca.pem', CERT),
  cert: file('client.pem', CERT),
  key: file('client-key.pem', KEY),
  seed: file('render.nk', `${SEED}\n`),
  creds: file('render.creds', CREDS),
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadServiceConfig('render', {}, env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

/** Production apart from NATS: keys that are not the dev ones. */
const prodKeys = {
  NODE_ENV: 'production',
  AUTH_JWKS: JSON.stringify({ keys: [{ kty: 'EC', kid: 'idp-1' }] }),
  SERVICE_SIGNING_KEY: JSON.stringify({ kty: 'EC', kid: 'svc-1' }),
};

describe('NATS TLS and credential settings', () => {
  it('reads every file setting as an absolute path, and none when unset or empty', () => {
    const config = loadServiceConfig(
      'render',
      {},
      {
        NATS_TLS_CA_FILE: files.ca,
        NATS_TLS_CERT_FILE: files.cert,
        NATS_TLS_KEY_FILE: files.key,
        NATS_USER: 'render',
        NATS_NKEY_SEED_FILE: files.seed,
      },
    );
    expect(config).toMatchObject({
      natsTlsCaFile: files.ca,
      natsTlsCertFile: files.cert,
      natsTlsKeyFile: files.key,
      natsNkeySeedFile: files.seed,
      natsCredsFile: undefined,
    });
    expect(loadServiceConfig('render', {}, { NATS_TLS_CA_FILE: ' ', NATS_CREDS_FILE: '' })).toMatchObject({
      natsTlsCaFile: undefined,
      natsCredsFile: undefined,
    });
  });

  it('changes nothing outside production: plain, anonymous NATS is fine', () => {
    expect(problemsOf({})).toEqual([]);
    expect(problemsOf({ NODE_ENV: 'test' })).toEqual([]);
  });

  it('refuses a file that does not exist, a directory, and one it cannot read, naming the variable', () => {
    const unreadable = file('unreadable.pem', CERT);
    chmodSync(unreadable, 0o000);
    mkdirSync(join(dir, 'a-dir'), { recursive: true });
    const env = {
      NATS_TLS_CA_FILE: join(dir, 'missing.pem'),
      NATS_NKEY_SEED_FILE: join(dir, 'a-dir'),
      NATS_USER: 'render',
    };
    expect(problemsOf(env)).toEqual([
      `NATS_TLS_CA_FILE: cannot read ${join(dir, 'missing.pem')}`,
      `NATS_NKEY_SEED_FILE: ${join(dir, 'a-dir')} is not a file`,
    ]);
    // root reads any file whatever its mode; the check only means something for other users.
    if (process.getuid?.() !== 0) {
      expect(problemsOf({ NATS_TLS_CA_FILE: unreadable })).toEqual([`NATS_TLS_CA_FILE: cannot read ${unreadable}`]);
    }
  });

  it('refuses files that do not hold what their setting names, without quoting them', () => {
    const secretish = file('wrong.creds', `SU${'B'.repeat(56)}-not-a-creds-file`);
    const problems = problemsOf({
      NATS_TLS_CA_FILE: files.key,
      NATS_TLS_CERT_FILE: files.cert,
      NATS_TLS_KEY_FILE: files.cert,
      NATS_CREDS_FILE: secretish,
      NATS_USER: 'render',
    });
    expect(problems).toEqual([
      `NATS_TLS_CA_FILE: ${files.key} holds no PEM certificate`,
      `NATS_TLS_KEY_FILE: ${files.cert} holds no PEM private key`,
      `NATS_CREDS_FILE: ${secretish} is not a NATS credentials file (missing the user JWT and the user nkey seed)`,
    ]);
    expect(problems.join('\n')).not.toContain('BBBB');
    expect(problemsOf({ NATS_NKEY_SEED_FILE: files.ca })).toEqual([
      `NATS_NKEY_SEED_FILE: ${files.ca} is not a NATS user nkey seed (SU…)`,
    ]);
  });

  it('wants a client certificate and its key together', () => {
    const refusal = 'NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together: set both (a client certificate) or neither';
    expect(problemsOf({ NATS_TLS_CERT_FILE: files.cert })).toEqual([refusal]);
    expect(problemsOf({ NATS_TLS_KEY_FILE: files.key })).toEqual([refusal]);
  });

  it('takes one kind of credential at a time, and a password only with its user', () => {
    expect(problemsOf({ NATS_USER: 'render', NATS_PASSWORD: 'pw', NATS_NKEY_SEED_FILE: files.seed })).toEqual([
      'set only one kind of NATS credential, not NATS_PASSWORD and NATS_NKEY_SEED_FILE',
    ]);
    expect(problemsOf({ NATS_NKEY_SEED_FILE: files.seed, NATS_CREDS_FILE: files.creds })).toEqual([
      'set only one kind of NATS credential, not NATS_NKEY_SEED_FILE and NATS_CREDS_FILE',
    ]);
    expect(problemsOf({ NATS_PASSWORD: 'pw' })).toEqual(['NATS_PASSWORD needs NATS_USER, the user it belongs to']);
  });

  describe('in production', () => {
    const missingAll =
      'NODE_ENV=production needs TLS and credentials for NATS; missing: ' +
      'NATS_TLS_CA_FILE (the CA that signed the NATS server certificate), ' +
      'a NATS credential (NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE), ' +
      "NATS_USER (the service's NATS user, which names its reply inboxes)";

    it('refuses to start without TLS and credentials, naming every missing piece in one problem', () => {
      expect(problemsOf(prodKeys)).toEqual([missingAll]);
    });

    it('names only what is missing', () => {
      expect(problemsOf({ ...prodKeys, NATS_USER: 'render', NATS_PASSWORD: 'pw' })).toEqual([
        'NODE_ENV=production needs TLS and credentials for NATS; missing: NATS_TLS_CA_FILE (the CA that signed the NATS server certificate)',
      ]);
      expect(problemsOf({ ...prodKeys, NATS_TLS_CA_FILE: files.ca, NATS_USER: 'render' })).toEqual([
        'NODE_ENV=production needs TLS and credentials for NATS; missing: a NATS credential (NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE)',
      ]);
      expect(problemsOf({ ...prodKeys, NATS_TLS_CA_FILE: files.ca, NATS_CREDS_FILE: files.creds })).toEqual([
        "NODE_ENV=production needs TLS and credentials for NATS; missing: NATS_USER (the service's NATS user, which names its reply inboxes)",
      ]);
    });

    it('accepts each kind of credential with TLS, with or without a client certificate', () => {
      const tls = { NATS_TLS_CA_FILE: files.ca, NATS_USER: 'render' };
      const mutual = { ...tls, NATS_TLS_CERT_FILE: files.cert, NATS_TLS_KEY_FILE: files.key };
      expect(problemsOf({ ...prodKeys, ...tls, NATS_PASSWORD: 'pw' })).toEqual([]);
      expect(problemsOf({ ...prodKeys, ...mutual, NATS_NKEY_SEED_FILE: files.seed })).toEqual([]);
      expect(problemsOf({ ...prodKeys, ...mutual, NATS_CREDS_FILE: files.creds })).toEqual([]);
    });

    it('refuses the dev-only certificates of deploy/dev/tls', () => {
      const devTls = join(REPO_ROOT, 'deploy/dev/tls');
      const env = {
        ...prodKeys,
        NATS_USER: 'render',
        NATS_PASSWORD: 'pw',
        NATS_TLS_CA_FILE: join(devTls, 'ca.pem'),
        NATS_TLS_CERT_FILE: join(devTls, 'client.pem'),
        NATS_TLS_KEY_FILE: join(devTls, 'client-key.pem'),
      };
      expect(problemsOf(env)).toEqual([
        'NATS_TLS_CA_FILE: the dev-only certificates of deploy/dev/tls are refused when NODE_ENV=production',
        'NATS_TLS_CERT_FILE: the dev-only certificates of deploy/dev/tls are refused when NODE_ENV=production',
      ]);
      expect(problemsOf({ ...env, NODE_ENV: 'development' })).toEqual([]);
    });

    it('reports a set but unreadable CA as unreadable, not as missing, alongside the other problems', () => {
      expect(
        problemsOf({ ...prodKeys, NATS_TLS_CA_FILE: join(dir, 'gone.pem'), NATS_USER: 'render', HTTP_PORT: 'x' }),
      ).toEqual([
        `NATS_TLS_CA_FILE: cannot read ${join(dir, 'gone.pem')}`,
        expect.stringMatching(/^HTTP_PORT must be/),
        'NODE_ENV=production needs TLS and credentials for NATS; missing: a NATS credential (NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE)',
      ]);
    });
  });
});
