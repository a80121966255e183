import { readFileSync } from 'node:fs';
import { type ConnectionOptions, type NatsConnection, createInbox, credsAuthenticator, nkeyAuthenticator } from 'nats';

/**
 * The reply-inbox prefix of a NATS user: `_INBOX_<user>` (characters other than letters, digits, `_` and `-`
 * become `_`), so deploy/nats/nats-server.conf can let each user subscribe to its own replies only.
 * Without a user, nats.js's default `_INBOX` (local development and tests).
 */
export function inboxPrefixOf(user: string | undefined): string | undefined {
  return user ? `_INBOX_${user.replace(/[^A-Za-z0-9_-]/g, '_')}` : undefined;
}

/** User, password and that user's inbox prefix for `connect()`; nothing when no user is configured. */
export function natsCredentials(
  user: string | undefined,
  password: string | undefined,
): Pick<ConnectionOptions, 'user' | 'pass' | 'inboxPrefix'> {
  return user ? { user, pass: password, inboxPrefix: inboxPrefixOf(user) } : {};
}

/** How a process proves itself to NATS: the settings of the same names in libs/config (ARCHITECTURE.md §9). */
export interface NatsSecuritySettings {
  /** The user: the login with a password; with a seed or creds file only the name of the reply inboxes. */
  readonly natsUser?: string;
  readonly natsPassword?: string;
  readonly natsTlsCaFile?: string;
  readonly natsTlsCertFile?: string;
  readonly natsTlsKeyFile?: string;
  readonly natsNkeySeedFile?: string;
  readonly natsCredsFile?: string;
}

/** A file's content, read at every (re)connect: a rotated seed or creds file is used without a restart. */
function readAtConnect(file: string, trim = false): () => Uint8Array {
  return () => {
    const content = readFileSync(file);
    return new Uint8Array(trim ? Buffer.from(content.toString('utf8').trim(), 'utf8') : content);
  };
}

/**
 * The `connect()` options for one of the three kinds of credential (password, nkey seed, creds file), TLS with the
 * given CA and optional client certificate, and the user's inbox prefix. Nothing set gives plain anonymous NATS
 * (development and tests); libs/config refuses that in production. nats.js reads the TLS files at every connect.
 */
export function natsConnectionOptions(
  settings: NatsSecuritySettings,
): Pick<ConnectionOptions, 'user' | 'pass' | 'authenticator' | 'inboxPrefix' | 'tls'> {
  const { natsUser, natsPassword, natsTlsCaFile, natsTlsCertFile, natsTlsKeyFile } = settings;
  const options: Pick<ConnectionOptions, 'user' | 'pass' | 'authenticator' | 'inboxPrefix' | 'tls'> = {};
  if (settings.natsNkeySeedFile) {
    options.authenticator = nkeyAuthenticator(readAtConnect(settings.natsNkeySeedFile, true));
    options.inboxPrefix = inboxPrefixOf(natsUser);
  } else if (settings.natsCredsFile) {
    options.authenticator = credsAuthenticator(readAtConnect(settings.natsCredsFile));
    options.inboxPrefix = inboxPrefixOf(natsUser);
  } else {
    Object.assign(options, natsCredentials(natsUser, natsPassword));
  }
  if (natsTlsCaFile || natsTlsCertFile) {
    options.tls = {
      ...(natsTlsCaFile ? { caFile: natsTlsCaFile } : {}),
      ...(natsTlsCertFile ? { certFile: natsTlsCertFile, keyFile: natsTlsKeyFile } : {}),
    };
  }
  if (options.inboxPrefix === undefined) delete options.inboxPrefix;
  return options;
}

/** A new inbox under the connection's own prefix, for code that subscribes to replies itself. */
export function connectionInbox(connection: NatsConnection): string {
  return createInbox((connection as NatsConnection & { options?: ConnectionOptions }).options?.inboxPrefix);
}
