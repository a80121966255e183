import type { NatsConnection, Subscription } from 'nats';

/** The server refused subscriptions a service cannot work without: its NATS user lacks the permission. */
export class SubscriptionRefused extends Error {
  constructor(readonly subjects: readonly string[]) {
    super(`NATS refused the subscription to ${subjects.join(', ')} (permissions violation): grant it to this user`);
    this.name = 'SubscriptionRefused';
  }
}

/**
 * Resolves once the server holds every one of `subscriptions`, or throws SubscriptionRefused naming those it refused.
 * The server answers a refused SUB with an error before the PONG of the flush that follows it, and nats.js closes the
 * subscription on that error; so after the flush a refused subscription is a closed one.
 */
export async function confirmSubscriptions(
  connection: NatsConnection,
  subscriptions: readonly Subscription[],
): Promise<void> {
  await connection.flush();
  const refused = subscriptions.filter((subscription) => subscription.isClosed()).map((s) => s.getSubject());
  if (refused.length > 0) throw new SubscriptionRefused(refused);
}
