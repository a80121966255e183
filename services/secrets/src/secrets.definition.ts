import { type DynamicModule, Module, type OnApplicationShutdown } from '@nestjs/common';
import {
  type Environment,
  REPO_ROOT,
  databaseSettings,
  enumSetting,
  integerSetting,
  keyMaterialSetting,
  loadServiceConfig,
} from '@platform/config';
import { ForwardedTokenVerifier, type PlatformContext, type ServiceDefinition } from '@platform/messaging';
import { ExposureLog } from './exposure/exposure-log';
import { SecretResolver } from './resolve/secret-resolver';
import { DeploymentIndex } from './secrets/deployment-index';
import { SecretsHandler } from './secrets/secrets.handler';
import { SecretsRequestHooks } from './secrets/secrets-request-hooks';
import { SecretsMetrics } from './secrets/secrets.metrics';
import { secretsErrorMappers } from './secrets/secrets.error';
import { SecretsService } from './secrets/secrets.service';
import { StoreAvailability } from './secrets/store-availability';
import { type SecretsServiceSettings, SecretsRuntime } from './secrets-runtime';

/** Closes the runtime when Nest shuts down (after the transport stopped taking requests). */
class RuntimeLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly runtime: SecretsRuntime,
    private readonly forwarded: ForwardedTokenVerifier,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.forwarded.close();
    await this.runtime.close();
  }
}

@Module({})
class SecretsModule {
  static forContext(context: PlatformContext, settings: SecretsServiceSettings): DynamicModule {
    const from = <T>(pick: (runtime: SecretsRuntime) => T) => ({ useFactory: pick, inject: [SecretsRuntime] });
    return {
      module: SecretsModule,
      controllers: [SecretsHandler],
      providers: [
        { provide: SecretsRuntime, useFactory: () => SecretsRuntime.start(context, settings) },
        {
          provide: ForwardedTokenVerifier,
          useFactory: () => ForwardedTokenVerifier.create(context.config, context.logger),
        },
        {
          provide: RuntimeLifecycle,
          useFactory: (runtime: SecretsRuntime, forwarded: ForwardedTokenVerifier) =>
            new RuntimeLifecycle(runtime, forwarded),
          inject: [SecretsRuntime, ForwardedTokenVerifier],
        },
        { provide: SecretsService, ...from((runtime) => runtime.secrets) },
        { provide: SecretResolver, ...from((runtime) => runtime.resolver) },
        { provide: DeploymentIndex, ...from((runtime) => runtime.deployments) },
        { provide: ExposureLog, ...from((runtime) => runtime.exposures) },
        { provide: SecretsMetrics, ...from((runtime) => runtime.metrics) },
        { provide: StoreAvailability, ...from((runtime) => runtime.availability) },
        SecretsRequestHooks,
      ],
    };
  }
}

/** The secrets service's configuration (ARCHITECTURE.md §9), validated once; also used by the ops commands. */
export function loadSecretsConfig(env: Environment = process.env) {
  return loadServiceConfig(
    'secrets',
    {
      ...databaseSettings,
      masterKeys: keyMaterialSetting('SECRETS_MASTER_KEYS', 'deploy/dev/master-keys.json', REPO_ROOT),
      publishWaitMs: integerSetting('SECRETS_PUBLISH_WAIT_MS', { default: 5_000, min: 100, max: 60_000 }),
      unboundValues: enumSetting('SECRETS_UNBOUND_VALUES', ['accept', 'refuse'] as const, 'accept'),
      replySigningKey: keyMaterialSetting('SECRETS_REPLY_SIGNING_KEY', 'deploy/dev/reply-signing-key.json', REPO_ROOT),
      // SecretExpiring this long before a value expires (7 days), at most a year.
      expiryLeadSeconds: integerSetting('SECRETS_EXPIRY_LEAD_SECONDS', { default: 604_800, min: 0, max: 31_536_000 }),
      expiryScanSeconds: integerSetting('SECRETS_EXPIRY_SCAN_SECONDS', { default: 30, min: 1, max: 3_600 }),
    },
    env,
  );
}

export function secretsService(env: Environment = process.env): ServiceDefinition {
  const config = loadSecretsConfig(env);
  return {
    name: 'secrets',
    config,
    scopes: [],
    streams: ['SECRETS_EVENTS', 'DEPLOYMENTS_EVENTS'],
    errorMappers: secretsErrorMappers,
    requestHooks: SecretsRequestHooks,
    module: (context) => SecretsModule.forContext(context, config),
  };
}
