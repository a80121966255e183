import { type KeyMaterial } from '@platform/config';
import { STALING_EVENT_TYPES } from '@platform/contracts';
import { DataKeyRing, type DataKeyRingOptions, MasterKeyRing, ReplySigner } from '@platform/crypto';
import { OutboxPublisher, type PostgresEventStore } from '@platform/event-store';
import { type PlatformContext } from '@platform/messaging';
import { ExposureLog } from './exposure/exposure-log';
import { PostgresDataKeyStore } from './keys/data-key.repository';
import { PurgeListener } from './keys/purge-listener';
import { watchOutboxCheckpoint } from './outbox/outbox-checkpoint-health';
import { SecretEventPublisher } from './outbox/secret-event-publisher';
import { SecretPublication } from './outbox/secret-publication';
import { DEPLOYMENTS_STALE_OUTBOX, StaleDeploymentsPublisher } from './outbox/stale-deployments-publisher';
import { AccessLog } from './resolve/access-log';
import { ResolveReplySealer } from './resolve/reply-sealer';
import { SecretResolver } from './resolve/secret-resolver';
import { ValueCache } from './resolve/value-cache';
import { DeploymentIndex } from './secrets/deployment-index';
import { IdempotencyStore } from './secrets/idempotency';
import { SecretsMetrics } from './secrets/secrets.metrics';
import { SecretsService } from './secrets/secrets.service';
import { StoreAvailability } from './secrets/store-availability';
import { openSecretsStore } from './secrets.migrations';
import { ExpiryScheduler } from './expiry/expiry-scheduler';

const PRUNE_INTERVAL_MS = 10 * 60_000;
/** How often the stale outbox reads the changes since its checkpoint (ARCHITECTURE.md §3, stale notifications). */
const STALE_POLL_MS = 1000;
/** Connections per instance: writes take one per transaction, and resolve appends one access event per call. */
const POOL_SIZE = 20;

export interface SecretsSettings {
  readonly databaseUrl: string;
  readonly masterKeys: KeyMaterial;
}

/** The running service's settings: the store's, and how it answers. */
export interface SecretsServiceSettings extends SecretsSettings {
  /** SECRETS_PUBLISH_WAIT_MS: how long a write or resolve waits for its event to reach SECRETS_EVENTS. */
  readonly publishWaitMs: number;
  /** SECRETS_UNBOUND_VALUES: `refuse` once `secrets values rebind` ran, so no value of before #16 is accepted. */
  readonly unboundValues: 'accept' | 'refuse';
  /** SECRETS_REPLY_SIGNING_KEY: the private EC P-256 JWK resolve replies are signed with (callers pin its public half). */
  readonly replySigningKey: KeyMaterial;
  /** SECRETS_EXPIRY_LEAD_SECONDS: SecretExpiring is appended this long before a value expires. */
  readonly expiryLeadSeconds: number;
  /** SECRETS_EXPIRY_SCAN_SECONDS: how often each instance looks for expiry notices due. */
  readonly expiryScanSeconds: number;
}

/** The reply-signing key; a key that cannot sign ES256 stops the start, naming the variable (never the key). */
function replySigner(material: KeyMaterial): ReplySigner {
  try {
    return ReplySigner.fromJwk(material.json);
  } catch (error) {
    throw new Error(`SECRETS_REPLY_SIGNING_KEY: ${(error as Error).message}`);
  }
}

/** The active (first) master key's bytes, from which the idempotency fingerprint key is derived. */
export function activeMasterKeyBytes(masterKeys: KeyMaterial): Buffer {
  const [first] = (masterKeys.json as { keys?: Array<{ k?: unknown }> }).keys ?? [];
  if (typeof first?.k !== 'string') throw new Error('SECRETS_MASTER_KEYS: the first key has no "k"');
  return Buffer.from(first.k, 'base64url');
}

/** Opens the key ring over the store's `data_key` table with the configured master keys. */
export async function openKeyRing(
  store: PostgresEventStore,
  masterKeys: KeyMaterial,
  options: DataKeyRingOptions = {},
): Promise<DataKeyRing> {
  return new DataKeyRing(await MasterKeyRing.fromJwks(masterKeys.json), new PostgresDataKeyStore(store), options);
}

/** The outbox's checkpoint name (and so its lock): SECRETS_EVENTS's publisher. */
export const SECRETS_OUTBOX = 'secrets-events';

/** Everything the secrets service runs on, opened once at boot and closed at shutdown. */
export class SecretsRuntime {
  private pruneTimer?: NodeJS.Timeout;
  private purgeListener?: PurgeListener;
  private expiry?: ExpiryScheduler;

  private constructor(
    readonly store: PostgresEventStore,
    readonly keyRing: DataKeyRing,
    readonly secrets: SecretsService,
    readonly resolver: SecretResolver,
    readonly deployments: DeploymentIndex,
    readonly exposures: ExposureLog,
    /** Decrypted values of resolve, dropped per scope on a purge and per version when destroyed. */
    readonly values: ValueCache,
    readonly outbox: OutboxPublisher,
    /** Publishes stale notifications to DEPLOYMENTS_EVENTS from the same events, with its own checkpoint. */
    readonly staleOutbox: OutboxPublisher,
    readonly metrics: SecretsMetrics,
    readonly availability: StoreAvailability,
    private readonly idempotency: IdempotencyStore,
    private readonly platform: PlatformContext,
  ) {}

  static async start(platform: PlatformContext, settings: SecretsServiceSettings): Promise<SecretsRuntime> {
    const store = await openSecretsStore(settings.databaseUrl, {
      poolSize: POOL_SIZE,
      logger: platform.logger.child({ component: 'event-store' }),
    });
    try {
      const keyRing = await openKeyRing(store, settings.masterKeys, {
        refuseUnbound: settings.unboundValues === 'refuse',
      });
      const idempotency = new IdempotencyStore(store, activeMasterKeyBytes(settings.masterKeys));
      const cache = new ValueCache();
      const publisher = new SecretEventPublisher(platform.nats.jetstream(), platform.config.subjectPrefix);
      const outbox = new OutboxPublisher(store, {
        name: SECRETS_OUTBOX,
        publish: (event, previous) => publisher.publish(event, previous),
        // Writes wait for their event's PubAck: one JetStream round trip per batch, not per event.
        pipelined: true,
        logger: platform.logger.child({ component: 'outbox' }),
      });
      const stale = new StaleDeploymentsPublisher(store, platform.nats.jetstream(), platform.config.subjectPrefix);
      const staleOutbox = new OutboxPublisher(store, {
        name: DEPLOYMENTS_STALE_OUTBOX,
        publish: (event) => stale.publish(event),
        // A redeploy can wait a second: one read per second for every change since, not two queries per commit
        // (resolves commit an access event each, which this outbox passes over without reading its data).
        wakeOnAppend: false,
        eventTypes: STALING_EVENT_TYPES,
        pollIntervalMs: STALE_POLL_MS,
        logger: platform.logger.child({ component: 'stale-outbox' }),
      });
      const publication = new SecretPublication(outbox, settings.publishWaitMs);
      const availability = new StoreAvailability(() => store.isHealthy());
      const metrics = new SecretsMetrics(platform.metrics, cache);
      const runtime = new SecretsRuntime(
        store,
        keyRing,
        new SecretsService(store, keyRing, idempotency, publication),
        new SecretResolver(
          store,
          keyRing,
          cache,
          new AccessLog(store),
          new ResolveReplySealer(replySigner(settings.replySigningKey)),
          publication,
        ),
        new DeploymentIndex(store, publication),
        new ExposureLog(store, publication, (scope) => metrics.exposures.inc({ scope })),
        cache,
        outbox,
        staleOutbox,
        metrics,
        availability,
        idempotency,
        platform,
      );
      platform.readiness.register('postgres', () => store.isHealthy());
      watchOutboxCheckpoint(outbox, platform.readiness, platform.metrics);
      availability.start();
      runtime.purgeListener = new PurgeListener(
        platform.nats,
        platform.config.subjectPrefix,
        [keyRing, cache],
        platform.logger.child({ component: 'purge-listener' }),
      );
      await runtime.purgeListener.start();
      await outbox.start();
      runtime.expiry = new ExpiryScheduler(
        store,
        { leadMs: settings.expiryLeadSeconds * 1000, scanIntervalMs: settings.expiryScanSeconds * 1000 },
        platform.logger.child({ component: 'expiry' }),
      );
      runtime.expiry.start();
      await staleOutbox.start();
      runtime.pruneTimer = setInterval(() => void runtime.pruneIdempotencyKeys(), PRUNE_INTERVAL_MS).unref();
      return runtime;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  async pruneIdempotencyKeys(): Promise<void> {
    try {
      const pruned = await this.idempotency.prune();
      if (pruned > 0) this.platform.logger.info({ pruned }, 'pruned expired idempotency keys');
    } catch (error) {
      this.platform.logger.warn({ err: error }, 'could not prune idempotency keys');
    }
  }

  /** Publishes what is committed, stops the outbox, and closes the database pool. */
  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.expiry?.stop();
    this.purgeListener?.stop();
    this.availability.stop();
    await this.staleOutbox.stop();
    await this.outbox.stop();
    await this.store.close();
  }
}
