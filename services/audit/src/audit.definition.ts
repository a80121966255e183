import {
  type DynamicModule,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { type Environment, databaseSettings, loadServiceConfig } from '@platform/config';
import { PlatformContext, type ServiceDefinition } from '@platform/messaging';
import { auditErrorMapper } from './audit.error';
import { AuditLag } from './audit-lag';
import { AuditMetrics } from './audit-metrics';
import { migrateAuditDatabase } from './database/audit-migrations';
import { AuditController } from './query/audit.controller';
import { AuditTrail } from './query/audit-trail';
import { AuditStore } from './records/audit-store';
import { AuditEventConsumer } from './stream/audit-consumer';
import { auditLagSources } from './stream/audit-stream';

const DATABASE_URL = Symbol('audit database url');

/** Starts applying SECRETS_EVENTS once the app is up, and stops before the NATS connection drains. */
@Injectable()
class AuditLifecycle implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly consumer: AuditEventConsumer;

  constructor(
    private readonly platform: PlatformContext,
    private readonly store: AuditStore,
    metrics: AuditMetrics,
  ) {
    this.consumer = new AuditEventConsumer({
      nats: platform.nats,
      subjectPrefix: platform.config.subjectPrefix,
      store,
      logger: platform.logger.child({ component: 'audit-consumer' }),
      metrics,
    });
    platform.readiness.register('postgres', () => store.isHealthy());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.platform.setUpAtStart('consuming SECRETS_EVENTS', () => this.consumer.start());
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

@Module({})
class AuditModule {
  static forDatabase(databaseUrl: string): DynamicModule {
    return {
      module: AuditModule,
      controllers: [AuditController],
      providers: [
        { provide: DATABASE_URL, useValue: databaseUrl },
        {
          provide: AuditStore,
          inject: [DATABASE_URL],
          // Migrations run before the store serves anything (ARCHITECTURE.md §5).
          useFactory: async (url: string) => {
            await migrateAuditDatabase(url);
            return AuditStore.open(url);
          },
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
  const config = loadServiceConfig('audit', databaseSettings, env);
  return {
    name: 'audit',
    config,
    scopes: [],
    streams: ['SECRETS_EVENTS'],
    module: () => AuditModule.forDatabase(config.databaseUrl),
    errorMappers: [auditErrorMapper],
  };
}
