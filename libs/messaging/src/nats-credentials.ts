import { type ConnectionOptions, type NatsConnection, createInbox } from 'nats';

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

/** A new inbox under the connection's own prefix, for code that subscribes to replies itself. */
export function connectionInbox(connection: NatsConnection): string {
  return createInbox((connection as NatsConnection & { options?: ConnectionOptions }).options?.inboxPrefix);
}
