import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { type Environment } from '@platform/config';
import { PlatformContext, type ServiceDefinition } from '@platform/messaging';
import { auditErrorMapper } from './audit.error';
import { AuditLag } from './audit-lag';
import { AuditMetrics } from './audit-metrics';
import { loadAuditConfig } from './audit-settings';
import { AuditCheckpoints } from './checkpoints/audit-checkpoints';
import { type CheckpointSigner, type CheckpointVerifier } from './checkpoints/checkpoint';
import { CheckpointPublisher } from './checkpoints/checkpoint-publisher';
import { ensureCheckpointStream } from './checkpoints/checkpoint-stream';
import { migrateAuditDatabase } from './database/audit-migrations';
import { AuditController } from './query/audit.controller';
import { AuditTrail } from './query/audit-trail';
import { AuditStore } from './records/audit-store.repository';
import { AuditEventConsumer } from './stream/audit-consumer';
import { auditLagSources } from './stream/audit-stream';

const AUDIT_CONFIG = Symbol('audit configuration');

interface AuditModuleOptions {
  readonly databaseUrl: string;
  readonly signer: CheckpointSigner;
  readonly verifier: CheckpointVerifier;
  readonly checkpointIntervalSeconds: number;
}

/**
 * Applies SECRETS_EVENTS once the app is up and stops before the NATS connection drains; while this instance is the
 * applier, signs changed chain heads every AUDIT_CHECKPOINT_INTERVAL_SECONDS and once more on shutdown.
 */
@Injectable()
class AuditLifecycle implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly consumer: AuditEventConsumer;
  private readonly publisher: CheckpointPublisher;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> = Promise.resolve();
  private signing = false;

  constructor(
    private readonly platform: PlatformContext,
    private readonly store: AuditStore,
    private readonly checkpoints: AuditCheckpoints,
    @Inject(AUDIT_CONFIG) private readonly options: AuditModuleOptions,
    metrics: AuditMetrics,
  ) {
    this.consumer = new AuditEventConsumer({
      nats: platform.nats,
      subjectPrefix: platform.config.subjectPrefix,
      store,
      logger: platform.logger.child({ component: 'audit-consumer' }),
      metrics,
    });
    this.publisher = new CheckpointPublisher({
      nats: platform.nats,
      subjectPrefix: platform.config.subjectPrefix,
      store,
      signer: checkpoints.signer,
      verifier: checkpoints.verifier,
      logger: platform.logger.child({ component: 'audit-checkpoints' }),
      metrics,
    });
    platform.readiness.register('postgres', () => store.isHealthy());
    // Every instance reads the recorded gaps, so none reports ready while the trail is stopped at a deleted event.
    platform.readiness.register('secrets_events_complete', async () => (await store.openStreamGaps()).length === 0);
  }

  async onApplicationBootstrap(): Promise<void> {
    const { nats, config } = this.platform;
    await this.platform.setUpAtStart('setting up stream AUDIT_CHECKPOINTS', async () =>
      ensureCheckpointStream(await nats.jetstreamManager(), config.subjectPrefix, config.jetStreamReplicas),
    );
    await this.platform.setUpAtStart('consuming SECRETS_EVENTS', () => this.consumer.start());
    this.timer = setInterval(() => {
      // A round slower than the interval (NATS answering slowly) is not queued behind: the next tick retries.
      if (this.consumer.isApplier && !this.signing) void this.signRound();
    }, this.options.checkpointIntervalSeconds * 1000);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    const wasApplier = this.consumer.isApplier;
    await this.consumer.stop();
    // What this instance applied last is signed before it goes.
    if (wasApplier) await this.signRound();
    await this.round;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /** One round at a time; a round that fails is logged and the next one tries again. */
  private signRound(): Promise<unknown> {
    this.round = this.round.then(async () => {
      this.signing = true;
      try {
        await this.publisher.publishChanged();
      } catch (error) {
        this.platform.logger.warn({ err: error }, 'signing audit checkpoints failed; retrying at the next interval');
      } finally {
        this.signing = false;
      }
    });
    return this.round;
  }
}

@Module({})
class AuditModule {
  static forOptions(options: AuditModuleOptions): DynamicModule {
    return {
      module: AuditModule,
      controllers: [AuditController],
      providers: [
        { provide: AUDIT_CONFIG, useValue: options },
        {
          provide: AuditStore,
          inject: [AUDIT_CONFIG],
          // Migrations run before the store serves anything (ARCHITECTURE.md §5).
          useFactory: async ({ databaseUrl }: AuditModuleOptions) => {
            await migrateAuditDatabase(databaseUrl);
            return AuditStore.open(databaseUrl);
          },
        },
        {
          provide: AuditCheckpoints,
          inject: [PlatformContext, AUDIT_CONFIG],
          useFactory: (p: PlatformContext, { signer, verifier }: AuditModuleOptions) =>
            new AuditCheckpoints(p.nats, p.config.subjectPrefix, signer, verifier),
        },
        {
          provide: AuditMetrics,
          inject: [PlatformContext, AuditStore],
          useFactory: (p: PlatformContext, store: AuditStore) =>
            new AuditMetrics(p.metrics, new AuditLag(auditLagSources(p.nats, p.config.subjectPrefix, store))),
        },
        AuditTrail,
        AuditLifecycle,
      ],
    };
  }
}

/** The audit service: the audit trail of SECRETS_EVENTS, `audit.v1.query` and `audit.v1.verify`. */
export function auditService(env: Environment = process.env): ServiceDefinition {
  const { config, signer, verifier } = loadAuditConfig(env);
  return {
    name: 'audit',
    config,
    scopes: [],
    streams: ['SECRETS_EVENTS'],
    module: () =>
      AuditModule.forOptions({
        databaseUrl: config.databaseUrl,
        signer,
        verifier,
        checkpointIntervalSeconds: config.checkpointIntervalSeconds,
      }),
    errorMappers: [auditErrorMapper],
  };
}
