import { type NatsConnection, type Subscription } from 'nats';
import { type Logger } from 'pino';
import { IDENTIFIER_PATTERN, confirmSubscriptions } from '@platform/messaging';
import { ORGANIZATION_PURGED } from '../secrets/secret';

/** What this instance holds of an organization in memory: its unwrapped data keys and decrypted values. */
export interface OrganizationCaches {
  forgetOrganization(organizationId: string): void;
  forgetAll(): void;
}

/** The purged organization named by a `secrets.events.<org>.OrganizationPurged` message, if it names a valid one. */
export function purgedOrganizationOf(payload: Uint8Array): string | undefined {
  try {
    const { type, organizationId } = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    if (type !== ORGANIZATION_PURGED || typeof organizationId !== 'string') return undefined;
    return IDENTIFIER_PATTERN.test(organizationId) ? organizationId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every instance listens (no queue group) for `OrganizationPurged` as the outbox publishes it to SECRETS_EVENTS and
 * drops the organization's cached keys and plaintext values at once, instead of keeping them for the caches' TTLs.
 * While disconnected it may miss one, so a reconnect drops everything. Writes never depend on it: an append under a
 * purged key is refused by the database (data-key-guard) and sealed again.
 */
export class PurgeListener {
  private subscription?: Subscription;

  constructor(
    private readonly nats: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly caches: readonly OrganizationCaches[],
    private readonly logger: Logger,
  ) {}

  /**
   * Resolves once the server has the subscription, so no purge published after this point is missed; throws
   * SubscriptionRefused when the server refuses it, so that an instance that would never hear a purge does not start.
   */
  async start(): Promise<void> {
    const subscription = this.nats.subscribe(`${this.subjectPrefix}secrets.events.*.${ORGANIZATION_PURGED}`, {
      callback: (error, message) => {
        if (error) return this.logger.warn({ err: error }, 'OrganizationPurged subscription failed');
        const organizationId = purgedOrganizationOf(message.data);
        if (organizationId === undefined) return this.forgetAll('an unreadable OrganizationPurged message');
        for (const cache of this.caches) cache.forgetOrganization(organizationId);
        this.logger.info({ organizationId }, 'organization purged: dropped its cached data keys and values');
      },
    });
    await confirmSubscriptions(this.nats, [subscription]);
    this.subscription = subscription;
    void this.watchReconnects();
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Ends with the connection, or at the first status after `stop`. */
  private async watchReconnects(): Promise<void> {
    for await (const status of this.nats.status()) {
      if (this.subscription === undefined) return;
      if (status.type === 'reconnect') this.forgetAll('reconnected to NATS (a purge may have been missed)');
    }
  }

  private forgetAll(reason: string): void {
    for (const cache of this.caches) cache.forgetAll();
    this.logger.warn({ reason }, 'dropped every cached data key and value');
  }
}
