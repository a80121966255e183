import { type NatsConnection, type Subscription } from 'nats';
import { type Logger } from 'pino';
import { IDENTIFIER_PATTERN, confirmSubscriptions } from '@platform/messaging';
import { CUSTOMER_PURGED, ORGANIZATION_PURGED, SECRET_VERSIONS_DESTROYED } from '../secrets/secret';
import { assertValidKey } from '../secrets/secret.decider';
import { secretStreamId } from '../secrets/secret-stream';

/** What this instance holds of a scope in memory: unwrapped data keys, decrypted values. */
export interface OrganizationCaches {
  forgetOrganization(organizationId: string): void;
  forgetCustomer(organizationId: string, customerOrganizationId: string): void;
  /** Values only: destroyed versions leave their data keys in place. */
  forgetVersions?(streamId: string, versions: readonly number[]): void;
  forgetAll(): void;
}

/** What a shredding event on `secrets.events.<org>.<Type>` makes this instance forget. */
export type Shredded =
  | { readonly kind: 'organization'; readonly organizationId: string }
  | { readonly kind: 'customer'; readonly organizationId: string; readonly customerOrganizationId: string }
  | { readonly kind: 'versions'; readonly streamId: string; readonly versions: readonly number[] };

/** The events every instance hears (no queue group), as their subjects' last token. */
export const SHREDDING_EVENT_TYPES = [ORGANIZATION_PURGED, CUSTOMER_PURGED, SECRET_VERSIONS_DESTROYED] as const;

const identifier = (value: unknown): value is string => typeof value === 'string' && IDENTIFIER_PATTERN.test(value);

function validKey(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    assertValidKey(value);
    return true;
  } catch {
    return false;
  }
}

/** What a shredding message names, if it is one and names valid scopes; undefined otherwise (forget everything). */
export function shreddedBy(payload: Uint8Array): Shredded | undefined {
  try {
    const event = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown> | null;
    if (event === null || typeof event !== 'object' || !identifier(event.organizationId)) return undefined;
    const { type, organizationId, customerOrganizationId, key, destroyedVersions } = event;
    switch (type) {
      case ORGANIZATION_PURGED:
        return { kind: 'organization', organizationId };
      case CUSTOMER_PURGED:
        return identifier(customerOrganizationId)
          ? { kind: 'customer', organizationId, customerOrganizationId }
          : undefined;
      case SECRET_VERSIONS_DESTROYED: {
        const customer = customerOrganizationId ?? null;
        if ((customer !== null && !identifier(customer)) || !validKey(key) || !Array.isArray(destroyedVersions)) {
          return undefined;
        }
        if (!destroyedVersions.every((version) => Number.isInteger(version))) return undefined;
        const streamId = secretStreamId({ organizationId, customerOrganizationId: customer }, key);
        return { kind: 'versions', streamId, versions: destroyedVersions as number[] };
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** The purged organization named by a `secrets.events.<org>.OrganizationPurged` message, if it names a valid one. */
export function purgedOrganizationOf(payload: Uint8Array): string | undefined {
  const shredded = shreddedBy(payload);
  return shredded?.kind === 'organization' ? shredded.organizationId : undefined;
}

/**
 * Every instance listens (no queue group) for `OrganizationPurged`, `CustomerPurged` and `SecretVersionsDestroyed` as
 * the outbox publishes them to SECRETS_EVENTS and drops the scope's cached keys and plaintext values (the versions'
 * values) at once, instead of keeping them for the caches' TTLs. While disconnected it may miss one, so a reconnect
 * drops everything. Writes never depend on it: an append under a purged key is refused by the database
 * (data-key-guard) and sealed again.
 */
export class PurgeListener {
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly nats: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly caches: readonly OrganizationCaches[],
    private readonly logger: Logger,
  ) {}

  /**
   * Resolves once the server has the subscriptions, so no purge published after this point is missed; throws
   * SubscriptionRefused when the server refuses one, so that an instance that would never hear a purge does not start.
   */
  async start(): Promise<void> {
    const subscriptions = SHREDDING_EVENT_TYPES.map((type) =>
      this.nats.subscribe(`${this.subjectPrefix}secrets.events.*.${type}`, {
        callback: (error, message) => {
          if (error) return this.logger.warn({ err: error, type }, 'shredding event subscription failed');
          const shredded = shreddedBy(message.data);
          if (shredded === undefined) return this.forgetAll(`an unreadable ${type} message`);
          this.forget(shredded);
        },
      }),
    );
    await confirmSubscriptions(this.nats, subscriptions);
    this.subscriptions = subscriptions;
    void this.watchReconnects();
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }

  private forget(shredded: Shredded): void {
    switch (shredded.kind) {
      case 'organization':
        for (const cache of this.caches) cache.forgetOrganization(shredded.organizationId);
        return this.logger.info(
          { organizationId: shredded.organizationId },
          'organization purged: dropped its cached data keys and values',
        );
      case 'customer':
        for (const cache of this.caches) cache.forgetCustomer(shredded.organizationId, shredded.customerOrganizationId);
        return this.logger.info(
          { organizationId: shredded.organizationId, customerOrganizationId: shredded.customerOrganizationId },
          'customer purged: dropped its cached data keys and values',
        );
      case 'versions':
        for (const cache of this.caches) cache.forgetVersions?.(shredded.streamId, shredded.versions);
        return;
      default: {
        const _exhaustive: never = shredded;
        return _exhaustive;
      }
    }
  }

  /** Ends with the connection, or at the first status after `stop`. */
  private async watchReconnects(): Promise<void> {
    for await (const status of this.nats.status()) {
      if (this.subscriptions.length === 0) return;
      if (status.type === 'reconnect') this.forgetAll('reconnected to NATS (a purge may have been missed)');
    }
  }

  private forgetAll(reason: string): void {
    for (const cache of this.caches) cache.forgetAll();
    this.logger.warn({ reason }, 'dropped every cached data key and value');
  }
}
