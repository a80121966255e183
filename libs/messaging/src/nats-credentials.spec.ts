import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Authenticator, type ConnectionOptions, nkeys } from 'nats';
import { inboxPrefixOf, natsConnectionOptions, natsCredentials } from './nats-credentials';

describe('NATS credentials', () => {
  it('gives a user its own reply-inbox prefix, and keeps nats.js defaults without a user', () => {
    expect(natsCredentials('render', 'pw')).toEqual({ user: 'render', pass: 'pw', inboxPrefix: '_INBOX_render' });
    expect(natsCredentials('', 'pw')).toEqual({});
    expect(natsCredentials(undefined, undefined)).toEqual({});
  });

  it('turns characters that are not safe in one subject token into _', () => {
    expect(inboxPrefixOf('team.a>*')).toBe('_INBOX_team_a__');
    expect(inboxPrefixOf('ops-eu_1')).toBe('_INBOX_ops-eu_1');
  });
});

/** The one authenticator the options carry. */
const authenticate = (options: Pick<ConnectionOptions, 'authenticator'>) => options.authenticator as Authenticator;

describe('NATS connection options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nats-options-spec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives nothing at all without settings: plain, anonymous NATS with the default inbox', () => {
    expect(natsConnectionOptions({})).toEqual({});
  });

  it('keeps the password kind as before, and adds TLS with a CA and an optional client certificate', () => {
    expect(natsConnectionOptions({ natsUser: 'render', natsPassword: 'pw', natsTlsCaFile: '/tls/ca.pem' })).toEqual({
      user: 'render',
      pass: 'pw',
      inboxPrefix: '_INBOX_render',
      tls: { caFile: '/tls/ca.pem' },
    });
    const mutual = { natsTlsCaFile: '/ca', natsTlsCertFile: '/crt', natsTlsKeyFile: '/key' };
    expect(natsConnectionOptions(mutual)).toEqual({ tls: { caFile: '/ca', certFile: '/crt', keyFile: '/key' } });
  });

  it('signs the server nonce with the seed, re-read at every connect, and names the inbox after NATS_USER', () => {
    const seedFile = join(dir, 'render.nk');
    const first = nkeys.createUser();
    writeFileSync(seedFile, `${new TextDecoder().decode(first.getSeed())}\n`);
    const options = natsConnectionOptions({ natsUser: 'render', natsNkeySeedFile: seedFile });
    expect(options).toMatchObject({ inboxPrefix: '_INBOX_render' });
    expect(options.user).toBeUndefined();
    const nonce = 'server-nonce-1';
    const auth = authenticate(options)(nonce) as { nkey: string; sig: string };
    expect(auth.nkey).toBe(first.getPublicKey());
    expect(first.verify(new TextEncoder().encode(nonce), nkeys.decode(auth.sig))).toBe(true);
    const rotated = nkeys.createUser();
    writeFileSync(seedFile, new TextDecoder().decode(rotated.getSeed()));
    expect((authenticate(options)(nonce) as { nkey: string }).nkey).toBe(rotated.getPublicKey());
  });

  it('sends the JWT of a creds file and signs with its seed', () => {
    const user = nkeys.createUser();
    const jwt = 'eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVIn0.c2ln';
    const credsFile = join(dir, 'render.creds');
    writeFileSync(
      credsFile,
      `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
        `-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(user.getSeed())}\n------END USER NKEY SEED------\n`,
    );
    const options = natsConnectionOptions({ natsCredsFile: credsFile });
    expect(options.inboxPrefix).toBeUndefined();
    const auth = authenticate(options)('n') as { jwt: string; nkey: string; sig: string };
    expect(auth.jwt).toBe(jwt);
    expect(user.verify(new TextEncoder().encode('n'), nkeys.decode(auth.sig))).toBe(true);
  });
});
